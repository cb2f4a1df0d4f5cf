"""Sensor and schedule: new snapshots become partitions, new or replaced files new data versions of
``warc_files``; declarative automation (curation_assets/automation.py) does the rest.

The sensor keeps, in its cursor, the fingerprint of every shard's file list it has seen; a tick lists the
crawl root, registers new snapshots, and records a ``warc_files`` observation (data version = fingerprint)
for each shard whose fingerprint differs from the cursor and from the version the instance already recorded
(or, never recorded, from the files its stored documents shard came from). It requests no run itself: the
automation sensor requests ``documents`` for exactly those shards, and their downstream follows as data
versions change. A tick that sees nothing new records nothing, so ticks are idempotent.
"""


import json

import dagster as dg

from curation_assets.crawl_state import changed_versions, new_snapshots
from curation_assets.partitions import SNAPSHOTS
from curation_assets.settings import current
from resources import CrawlSourceResource, StorageResource

OBSERVE_JOB = "observe_warc_files"


def _status() -> dg.DefaultSensorStatus:
    """Stopped unless CURATION_SENSOR=on (turn it on in the UI's Automation tab otherwise)."""
    return dg.DefaultSensorStatus.RUNNING if current().sensor else dg.DefaultSensorStatus.STOPPED


@dg.sensor(minimum_interval_seconds=current().sensor_interval, default_status=_status(),
           description="Registers new snapshots and records a new data version of warc_files for exactly the shards "
                       "whose WARC files were added or replaced; automation recomputes what depends on them.")
def crawl_sensor(context: dg.SensorEvaluationContext, crawl: CrawlSourceResource,
                 storage: StorageResource) -> dg.SensorResult:
    seen = json.loads(context.cursor) if context.cursor else {}
    source = crawl.source()
    snapshots, new = new_snapshots(source, context.instance)
    state, versions = changed_versions(source, storage.store(), context.instance, snapshots, seen)
    if versions:
        context.log.info(f"{len(versions)} shards with new or replaced files: {sorted(map(str, versions))[:20]}")
    return dg.SensorResult(
        dynamic_partitions_requests=[SNAPSHOTS.build_add_request(new)] if new else [],
        asset_events=[dg.AssetObservation(asset_key="warc_files", partition=pk, tags={"dagster/data_version": fp})
                      for pk, fp in versions.items()],
        cursor=json.dumps(state, sort_keys=True),
    )


@dg.schedule(cron_schedule="0 3 * * *", job_name=OBSERVE_JOB, default_status=dg.DefaultScheduleStatus.STOPPED,
             description="Daily: observe warc_files (registers new snapshots, records changed shards' data "
                         "versions); automation recomputes what depends on them.")
def snapshot_schedule(context: dg.ScheduleEvaluationContext):
    # a schedule can only request runs: the observation job registers snapshots and records the versions
    return dg.RunRequest(run_key=f"observe-{context.scheduled_execution_time:%Y-%m-%d}")
