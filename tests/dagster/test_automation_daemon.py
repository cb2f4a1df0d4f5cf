"""End to end with nobody at the keyboard: `dagster dev` (webserver + daemon) on loopback over a copy of real
sample WARC files, with crawl_sensor and the automation sensor on; the test only changes files and watches
the instance. (a) A new snapshot folder is materialised through to the mixture; (b) one replaced WARC file
recomputes exactly its shard, the snapshot's clusters, the labels whose decisions changed, and the mixture.
Prints the time from the file drop to the new mixture."""

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import dagster as dg
from dagster._core.instance.ref import InstanceRef
import pytest

from curation.core.sharding import shard_index, shard_keys
from tests.conftest import ROOT, free_port, sample_file, stop_server, wait_for_http, write_crawl, write_mixture

SNAP = "CC-MAIN-2024-22"
FILES = ["jwarc-commoncrawl.org.warc.gz", "dolma-wget-2024.sample-0000.warc.gz"]
PER_SHARD = ("documents", "language", "minhash_signatures", "dedup", "quality", "rewrites")
ACTIVE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
          dg.DagsterRunStatus.STARTED]


def _mixture_keys(instance) -> list[dg.AssetKey]:
    """Mixture assets by key prefix (one per mixtures/*.yaml once they come from a factory)."""
    return [k for k in instance.get_asset_keys() if k.path[0] in ("mixture", "mixtures")] or [dg.AssetKey("mixture")]


def _materialisations(instance, key: str | dg.AssetKey, after: float) -> list:
    key = key if isinstance(key, dg.AssetKey) else dg.AssetKey(key)
    return instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key, after_timestamp=after),
                                           limit=1000).records


def _recomputed(record) -> bool:
    entry = record.asset_materialization.metadata.get("recomputed")
    return True if entry is None else bool(entry.value)


def _wait(instance, done, what: str, proc, timeout: float = 600) -> float:
    """Poll until ``done()`` and no run is active; fail at once on a failed run. Returns the time it took."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            pytest.fail("dagster dev exited (see dagster-dev.log in the test's tmp folder)")
        failed = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
        if failed:
            pytest.fail(f"run {failed[0].run_id} ({failed[0].asset_selection}) failed")
        if done() and not instance.get_runs(dg.RunsFilter(statuses=ACTIVE)):
            return time.time() - t0
        time.sleep(2)
    pytest.fail(f"{what}: not done within {timeout:.0f} s")


@pytest.mark.slow
def test_new_snapshot_and_replaced_file_reach_the_mixture_by_themselves(tmp_path):
    home, root = tmp_path / "home", tmp_path / "crawl"
    home.mkdir()
    (root / "crawl-data").mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home), "CURATION_OUTPUT": str(tmp_path / "out"),
           "CURATION_CRAWL_ROOT": str(root), "CURATION_NUM_SHARDS": "2", "CURATION_REWRITE_MAX_DOCS": "0",
           "CURATION_SENSOR": "on", "CURATION_SENSOR_INTERVAL": "5", "CURATION_AUTOMATION_INTERVAL": "5",
           "CURATION_MIXTURES": str(write_mixture(tmp_path / "mixtures"))}
    env.pop("CURATION_AUTOMATION", None)
    port = free_port()
    log = open(tmp_path / "dagster-dev.log", "w")  # a file, not a pipe: an unread pipe fills and blocks every run
    proc = subprocess.Popen([str(Path(sys.executable).with_name("dagster")), "dev", "-w", str(ROOT / "workspace.yaml"),
                             "-h", "127.0.0.1", "-p", str(port)], cwd=tmp_path, env=env, text=True,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/server_info", proc, 180, "dagster dev (see dagster-dev.log in the test's tmp folder)")
        with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
            # (a) a new snapshot folder appears: every asset of it, the mixture included, gets materialised
            t_drop = time.time()
            rels = write_crawl(root, SNAP, {n: sample_file(SNAP, n).read_bytes() for n in FILES})

            def snapshot_done() -> bool:
                per_shard = all(len({r.partition_key for r in _materialisations(instance, a, t_drop)}) == 2
                                for a in PER_SHARD)
                return per_shard and _materialisations(instance, "dedup_clusters", t_drop) and all(
                    _materialisations(instance, k, t_drop) for k in _mixture_keys(instance))

            took = _wait(instance, snapshot_done, "new snapshot", proc)
            print(f"\nnew snapshot -> mixture: {took:.0f} s")
            assert _materialisations(instance, "quality_classifier", 0.0)

            # (b) one WARC file replaced: exactly its shard recomputes, then clusters, changed labels, mixture
            t_drop = time.time()
            (root / rels[0]).write_bytes(sample_file(SNAP, "cc-main-2024-22.whirlwind.warc.gz").read_bytes())
            shard = shard_keys(2)[shard_index(rels[0], 2)]
            mixtures = _mixture_keys(instance)
            took = _wait(instance, lambda: all(_materialisations(instance, k, t_drop) for k in mixtures),
                         "replaced file", proc)
            print(f"replaced WARC file -> new mixture: {took:.0f} s")
            counts = Counter()
            for asset in PER_SHARD + ("dedup_clusters", "quality_classifier", *mixtures):
                for r in _materialisations(instance, asset, t_drop):
                    counts[(str(asset), r.partition_key, _recomputed(r))] += 1
            changed = f"{shard}|{SNAP}"
            for asset in ("documents", "language", "minhash_signatures", "quality", "rewrites"):
                assert counts[(asset, changed, True)] == 1, (asset, counts)
                assert not [k for k in counts if k[0] == asset and k[1] != changed and k[2]], (asset, counts)
            assert counts[("dedup_clusters", SNAP, True)] == 1, counts
            # the changed shard's labels are rewritten; others only if their decisions changed (recomputed: false
            # where they did not), and the snapshot's clusters record which shards changed
            assert counts[("dedup", changed, True)] == 1, counts
            assert not [k for k in counts if k[0] == "quality_classifier"], counts
            assert all(counts[(str(k), None, True)] == 1 for k in mixtures), counts
    finally:
        stop_server(proc)
        log.close()
