"""The label assets on a real crawl: the benchmark index, and one multi-asset that reads documents once and writes
contamination, pii and blocklist, each with its own fingerprint (a new benchmark set relabels contamination only)."""

import json

import dagster as dg
import pyarrow.parquet as pq

from curation.core.sharding import shard_keys
from curation.extract.sources import CrawlSource
from curation_assets.definitions import defs
from curation_assets.documents import documents
from curation_assets.labels import LabelsResource, benchmark_index, text_labels
from curation_assets.partitions import SNAPSHOTS, partition_key
from curation_assets.sources import warc_files
from resources import CrawlSourceResource, StorageResource

ASSETS = [warc_files, documents, benchmark_index, text_labels]


def _run(instance, resources, snapshot, shard, selection):
    res = dg.materialize(ASSETS, selection=selection, partition_key=partition_key(snapshot, shard),
                         instance=instance, resources=resources)
    assert res.success
    for ev in res.get_asset_check_evaluations():
        assert ev.passed, (ev.asset_key, ev.check_name, ev.metadata)
    return {k: res.asset_materializations_for_node("text_labels") for k in ("x",)}["x"]


def test_label_assets_relabel_only_what_changed(small_crawl, tmp_path):
    out = tmp_path / "out"
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"text": "placeholder item that matches nothing in this crawl at all"}) + "\n")
    snap = "CC-MAIN-2024-22"
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(SNAPSHOTS.name, CrawlSource(str(small_crawl)).list_snapshots())
        res = {"crawl": CrawlSourceResource(root=str(small_crawl)), "storage": StorageResource(base=str(out)),
               "labels": LabelsResource(benchmarks=[str(bench)])}
        for shard in shard_keys(4):
            dg.materialize([warc_files, documents], selection=[documents], partition_key=partition_key(snap, shard),
                           instance=instance, resources=res)
        # a benchmark item taken from a real page of the crawl, and the page's URL on a blocklist
        docs = pq.read_table(out / "documents" / snap).to_pylist()
        page = max(docs, key=lambda d: len(d["text"] or ""))
        words = page["text"].split()
        bench.write_text(json.dumps({"text": " ".join(words[40:90]), "benchmark": "probe"}) + "\n")
        (tmp_path / "mine.txt").write_text(page["host"] + "\n")
        res["labels"] = LabelsResource(benchmarks=[str(bench)], blocklists=[str(tmp_path / "mine.txt")])
        dg.materialize(ASSETS, selection=[benchmark_index], instance=instance, resources=res)
        shard = page["shard"]
        mats = _run(instance, res, snap, shard, [text_labels])
        assert {m.asset_key.to_user_string() for m in mats} == {"contamination", "pii", "blocklist"}
        assert all(m.metadata["recomputed"].value for m in mats)
        md = {m.asset_key.to_user_string(): m.metadata for m in mats}
        assert md["contamination"]["contaminated_documents"].value >= 1
        assert "probe" in md["contamination"]["per_benchmark"].value
        assert md["blocklist"]["blocklisted_documents"].value >= 1
        contamination = pq.read_table(out / "contamination" / snap / f"{shard}.parquet").to_pylist()
        hit = next(r for r in contamination if r["id"] == page["id"])
        (s, e), = hit["spans"]
        assert hit["benchmarks"] == ["probe"] and page["text"][s:e].split() == words[40:90]
        blocked = pq.read_table(out / "blocklist" / snap / f"{shard}.parquet").to_pylist()
        assert next(r for r in blocked if r["id"] == page["id"])["blocklists"] == ["mine"]

        # a new benchmark set: a new index digest, contamination recomputed, pii and blocklist up to date
        bench.write_text(json.dumps({"text": " ".join(words[100:150]), "benchmark": "probe2"}) + "\n")
        dg.materialize(ASSETS, selection=[benchmark_index], instance=instance, resources=res)
        again = {m.asset_key.to_user_string(): m.metadata["recomputed"].value
                 for m in _run(instance, res, snap, shard, [text_labels])}
        assert again == {"contamination": True, "pii": False, "blocklist": False}
        # one table alone (can_subset)
        only = _run(instance, res, snap, shard, ["pii"])
        assert [m.asset_key.to_user_string() for m in only] == ["pii"]

        # the `curation run` summary: one line per label
        from rich.console import Console

        from curation.core.storage import ShardStore
        from curation_cli.summary import _labels

        console = Console(record=True, width=200)
        _labels(console, ShardStore(str(out)), [snap], [shard])
        lines = console.export_text().splitlines()
        assert [ln.split()[0] for ln in lines] == ["contamination", "pii", "blocklist"]
        assert "(probe2 1)" in lines[0] and "(mine 1)" in lines[2]


def test_definitions_carry_the_label_assets():
    for key in ("contamination", "pii", "blocklist"):
        node = defs.resolve_assets_def(key)
        assert node.can_subset and {s.name for s in node.check_specs} >= {"schema_matches", "covers_documents"}
    assert defs.resolve_assets_def("benchmark_index").partitions_def is None
    assert defs.resolve_job_def("label_text") is not None
