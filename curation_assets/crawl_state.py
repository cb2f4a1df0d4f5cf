"""Which shards' input files changed: the crawl root's fingerprints against what the instance and outputs know.

Shared by the sensor, the schedule's observation job and the ``warc_files`` observation. A shard's data
version (the fingerprint of its file list) is recorded only when it differs from the version the instance
last recorded, and, for a shard whose version the instance never recorded but whose ``documents`` it did
materialise, from the files the stored table was built from; so a first look at an instance whose outputs
are up to date records nothing and no run follows.
"""


import time

import dagster as dg

from curation.extract.sources import fingerprint
from curation_assets.partitions import SNAPSHOTS, partition_key
from curation_assets.settings import num_shards

WARC_FILES = dg.AssetKey("warc_files")
DOCUMENTS = "documents"


def recorded_versions(instance: dg.DagsterInstance) -> dict[str, str]:
    """The latest data version the instance recorded per ``warc_files`` partition (one query)."""
    from dagster._core.definitions.data_version import DATA_VERSION_TAG

    tags = instance.event_log_storage.get_latest_tags_by_partition(
        WARC_FILES, dg.DagsterEventType.ASSET_OBSERVATION, [DATA_VERSION_TAG])
    return {pk: t[DATA_VERSION_TAG] for pk, t in tags.items() if DATA_VERSION_TAG in t}


def stored_files_fingerprint(store, snapshot: str, shard: str) -> str | None:
    """The file-list fingerprint the stored documents shard was extracted from (None: not stored)."""
    info = store.info(DOCUMENTS, snapshot, shard)
    return (info or {}).get("files_fingerprint")


def changed_versions(source, store, instance, snapshots: list[str], seen: dict,
                     budget_s: float | None = None, record_cost_s: float = 0.0) -> tuple[dict, dict]:
    """(state, versions): ``state`` maps snapshot -> shard -> fingerprint (every shard, empty ones too: a
    snapshot's clustering needs all of them); ``versions`` maps each partition key whose data version must be
    recorded to its fingerprint. ``seen`` is the previous state (a sensor's cursor; {} for none). With
    ``budget_s``, snapshots are listed in order until that many seconds have passed, each version to record
    counting ``record_cost_s`` more (at least one snapshot); ``state`` then holds only those listed."""
    state, versions, recorded, materialised = {}, {}, None, None
    t0 = time.monotonic()
    for snapshot in snapshots:
        if state and budget_s is not None and time.monotonic() - t0 + len(versions) * record_cost_s >= budget_s:
            break
        state[snapshot] = {}
        for shard, files in source.files_by_shard(snapshot, num_shards()).items():
            fp = fingerprint(files)
            state[snapshot][shard] = fp
            if seen.get(snapshot, {}).get(shard) == fp:
                continue
            if recorded is None:
                recorded = recorded_versions(instance)
                materialised = instance.get_materialized_partitions(dg.AssetKey(DOCUMENTS))
            pk = partition_key(snapshot, shard)
            known = recorded.get(str(pk))
            if known == fp or (known is None and store is not None and str(pk) in materialised
                               and stored_files_fingerprint(store, snapshot, shard) == fp):
                continue
            versions[pk] = fp
    return state, versions


def new_snapshots(source, instance, log=None) -> tuple[list[str], list[str]]:
    """(every snapshot under the crawl root, those not yet registered as partitions). A folder skipped for its name
    is warned about, naming the rule it breaks (``log``, else the running step's Dagster logger)."""
    snapshots = source.list_snapshots()
    for line in source.refused:
        (log or dg.get_dagster_logger()).warning(line)
    known = set(instance.get_dynamic_partitions(SNAPSHOTS.name))
    return snapshots, [s for s in snapshots if s not in known]
