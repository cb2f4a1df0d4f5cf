"""The crawl's files as an observable source: one data version per snapshot x shard.

Observing it (the "Observe sources" button, the ``observe_warc_files`` job, the daily schedule) registers
snapshots that appeared under the crawl root and records the fingerprint of each changed shard's file list
(paths, sizes, ETags/mtimes) as its data version; declarative automation recomputes what depends on it.
"""


import dagster as dg

from curation_assets.constants import GROUP_CRAWL
from curation_assets.crawl_state import changed_versions, new_snapshots
from curation_assets.partitions import SNAPSHOT_SHARDS, SNAPSHOTS
from resources import CrawlSourceResource, StorageResource


@dg.observable_source_asset(
    partitions_def=SNAPSHOT_SHARDS,
    group_name=GROUP_CRAWL,
    description="WARC (or WET/JSONL/Parquet) files of each snapshot, grouped into shards by a stable hash of their path.",
)
def warc_files(context, crawl: CrawlSourceResource, storage: StorageResource) -> dg.DataVersionsByPartition:
    source = crawl.source()
    snapshots, new = new_snapshots(source, context.instance)
    if new:
        context.instance.add_dynamic_partitions(SNAPSHOTS.name, new)
    _, versions = changed_versions(source, storage.store(), context.instance, snapshots, {})
    return dg.DataVersionsByPartition({pk: dg.DataVersion(fp) for pk, fp in versions.items()})
