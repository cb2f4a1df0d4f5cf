"""Partitions: crawl snapshot (dynamic) x shard (static, fixed width per deployment).

With S shards and P snapshots an asset has S x P partitions; Dagster advises at most about 100,000
per asset, so 512 shards cover about 190 snapshots (see the README for Common Crawl sizing).
"""


import dagster as dg

from curation.core.sharding import shard_keys
from curation_assets.settings import num_shards

SNAPSHOTS = dg.DynamicPartitionsDefinition(name="snapshots")
SHARDS = dg.StaticPartitionsDefinition(shard_keys(num_shards()))
SNAPSHOT_SHARDS = dg.MultiPartitionsDefinition({"snapshot": SNAPSHOTS, "shard": SHARDS})


def partition_key(snapshot: str, shard: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"snapshot": snapshot, "shard": shard})


def split_key(context: dg.AssetExecutionContext) -> tuple[str, str]:
    """(snapshot, shard) of the partition being materialised."""
    keys = context.partition_key.keys_by_dimension
    return keys["snapshot"], keys["shard"]
