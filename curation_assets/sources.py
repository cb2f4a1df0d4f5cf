"""The crawl's files as an observable source: one data version per snapshot x shard.

Observing it (the "Observe sources" button, or the ``observe_warc_files`` job) records a fingerprint
of each shard's file list (paths, sizes, ETags/mtimes), so the UI shows which shards' inputs changed.
"""


import dagster as dg

from curation.sources import fingerprint
from curation_assets.partitions import SNAPSHOT_SHARDS, SNAPSHOTS, partition_key
from curation_assets.settings import num_shards
from resources import CrawlSourceResource


@dg.observable_source_asset(
    partitions_def=SNAPSHOT_SHARDS,
    group_name="crawl",
    description="WARC (or WET/JSONL/Parquet) files of each snapshot, grouped into shards by a stable hash of their path.",
)
def warc_files(context, crawl: CrawlSourceResource) -> dg.DataVersionsByPartition:
    source = crawl.source()
    versions, listed = {}, set(source.list_snapshots())
    for snapshot in context.instance.get_dynamic_partitions(SNAPSHOTS.name):
        if snapshot not in listed:  # registered by a run against another crawl root: nothing to observe here
            context.log.warning(f"snapshot {snapshot} is registered but not under {crawl.root}; not observed")
            continue
        for shard, files in source.files_by_shard(snapshot, num_shards()).items():
            versions[partition_key(snapshot, shard)] = dg.DataVersion(fingerprint(files))
    return dg.DataVersionsByPartition(versions)
