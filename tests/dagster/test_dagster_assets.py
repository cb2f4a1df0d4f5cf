"""The Dagster layer: definitions load with the right assets and partitions, every partition of a real
crawl materialises with passing checks, a rerun after one WARC file changed recomputes exactly that
shard, and the sensor/schedule turn new snapshots and changed files into exactly the right run requests."""

import dagster as dg
import pyarrow.parquet as pq

from curation.core.sharding import shard_index, shard_keys
from curation.extract.sources import CrawlSource, fingerprint
from curation.extract.warc_writer import response, warc_gz
from curation_assets.dedup import dedup, dedup_clusters, minhash_signatures
from curation_assets.definitions import defs
from curation_assets.documents import documents
from curation_assets.language import language
from curation_assets.partitions import SNAPSHOT_SHARDS, SNAPSHOTS, partition_key
from curation_assets.sources import warc_files
from resources import CrawlSourceResource, DedupResource, LanguageIdResource, StorageResource
from sensors import crawl_sensor, snapshot_schedule


def test_definitions_have_assets_partitions_and_automation():
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    assert keys == {"warc_files", "documents", "language", "minhash_signatures", "tokens", "dedup_clusters", "dedup",
                    "quality_annotations", "quality_classifier", "quality", "rewrites", "corpora", "mixtures/demo",
                    "benchmark_index", "contamination", "pii", "blocklist"}
    rw = defs.resolve_assets_def("rewrites")
    assert rw.partitions_def == SNAPSHOT_SHARDS and rw.node_def.pool == "gpu"  # one model-bound step per device
    assert defs.resolve_assets_def("dedup_clusters").partitions_def == SNAPSHOTS
    for key in ("documents", "language", "minhash_signatures", "dedup"):
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


def _dedup_all(instance, resources, snapshots):
    """Signatures per shard, clusters per snapshot, labels per shard; returns what was recomputed."""
    recomputed, metadata = {}, {}

    def run(assets, selected, key, name, label):
        res = dg.materialize(assets, selection=selected, partition_key=key, instance=instance, resources=resources)
        assert res.success
        for ev in res.get_asset_check_evaluations():
            assert ev.passed, (label, ev.check_name, ev.metadata)
        (mat,) = res.asset_materializations_for_node(name)
        recomputed[label] = mat.metadata["recomputed"].value
        metadata[label] = mat.metadata

    for s in snapshots:
        for shard in shard_keys(4):
            run([warc_files, documents, minhash_signatures], [documents, minhash_signatures],
                partition_key(s, shard), "minhash_signatures", ("minhash_signatures", s, shard))
        run([minhash_signatures, dedup_clusters], [dedup_clusters], s, "dedup_clusters", ("dedup_clusters", s))
        for shard in shard_keys(4):
            run([minhash_signatures, dedup_clusters, dedup], [dedup], partition_key(s, shard), "dedup", ("dedup", s, shard))
    return recomputed, metadata


