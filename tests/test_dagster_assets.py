"""The Dagster layer: definitions load with the right assets and partitions, every partition of a real
crawl materialises with passing checks, a rerun after one WARC file changed recomputes exactly that
shard, and the sensor/schedule turn new snapshots and changed files into exactly the right run requests."""

import json

import dagster as dg
import pyarrow.parquet as pq
import pytest

from curation.sharding import shard_index, shard_keys
from curation.sources import CrawlSource
from curation.warc_writer import response, warc_gz
from curation_assets.definitions import defs
from curation_assets.documents import documents
from curation_assets.language import language
from curation_assets.partitions import SNAPSHOT_SHARDS, SNAPSHOTS, partition_key
from curation_assets.sources import warc_files
from resources import CrawlSourceResource, LanguageIdResource, StorageResource
from sensors import crawl_sensor, snapshot_schedule


def test_definitions_have_assets_partitions_and_automation():
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    assert keys == {"warc_files", "documents", "language"}
    for key in ("documents", "language"):
        node = defs.resolve_assets_def(key)
        pdef = node.partitions_def
        assert isinstance(pdef, dg.MultiPartitionsDefinition)
        dims = {d.name: d.partitions_def for d in pdef.partitions_defs}
        assert isinstance(dims["snapshot"], dg.DynamicPartitionsDefinition) and dims["snapshot"].name == "snapshots"
        assert dims["shard"].get_partition_keys() == shard_keys(4)
        assert {s.name for s in node.check_specs} >= {"schema_matches", "non_empty", "unique_ids"}
    assert defs.resolve_job_def("curate_shards") is not None
    assert defs.resolve_sensor_def("crawl_sensor") and defs.resolve_schedule_def("snapshot_schedule")


def _materialize_all(instance, resources, snapshots):
    recomputed, metadata = {}, {}
    for s in snapshots:
        for shard in shard_keys(4):
            res = dg.materialize([warc_files, documents, language], selection=[documents, language],
                                 partition_key=partition_key(s, shard), instance=instance, resources=resources)
            assert res.success
            for ev in res.get_asset_check_evaluations():
                assert ev.passed, (s, shard, ev.check_name, ev.metadata)
            for asset in ("documents", "language"):
                (mat,) = res.asset_materializations_for_node(asset)
                recomputed[(asset, s, shard)] = mat.metadata["recomputed"].value
                metadata[(asset, s, shard)] = mat.metadata
    return recomputed, metadata


def test_materialise_every_partition_then_rerun_only_the_changed_shard(small_crawl, tmp_path):
    resources = {"crawl": CrawlSourceResource(root=str(small_crawl)),
                 "storage": StorageResource(base=str(tmp_path / "out")), "langid": LanguageIdResource()}
    snapshots = CrawlSource(str(small_crawl)).list_snapshots()
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(SNAPSHOTS.name, snapshots)
        first, _ = _materialize_all(instance, resources, snapshots)
        assert all(first.values()) and len(first) == 2 * 2 * 4
        for s in snapshots:
            for shard in shard_keys(4):
                assert (tmp_path / f"out/documents/{s}/{shard}.parquet").exists()
                assert (tmp_path / f"out/language/{s}/{shard}.parquet").exists()
        docs = pq.read_table(tmp_path / "out/documents").to_pylist()
        assert len(docs) == len({d["id"] for d in docs}) > 40

        # Replace one WARC file: only its shard is recomputed, in both assets.
        src = CrawlSource(str(small_crawl))
        target = next(f for f in src.list_files("CC-MAIN-2024-22") if "jwarc" in f.path)
        html = b"<html><body><article><p>" + b"A replaced page with new text. " * 20 + b"</p></article></body></html>"
        (small_crawl / target.path).write_bytes(warc_gz([response("http://commoncrawl.org/", html)]))
        changed = shard_keys(4)[shard_index(target.path, 4)]

        second, meta = _materialize_all(instance, resources, snapshots)
        assert sorted(k for k, v in second.items() if v) == [("documents", "CC-MAIN-2024-22", changed),
                                                            ("language", "CC-MAIN-2024-22", changed)]
        texts = pq.read_table(tmp_path / f"out/documents/CC-MAIN-2024-22/{changed}.parquet").column("text").to_pylist()
        assert any("A replaced page" in t for t in texts)

        # The materialisation metadata a user reads in the UI, also on a shard that was not recomputed.
        unchanged = next(k for k, v in second.items() if k[0] == "documents" and not v and meta[k]["documents_out"].value)
        for key in ("records_in", "documents_out", "dropped", "seconds", "path", "fingerprint", "input_bytes"):
            assert key in meta[unchanged]
        assert meta[unchanged]["output_bytes"].value > 0


def test_sensor_registers_snapshots_and_requests_only_changed_shards(small_crawl):
    crawl = CrawlSourceResource(root=str(small_crawl))
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources={"crawl": crawl})
        result = crawl_sensor(ctx)
        (req,) = result.dynamic_partitions_requests
        assert sorted(req.partition_keys) == ["CC-MAIN-2020-34", "CC-MAIN-2024-22"]
        non_empty = sum(bool(v) for s in req.partition_keys for v in CrawlSource(str(small_crawl)).files_by_shard(s, 4).values())
        assert len(result.run_requests) == non_empty
        instance.add_dynamic_partitions(SNAPSHOTS.name, list(req.partition_keys))

        again = crawl_sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor, resources={"crawl": crawl}))
        assert again.run_requests == [] and again.dynamic_partitions_requests == []

        rel = "crawl-data/CC-MAIN-2020-34/segments/s/warc/new-file.warc.gz"
        (small_crawl / rel).write_bytes(warc_gz([response("http://new.org/", b"<html><body><p>new</p></body></html>")]))
        listing = small_crawl / "crawl-data/CC-MAIN-2020-34/warc.paths.gz"
        import gzip
        listing.write_bytes(gzip.compress(gzip.decompress(listing.read_bytes()) + (rel + "\n").encode()))
        third = crawl_sensor(dg.build_sensor_context(instance=instance, cursor=again.cursor, resources={"crawl": crawl}))
        (run,) = third.run_requests
        assert run.partition_key == partition_key("CC-MAIN-2020-34", shard_keys(4)[shard_index(rel, 4)])


def test_schedule_registers_new_snapshots_once(small_crawl):
    crawl = CrawlSourceResource(root=str(small_crawl))
    with dg.instance_for_test() as instance:
        result = snapshot_schedule(dg.build_schedule_context(instance=instance, resources={"crawl": crawl}))
        assert sorted(result.dynamic_partitions_requests[0].partition_keys) == ["CC-MAIN-2020-34", "CC-MAIN-2024-22"]
        instance.add_dynamic_partitions(SNAPSHOTS.name, ["CC-MAIN-2020-34", "CC-MAIN-2024-22"])
        assert isinstance(snapshot_schedule(dg.build_schedule_context(instance=instance, resources={"crawl": crawl})), dg.SkipReason)
