"""Sensor and schedule: new snapshots become partitions; new or replaced files re-run only their shard.

The sensor keeps, in its cursor, the fingerprint of every shard's file list it has seen; a tick lists
the crawl root, and requests a run for each shard whose fingerprint differs (a new snapshot has no
fingerprints yet, so all of its non-empty shards run). Run keys include the fingerprint, so a tick
never requests the same work twice.
"""


import json

import dagster as dg

from curation.sources import fingerprint
from curation_assets.partitions import SNAPSHOTS, partition_key
from curation_assets.settings import num_shards
from resources import CrawlSourceResource

JOB_NAME = "curate_shards"


def plan(source, known: set[str], seen: dict) -> tuple[list[str], list[dg.RunRequest], dict]:
    """(new snapshots, run requests, new cursor state) for one look at the crawl root."""
    snapshots = source.list_snapshots()
    new = [s for s in snapshots if s not in known]
    requests, state = [], {}
    for snapshot in snapshots:
        state[snapshot] = {}
        for shard, files in source.files_by_shard(snapshot, num_shards()).items():
            if not files:
                continue
            fp = fingerprint(files)
            state[snapshot][shard] = fp
            if seen.get(snapshot, {}).get(shard) != fp:
                requests.append(dg.RunRequest(run_key=f"{snapshot}|{shard}|{fp}", job_name=JOB_NAME,
                                              partition_key=partition_key(snapshot, shard)))
    return new, requests, state


@dg.sensor(job_name=JOB_NAME, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED,
           description="Registers new snapshots and re-runs exactly the shards whose WARC files were added or replaced.")
def crawl_sensor(context: dg.SensorEvaluationContext, crawl: CrawlSourceResource) -> dg.SensorResult:
    seen = json.loads(context.cursor) if context.cursor else {}
    known = set(context.instance.get_dynamic_partitions(SNAPSHOTS.name))
    new, requests, state = plan(crawl.source(), known, seen)
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[SNAPSHOTS.build_add_request(new)] if new else [],
        cursor=json.dumps(state, sort_keys=True),
    )


@dg.schedule(cron_schedule="0 3 * * *", job_name=JOB_NAME, default_status=dg.DefaultScheduleStatus.STOPPED,
             description="Daily: register snapshots that appeared under the crawl root and run all their shards.")
def snapshot_schedule(context: dg.ScheduleEvaluationContext, crawl: CrawlSourceResource):
    source = crawl.source()
    known = set(context.instance.get_dynamic_partitions(SNAPSHOTS.name))
    new = [s for s in source.list_snapshots() if s not in known]
    if not new:
        return dg.SkipReason("no new snapshot under the crawl root")
    requests = [dg.RunRequest(run_key=f"{s}|{shard}", partition_key=partition_key(s, shard))
                for s in new for shard, files in source.files_by_shard(s, num_shards()).items() if files]
    return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=[SNAPSHOTS.build_add_request(new)])