def test_dedup_reruns_one_shard_signatures_the_clustering_and_only_shards_whose_labels_changed(small_crawl, tmp_path):
    resources = {"crawl": CrawlSourceResource(root=str(small_crawl)),
                 "storage": StorageResource(base=str(tmp_path / "out")), "dedup_settings": DedupResource()}
    snapshots = CrawlSource(str(small_crawl)).list_snapshots()
    snap = "CC-MAIN-2024-22"
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(SNAPSHOTS.name, snapshots)
        first, meta = _dedup_all(instance, resources, snapshots)
        assert all(first.values())
        assert meta[("dedup_clusters", snap)]["documents"].value > 40
        labels = pq.read_table(tmp_path / "out/dedup").to_pylist()
        docs = pq.read_table(tmp_path / "out/documents").to_pylist()
        assert sorted(r["id"] for r in labels) == sorted(d["id"] for d in docs)

        # A new WARC file in one shard holding a copy of a long page that lives in another shard.
        page = max((d for d in docs if d["snapshot"] == snap), key=lambda d: len(d["text"]))
        name = next(f"copy-{i}.warc.gz" for i in range(100)
                    if shard_keys(4)[shard_index(f"crawl-data/{snap}/segments/s/warc/copy-{i}.warc.gz", 4)] != page["shard"])
        rel = f"crawl-data/{snap}/segments/s/warc/{name}"
        paras = "".join(f"<p>{line}</p>" for line in page["text"].split("\n") if line.strip())
        html = f"<html><head><title>copy</title></head><body><article>{paras}</article></body></html>".encode()
        (small_crawl / rel).write_bytes(warc_gz([response("http://mirror.example/copy", html)]))
        import gzip
        listing = small_crawl / f"crawl-data/{snap}/warc.paths.gz"
        listing.write_bytes(gzip.compress(gzip.decompress(listing.read_bytes()) + (rel + "\n").encode()))
        new_shard = shard_keys(4)[shard_index(rel, 4)]

        second, meta = _dedup_all(instance, resources, snapshots)
        assert sorted(k for k, v in second.items() if v) == sorted([
            ("minhash_signatures", snap, new_shard), ("dedup_clusters", snap),
            ("dedup", snap, new_shard), ("dedup", snap, page["shard"])])
        assert meta[("dedup_clusters", snap)]["shards_with_changed_decisions"].value == sorted([new_shard, page["shard"]])
        after = {r["id"]: r for r in pq.read_table(tmp_path / f"out/dedup/{snap}").to_pylist()}
        original = after[page["id"]]
        assert original["cluster_size"] >= 2 and original["cluster_id"] is not None
        copies = [r for r in after.values() if r["cluster_id"] == original["cluster_id"]]
        assert sum(r["keep"] for r in copies) == 1
        assert {r["reason"] for r in copies if not r["keep"]} <= {"minhash_duplicate", "exact_duplicate"}
        assert meta[("dedup_clusters", snap)]["near_duplicates_removed"].value + \
            meta[("dedup_clusters", snap)]["exact_duplicates_removed"].value >= 1


def test_sensor_registers_snapshots_and_records_versions_of_only_changed_shards(small_crawl, tmp_path):
    crawl = CrawlSourceResource(root=str(small_crawl))
    resources = {"crawl": crawl, "storage": StorageResource(base=str(tmp_path / "out"))}
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources=resources)
        result = crawl_sensor(ctx)
        (req,) = result.dynamic_partitions_requests
        assert sorted(req.partition_keys) == ["CC-MAIN-2020-34", "CC-MAIN-2024-22"]
        assert result.run_requests == []  # automation requests the runs
        # a data version for every shard, empty ones too (a snapshot's clustering needs all of its shards)
        assert len(result.asset_events) == 8 and {ev.asset_key.to_user_string() for ev in result.asset_events} == {
            "warc_files"}
        fps = {(s, sh): fingerprint(files) for s in req.partition_keys
               for sh, files in CrawlSource(str(small_crawl)).files_by_shard(s, 4).items()}
        assert {ev.partition: ev.tags["dagster/data_version"] for ev in result.asset_events} == {
            str(partition_key(s, sh)): fp for (s, sh), fp in fps.items()}
        instance.add_dynamic_partitions(SNAPSHOTS.name, list(req.partition_keys))

        again = crawl_sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor, resources=resources))
        assert again.asset_events == [] and again.dynamic_partitions_requests == []

        rel = "crawl-data/CC-MAIN-2020-34/segments/s/warc/new-file.warc.gz"
        (small_crawl / rel).write_bytes(warc_gz([response("http://new.org/", b"<html><body><p>new</p></body></html>")]))
        listing = small_crawl / "crawl-data/CC-MAIN-2020-34/warc.paths.gz"
        import gzip
        listing.write_bytes(gzip.compress(gzip.decompress(listing.read_bytes()) + (rel + "\n").encode()))
        third = crawl_sensor(dg.build_sensor_context(instance=instance, cursor=again.cursor, resources=resources))
        (ev,) = third.asset_events
        assert ev.partition == partition_key("CC-MAIN-2020-34", shard_keys(4)[shard_index(rel, 4)])

        # a fresh cursor on an instance that already recorded these versions records nothing again
        for e in third.asset_events + result.asset_events:
            if e.partition != ev.partition or e is ev:
                instance.report_runless_asset_event(e)
        assert crawl_sensor(dg.build_sensor_context(instance=instance, resources=resources)).asset_events == []


