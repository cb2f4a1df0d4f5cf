"""Issue 26 part 2: the crawl sensor verifies snapshots in rotation within a time budget, and
bench/dagster_scale.py (smoke size, PostgreSQL) leaves an instance on which automation requests nothing until
one WARC file is replaced, and then exactly that shard's per-shard assets, whichever event writer it used."""

import json
import subprocess
import sys

import dagster as dg
import pytest

import sensors
from curation.core.sharding import shard_index, shard_keys
from curation_assets.partitions import partition_key
from resources import CrawlSourceResource, StorageResource
from tests.conftest import ROOT, sample_file, write_crawl


def _tick(instance, resources, cursor):
    res = sensors.crawl_sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources))
    for req in res.dynamic_partitions_requests:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    for e in res.asset_events:
        instance.report_runless_asset_event(e)
    return res, json.loads(res.cursor)


def test_sensor_verifies_one_snapshot_a_tick_when_the_budget_is_spent(small_crawl, tmp_path, monkeypatch):
    monkeypatch.setattr(sensors, "TICK_BUDGET_SECONDS", 0.0)  # every tick verifies exactly one snapshot
    resources = {"crawl": CrawlSourceResource(root=str(small_crawl)), "storage": StorageResource(base=str(tmp_path))}
    with dg.instance_for_test() as instance:
        first, _ = _tick(instance, resources, None)
        # a snapshot is registered in the tick that records its shards' versions, not before
        (req,) = first.dynamic_partitions_requests
        assert list(req.partition_keys) == ["CC-MAIN-2020-34"] and len(first.asset_events) == 4
        assert {str(e.partition).split("|")[1] for e in first.asset_events} == {"CC-MAIN-2020-34"}
        second, c2 = _tick(instance, resources, first.cursor)
        assert list(second.dynamic_partitions_requests[0].partition_keys) == ["CC-MAIN-2024-22"]
        assert c2["snapshots"]["CC-MAIN-2020-34"]["tick"] == 1 and c2["snapshots"]["CC-MAIN-2024-22"]["tick"] == 2

        # a new snapshot goes first; then the least recently verified; a replaced file is found in its turn
        write_crawl(small_crawl, "CC-MAIN-2025-05", {"a.warc.gz": sample_file(
            "CC-MAIN-2024-22", "jwarc-commoncrawl.org.warc.gz").read_bytes()})
        rel = "crawl-data/CC-MAIN-2020-34/segments/s/warc/cc-main-2020-34.part-a.warc.gz"
        (small_crawl / rel).write_bytes(sample_file("CC-MAIN-2024-22", "dolma-wget-2024.sample-0000.warc.gz")
                                        .read_bytes())
        third, _ = _tick(instance, resources, second.cursor)
        assert list(third.dynamic_partitions_requests[0].partition_keys) == ["CC-MAIN-2025-05"]
        fourth, _ = _tick(instance, resources, third.cursor)
        (ev,) = fourth.asset_events
        assert ev.partition == partition_key("CC-MAIN-2020-34", shard_keys(4)[shard_index(rel, 4)])
        fifth, _ = _tick(instance, resources, fourth.cursor)  # CC-MAIN-2024-22: unchanged, nothing recorded
        assert fifth.asset_events == [] and fifth.dynamic_partitions_requests == []


def test_an_older_cursor_is_read_as_verified_at_tick_zero():
    old = json.dumps({"CC-MAIN-2020-34": {"0000": "ab"}, "CC-MAIN-2024-22": {"0000": "cd"}})
    cur = sensors.load_cursor(old)
    assert cur == {"tick": 0, "snapshots": {"CC-MAIN-2020-34": {"tick": 0, "shards": {"0000": "ab"}},
                                            "CC-MAIN-2024-22": {"tick": 0, "shards": {"0000": "cd"}}}}
    assert sensors.due_order(["CC-MAIN-2025-05", "CC-MAIN-2024-22", "CC-MAIN-2020-34"], cur["snapshots"])[0] == \
        "CC-MAIN-2025-05"


@pytest.mark.slow
def test_bench_smoke_both_writers_agree(tmp_path):
    results = {}
    for writer in ("copy", "dagster"):
        out = tmp_path / f"{writer}.json"
        run = subprocess.run([sys.executable, str(ROOT / "bench/dagster_scale.py"), "--snapshots", "2", "--shards", "4",
                              "--files", "300", "--skip-ui", "--writer", writer, "--json", str(out)],
                             check=False, capture_output=True, text=True, timeout=900, cwd=ROOT)
        assert run.returncode == 0, run.stderr[-3000:]
        results[writer] = r = json.loads(out.read_text())
        assert r["events"]["documents"] == 8 and r["events"]["dedup_clusters"] == 2
        assert r["sensor_tick_all_snapshots"]["observations"] == 8
        for tick in ("automation_first_tick", "automation_tick_unchanged", "automation_tick_after"):
            assert r[tick]["requested"] == {}, (writer, tick, r[tick])
        assert r["sensor_tick_unchanged"]["observations"] == 0 and r["sensor_tick_one_file"]["observations"] == 1
        # the changed shard's per-shard assets, once each; the snapshot's clusters and labels wait for them
        assets = {k: v for k, v in r["automation_tick_one_file"]["requested"].items() if ":" not in k}
        assert {"documents", "language", "minhash_signatures", "tokens", "quality"} <= set(assets), assets
        assert set(assets.values()) == {1} and not {"dedup", "dedup_clusters", "rewrites"} & set(assets), assets
        new = {k: v for k, v in r["automation_tick_new_snapshot"]["requested"].items() if ":" not in k}
        assert new == {k: 4 for k in assets}, new  # a new snapshot: the same assets for each of its 4 shards
    assert results["copy"]["events"] == results["dagster"]["events"]
    assert results["copy"]["automation_tick_one_file"]["requested"] == \
        results["dagster"]["automation_tick_one_file"]["requested"]
