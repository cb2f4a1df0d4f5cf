"""Declarative automation, driven in process tick by tick: the sensor records data versions, the automation
conditions request runs, and a driver here executes exactly what was requested (as the daemon would). A new
snapshot reaches the mixture; a replaced WARC file recomputes that shard, the snapshot's clusters, the labels
whose decisions changed and the mixture, and nothing else; a first sensor tick on up-to-date outputs records
nothing."""

from collections import Counter

import dagster as dg
import pytest

from curation.core.sharding import shard_index, shard_keys
from curation.extract.warc_writer import response, warc_gz
from curation_assets.definitions import ASSETS, defs
from curation_assets.mixing import mixture_assets
from resources import CrawlSourceResource, StorageResource
from sensors import crawl_sensor
from tests.conftest import sample_file, write_crawl, write_mixture

SNAP = "CC-MAIN-2024-22"
FILES = ["jwarc-commoncrawl.org.warc.gz", "dolma-wget-2024.sample-0000.warc.gz"]


def _sensor_tick(instance, resources, cursor):
    """One crawl_sensor tick, its results stored as the daemon stores them."""
    res = crawl_sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources))
    for req in res.dynamic_partitions_requests:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    for ev in res.asset_events:
        instance.report_runless_asset_event(ev)
    return res


def _defs(mixture) -> dg.Definitions:
    """The project's assets with one mixture, ``mixture`` (the demo's names snapshots this crawl lacks)."""
    keys = lambda a: a.keys if hasattr(a, "keys") else [a.key]  # noqa: E731 (a multi-asset has several)
    assets = [a for a in ASSETS if not any(k.to_user_string().startswith("mixtures/") for k in keys(a))]
    assets += mixture_assets([str(mixture)])
    return dg.Definitions(assets=assets, resources=defs.resources, executor=dg.in_process_executor)


def _drive(instance, resources, cursor, max_ticks=15, defs=defs):
    """Evaluate the automation conditions and execute what they request, until a tick requests nothing.
    Returns (cursor, Counter of (asset, recomputed) materialisations, ticks with requests)."""
    assets = [a for a in defs.assets if hasattr(a, "keys")]  # materialisable: assets and multi-assets
    done, busy = Counter(), 0
    for _ in range(max_ticks):
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        cursor = result.cursor
        runs: dict = {}
        for asset in assets:
            for key in asset.keys:
                for pk in result.get_requested_partitions(key):
                    runs.setdefault(pk, []).append(key)
        if not runs:
            return cursor, done, busy
        busy += 1
        for pk, keys in runs.items():
            run = dg.materialize(assets, selection=keys, partition_key=pk, instance=instance, resources=resources)
            assert run.success
            for ev in run.get_asset_materialization_events():
                mat = ev.materialization
                entry = mat.metadata.get("recomputed")  # corpora: one flag per corpus; the classifier: always
                flag = True if entry is None else entry.value
                key = mat.asset_key.to_user_string()
                key = "mixture" if key.startswith("mixtures/") else key
                done[(key, any(flag.values()) if isinstance(flag, dict) else flag)] += 1
    pytest.fail(f"automation still requesting after {max_ticks} ticks: {done}")


def test_new_snapshot_and_replaced_file_flow_to_the_mixture_and_nothing_else(tmp_path, monkeypatch):
    root = tmp_path / "crawl"
    rels = write_crawl(root, SNAP, {n: sample_file(SNAP, n).read_bytes() for n in FILES})
    resources = {**defs.resources, "crawl": CrawlSourceResource(root=str(root)),
                 "storage": StorageResource(base=str(tmp_path / "out"))}
    resources["rewrite_settings"] = resources["rewrite_settings"].model_copy(update={"max_documents_per_shard": 0})
    test_defs = _defs(write_mixture(tmp_path / "mixtures"))
    with dg.instance_for_test() as instance:
        cursor, _, _ = _drive(instance, resources, None, defs=test_defs)  # the first evaluation requests nothing
        tick = _sensor_tick(instance, resources, None)
        assert len(tick.asset_events) == 4  # every shard, the two empty ones too: clustering needs all four
        cursor, done, _ = _drive(instance, resources, cursor, defs=test_defs)
        assert done[("documents", True)] == 4 and done[("dedup_clusters", True)] == 1
        assert done[("quality_classifier", True)] == 1 and done[("mixture", True)] == 1, done
        assert done[("rewrites", True)] == 4 and done[("mixture", False)] == 0, done

        # nothing changed: the sensor records nothing, automation requests nothing
        again = _sensor_tick(instance, resources, tick.cursor)
        assert again.asset_events == []
        assert _drive(instance, resources, cursor, defs=test_defs)[1] == Counter()

        # one WARC file replaced: exactly its shard, the snapshot's clusters, changed labels, the mixture
        rel = rels[0]
        (root / rel).write_bytes(warc_gz([response("http://new.example/", b"<html><body><p>" + b"A new page. " * 40
                                                   + b"</p></body></html>")]))
        shard = shard_keys(4)[shard_index(rel, 4)]
        third = _sensor_tick(instance, resources, again.cursor)
        assert [ev.partition for ev in third.asset_events] == [f"{shard}|{SNAP}"]
        cursor, done, _ = _drive(instance, resources, cursor, defs=test_defs)
        for asset in ("documents", "language", "minhash_signatures", "quality"):
            assert done[(asset, True)] == 1 and done[(asset, False)] == 0, (asset, done)
        assert done[("rewrites", True)] == 1, done  # the others ran beside their dedup labels, up to date
        # the mixture is rebuilt once; it publishes a new version only if its plan changed (issue 26: the replaced
        # file's pages were no candidates of this mixture, so the same version stays current)
        assert done[("dedup_clusters", True)] == 1 and done[("mixture", True)] + done[("mixture", False)] == 1, done
        assert 1 <= done[("dedup", True)] <= 4 and done[("dedup", True)] + done[("dedup", False)] == 4, done
        assert done[("quality_classifier", True)] == 0, done

        # a first tick of a fresh sensor (no cursor) on an instance whose outputs are up to date records nothing
        assert _sensor_tick(instance, resources, None).asset_events == []