def test_schedule_observes_warc_files_which_registers_snapshots_once(small_crawl, tmp_path):
    with dg.instance_for_test() as instance:
        import datetime

        when = datetime.datetime(2026, 12, 2, 3, tzinfo=datetime.timezone.utc)
        req = snapshot_schedule(dg.build_schedule_context(instance=instance, scheduled_execution_time=when))
        assert req.run_key == "observe-2026-12-02"  # one observation run per day, whatever the retries
        job = dg.Definitions(assets=[warc_files], jobs=[dg.define_asset_job("observe_warc_files", [warc_files])],
                             resources={"crawl": CrawlSourceResource(root=str(small_crawl)),
                                        "storage": StorageResource(base=str(tmp_path / "out"))}
                             ).resolve_job_def("observe_warc_files")
        assert job.execute_in_process(instance=instance).success
        assert sorted(instance.get_dynamic_partitions(SNAPSHOTS.name)) == ["CC-MAIN-2020-34", "CC-MAIN-2024-22"]
        recorded = instance.event_log_storage.get_latest_tags_by_partition(
            dg.AssetKey("warc_files"), dg.DagsterEventType.ASSET_OBSERVATION, ["dagster/data_version"])
        assert len(recorded) == 8
        assert job.execute_in_process(instance=instance).success  # nothing new: nothing registered or recorded
        assert sorted(instance.get_dynamic_partitions(SNAPSHOTS.name)) == ["CC-MAIN-2020-34", "CC-MAIN-2024-22"]
        assert instance.event_log_storage.get_latest_tags_by_partition(
            dg.AssetKey("warc_files"), dg.DagsterEventType.ASSET_OBSERVATION, ["dagster/data_version"]) == recorded


def test_missing_input_fails_at_once_naming_the_file_and_transient_errors_are_retried(small_crawl, tmp_path,
                                                                                       monkeypatch):
    resources = {"crawl": CrawlSourceResource(root=str(small_crawl)),
                 "storage": StorageResource(base=str(tmp_path / "out")), "langid": LanguageIdResource()}
    src = CrawlSource(str(small_crawl))
    snap = "CC-MAIN-2020-34"
    victim = src.list_files(snap)[0]
    shard = shard_keys(4)[shard_index(victim.path, 4)]
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(SNAPSHOTS.name, src.list_snapshots())
        (small_crawl / victim.path).unlink()
        res = dg.materialize([warc_files, documents], selection=[documents], partition_key=partition_key(snap, shard),
                             instance=instance, resources=resources, raise_on_error=False)
        assert not res.success
        types = [e.event_type_value for e in res.all_events]
        assert "STEP_UP_FOR_RETRY" not in types  # an input error does not heal: no retry
        failure = next(e for e in res.all_events if e.is_step_failure)
        assert victim.path.rsplit("/", 1)[1] in failure.step_failure_data.error.message

        # a transient storage error (S3 throttling) is retried with backoff and the run succeeds
        from curation.core.storage import ShardStore

        real_write, calls = ShardStore.write, []

        def flaky(self, *a, **k):
            calls.append(1)
            if len(calls) == 1:
                raise OSError("SlowDown: please reduce your request rate")
            return real_write(self, *a, **k)

        monkeypatch.setattr(ShardStore, "write", flaky)
        other = next(sh for sh in shard_keys(4) if sh != shard and src.files_by_shard(snap, 4)[sh])
        res = dg.materialize([warc_files, documents], selection=[documents], partition_key=partition_key(snap, other),
                             instance=instance, resources=resources, raise_on_error=False)
        assert res.success and len(calls) == 2
        assert "STEP_UP_FOR_RETRY" in [e.event_type_value for e in res.all_events]
