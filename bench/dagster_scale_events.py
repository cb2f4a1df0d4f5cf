"""Helpers of bench/dagster_scale.py: record a materialisation of every asset partition without running anything.

Two writers, both producing the rows Dagster itself writes for a run-less event (``report_runless_asset_event``):

- ``dagster``: ``instance.event_log_storage.store_event_batch`` (dagster-postgres's batched insert, the path
  Dagster's own batched event writes take), one asset per batch. About 0.7k events/s on this machine.
- ``copy`` (default): each asset's event is serialised once by Dagster's serdes with placeholder partition and
  data version, the placeholders are substituted per partition, and the ``event_logs`` and ``asset_event_tags``
  rows are inserted with psycopg2's ``execute_values``; the asset's last event goes through
  ``store_event_batch`` so that Dagster updates its ``asset_keys`` row itself. Several times faster; the test
  tests/dagster/test_dagster_scale.py checks that both writers leave the instance in the same state.

Materialisations carry what a run of this project records: the data version, the asset's code version, the
multi-partition tags (``dagster/partition/<dimension>``) and a small metadata dict.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import time

PK, DV, SHARD, SNAP = "ZZPARTITIONZZ", "ZZDATAVERSIONZZ", "ZZSHARDZZ", "ZZSNAPSHOTZZ"


def runless(key, partition: str | None, data_version: str, code_version: str | None, observation: bool,
            multi: tuple[str, str] | None = None):
    """An event log entry as ``report_runless_asset_event`` builds it; ``multi`` = (shard, snapshot) tags."""
    import dagster as dg
    from dagster._core.events import (
        AssetObservationData,
        DagsterEvent,
        DagsterEventType,
        StepMaterializationData,
    )
    from dagster._core.events.log import EventLogEntry
    from dagster._core.instance.utils import RUNLESS_JOB_NAME, RUNLESS_RUN_ID

    tags = {"dagster/data_version": data_version, **({"dagster/code_version": code_version} if code_version else {})}
    if observation:
        kind, data = DagsterEventType.ASSET_OBSERVATION, AssetObservationData(
            dg.AssetObservation(asset_key=key, partition=partition, tags=tags))
    else:
        if multi:
            tags |= {"dagster/partition/shard": multi[0], "dagster/partition/snapshot": multi[1]}
        kind, data = DagsterEventType.ASSET_MATERIALIZATION, StepMaterializationData(dg.AssetMaterialization(
            asset_key=key, partition=partition, tags=tags, metadata={"recomputed": False, "rows": 9_765}))
    event = DagsterEvent(event_type_value=kind.value, event_specific_data=data, job_name=RUNLESS_JOB_NAME)
    return EventLogEntry(user_message="", level=logging.INFO, job_name=RUNLESS_JOB_NAME, run_id=RUNLESS_RUN_ID,
                         error_info=None, timestamp=time.time(), step_key=None, dagster_event=event)


def _split(pk: str | None) -> tuple[str, str] | None:
    """(shard, snapshot) of a multi-partition key "shard|snapshot" (dimensions in name order)."""
    return tuple(pk.split("|", 1)) if pk and "|" in pk else None


def write_dagster(instance, key, versions: list, code_version, observation: bool, batch: int = 2000) -> None:
    entries = [runless(key, pk, dv, code_version, observation, _split(pk)) for pk, dv in versions]
    # dagster-postgres updates the asset's summary row from a batch's last event only: one asset per batch
    for i in range(0, len(entries), batch):
        instance.event_log_storage.store_event_batch(entries[i:i + batch])


def write_copy(instance, key, versions: list, code_version, observation: bool, url: str) -> None:
    import psycopg2
    from dagster._serdes import serialize_value
    from psycopg2.extras import execute_values

    *bulk, last = versions
    if bulk:
        multi = _split(bulk[0][0]) is not None
        template = runless(key, PK if bulk[0][0] else None, DV, code_version, observation,
                           (SHARD, SNAP) if multi else None)
        text, kind, name = serialize_value(template), template.dagster_event.event_type_value, key.to_string()
        when = datetime.datetime.fromtimestamp(template.timestamp, datetime.timezone.utc).replace(tzinfo=None)
        rows = []
        for pk, dv in bulk:
            event = text.replace(DV, dv)
            if pk:
                event = event.replace(PK, pk)
                if multi:
                    shard, snap = _split(pk)
                    event = event.replace(SHARD, shard).replace(SNAP, snap)
            rows.append(("", event, kind, when, None, name, pk))
        with psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://")) as conn, conn.cursor() as cur:
            ids = execute_values(cur, "INSERT INTO event_logs (run_id, event, dagster_event_type, timestamp, "
                                      "step_key, asset_key, partition) VALUES %s RETURNING id",
                                 rows, page_size=5000, fetch=True)
            tags = []
            for (event_id,), (pk, dv) in zip(ids, bulk):
                tags.append((event_id, name, "dagster/data_version", dv, when))
                if multi and not observation:
                    shard, snap = _split(pk)
                    tags += [(event_id, name, "dagster/partition/shard", shard, when),
                             (event_id, name, "dagster/partition/snapshot", snap, when)]
            execute_values(cur, "INSERT INTO asset_event_tags (event_id, asset_key, key, value, event_timestamp) "
                                "VALUES %s", tags, page_size=10000)
    write_dagster(instance, key, [last], code_version, observation)


def record_everything(instance, defs, observations: dict, writer: str, url: str) -> dict:
    """warc_files observations (data version per shard) and a materialisation of every asset partition, in
    topological order, each data version derived from the partition and its shard's file-list fingerprint."""
    import dagster as dg

    write = (lambda *a: write_copy(*a, url=url)) if writer == "copy" else write_dagster
    graph = defs.resolve_asset_graph()
    write(instance, dg.AssetKey("warc_files"), sorted(observations.items()), None, True)
    counts = {"warc_files": len(observations)}
    for key in graph.toposorted_asset_keys:
        node = graph.get(key)
        if not node.is_materializable:
            continue
        pdef = node.partitions_def
        keys = pdef.get_partition_keys(dynamic_partitions_store=instance) if pdef else [None]
        versions = [(pk, hashlib.sha256(f"{key.to_user_string()}|{pk}|{observations.get(pk, '')}".encode())
                     .hexdigest()[:32]) for pk in keys]
        write(instance, key, versions, node.code_version, False)
        counts[key.to_user_string()] = len(versions)
    return counts
