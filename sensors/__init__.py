"""Sensor and schedule: new snapshots become partitions, new or replaced files new data versions of
``warc_files``; declarative automation (curation_assets/automation.py) does the rest.

The sensor keeps, in its cursor, the fingerprint of every shard's file list it has seen and the tick that
last verified each snapshot. A tick lists the crawl root, then lists and fingerprints snapshots, new ones
first and then the least recently verified, for up to ``TICK_BUDGET_SECONDS`` (Dagster stops a sensor's
evaluation at 60 s); it registers the new snapshots among them, and records a ``warc_files`` observation
(data version = fingerprint) for each shard whose fingerprint differs from the cursor and from the version
the instance already recorded (or, never recorded, from the files its stored documents shard came from). It
requests no run itself: the automation sensor requests ``documents`` for exactly those shards, and their
downstream follows as data versions change. A tick that sees nothing new records nothing, so ticks are idempotent.
"""


import json

import dagster as dg

from curation_assets.crawl_state import changed_versions
from curation_assets.partitions import SNAPSHOTS
from curation_assets.settings import current
from resources import CrawlSourceResource, StorageResource

from curation_assets.constants import OBSERVE_JOB  # the job the schedule runs
#: a tick lists and fingerprints snapshots, most overdue first, until this many seconds have passed (at least
#: one snapshot a tick): at Common Crawl scale (100 snapshots x 90,000 files, about 1 s of CPU and 101 S3
#: listings each) a tick over every snapshot takes minutes, so the snapshots are verified in rotation
#: (docs/dagster_scale.md)
TICK_BUDGET_SECONDS = 30.0
#: what storing one observation costs the sensor daemon (one write each, after the tick): charged against the
#: budget, so a tick that finds a new snapshot (512 observations, 32 s on the bench machine) lists no further
RECORD_COST_SECONDS = 0.06


def _status() -> dg.DefaultSensorStatus:
    """Stopped unless CURATION_SENSOR=on (turn it on in the UI's Automation tab otherwise)."""
    return dg.DefaultSensorStatus.RUNNING if current().sensor else dg.DefaultSensorStatus.STOPPED


def due_order(snapshots: list[str], checked: dict) -> list[str]:
    """Snapshots in the order a tick verifies them: never verified first, then the least recently verified."""
    return sorted(snapshots, key=lambda s: (s in checked, checked[s]["tick"] if s in checked else 0))


def load_cursor(raw: str | None) -> dict:
    """{"tick": n, "snapshots": {snapshot: {"tick": tick last verified, "shards": {shard: fingerprint}}}}; an
    older cursor (snapshot -> shard -> fingerprint) reads as verified at tick 0."""
    data = json.loads(raw) if raw else {}
    if isinstance(data.get("tick"), int) and isinstance(data.get("snapshots"), dict):
        return data
    return {"tick": 0, "snapshots": {s: {"tick": 0, "shards": fps} for s, fps in data.items()}}


@dg.sensor(minimum_interval_seconds=current().sensor_interval, default_status=_status(),
           description="Registers new snapshots and records a new data version of warc_files for exactly the shards "
                       "whose WARC files were added or replaced; automation recomputes what depends on them.")
def crawl_sensor(context: dg.SensorEvaluationContext, crawl: CrawlSourceResource,
                 storage: StorageResource) -> dg.SensorResult:
    cursor = load_cursor(context.cursor)
    checked, tick = cursor["snapshots"], cursor["tick"] + 1
    source = crawl.source()
    snapshots = source.list_snapshots()
    for line in source.refused:  # a folder skipped for its name: named with the rule it breaks
        context.log.warning(line)
    known = set(context.instance.get_dynamic_partitions(SNAPSHOTS.name))
    order = due_order(snapshots, checked)
    state, versions = changed_versions(source, storage.store(), context.instance, order,
                                       {s: v["shards"] for s, v in checked.items()}, budget_s=TICK_BUDGET_SECONDS,
                                       record_cost_s=RECORD_COST_SECONDS)
    new = [s for s in state if s not in known]  # registered in the tick that records their shards' versions
    listed = set(snapshots)
    checked = {s: v for s, v in checked.items() if s in listed} | {s: {"tick": tick, "shards": fps}
                                                                    for s, fps in state.items()}
    if len(state) < len(snapshots):
        context.log.info(f"verified {len(state)} of {len(snapshots)} snapshots in this tick's "
                         f"{TICK_BUDGET_SECONDS:.0f} s; the others follow in later ticks")
    if versions:
        context.log.info(f"{len(versions)} shards with new or replaced files: {sorted(map(str, versions))[:20]}")
    return dg.SensorResult(
        dynamic_partitions_requests=[SNAPSHOTS.build_add_request(new)] if new else [],
        asset_events=[dg.AssetObservation(asset_key="warc_files", partition=pk, tags={"dagster/data_version": fp})
                      for pk, fp in versions.items()],
        cursor=json.dumps({"tick": tick, "snapshots": checked}, sort_keys=True),
    )


@dg.schedule(cron_schedule="0 3 * * *", job_name=OBSERVE_JOB, default_status=dg.DefaultScheduleStatus.STOPPED,
             description="Daily: observe warc_files (registers new snapshots, records changed shards' data "
                         "versions); automation recomputes what depends on them.")
def snapshot_schedule(context: dg.ScheduleEvaluationContext):
    # a schedule can only request runs: the observation job registers snapshots and records the versions
    return dg.RunRequest(run_key=f"observe-{context.scheduled_execution_time:%Y-%m-%d}")
