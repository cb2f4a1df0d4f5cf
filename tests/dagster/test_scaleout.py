"""Scale-out on an existing engine: the shard job's steps run on a Dask cluster of two worker processes
(dagster-dask executor, a dask.distributed LocalCluster on loopback), for several shards of a real crawl,
and give the same tables as a single-process run."""

import os

import dagster as dg
import pyarrow.parquet as pq
import pytest

from curation.core.sharding import shard_keys
from curation.extract.sources import CrawlSource
from curation_assets.partitions import SNAPSHOT_SHARDS, SNAPSHOTS, partition_key

COLUMNS = ["id", "url", "text", "extractor"]


def dask_job():
    from curation_assets.definitions import dask_shard_job

    return dask_shard_job()


def shard_job():
    from curation_assets.definitions import defs

    return defs.resolve_job_def("curate_shards")


def run_all(job_fn, instance, keys, run_config):
    pids = set()
    for k in keys:
        result = dg.execute_job(dg.reconstructable(job_fn), instance=instance, run_config=run_config,
                                tags=SNAPSHOT_SHARDS.get_tags_for_partition_key(k))
        assert result.success, k
        for ev in result.all_events:
            if ev.is_step_start and ev.pid:
                pids.add(ev.pid)
    return pids


def test_shards_materialised_across_dask_workers_match_a_single_process_run(small_crawl, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    snaps = CrawlSource(str(small_crawl)).list_snapshots()
    keys = [partition_key(s, sh) for s in snaps for sh in shard_keys(4)][:4]
    monkeypatch.setenv("CURATION_CRAWL_ROOT", str(small_crawl))
    outputs = {}
    for mode in ("single", "dask"):
        monkeypatch.setenv("CURATION_OUTPUT", str(tmp_path / mode))
        home = tmp_path / f"home-{mode}"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        with dg.instance_for_test(temp_dir=str(home)) as instance:
            instance.add_dynamic_partitions(SNAPSHOTS.name, snaps)
            if mode == "single":  # one process: every step in this one (resources given explicitly: the
                # definitions module may have been imported before the environment was set)
                from resources import CrawlSourceResource, LanguageIdResource, StorageResource, DedupResource

                res = {"crawl": CrawlSourceResource(root=str(small_crawl)), "langid": LanguageIdResource(),
                       "storage": StorageResource(base=str(tmp_path / mode)), "dedup_settings": DedupResource()}
                for k in keys:
                    assert shard_job().execute_in_process(partition_key=k, instance=instance, resources=res).success
            else:
                # worker processes inherit the environment (crawl root, output base) from here
                with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                              dashboard_address=None, host="127.0.0.1") as cluster:
                    config = {"execution": {"config": {"cluster": {"existing": {"address": cluster.scheduler_address}}}}}
                    pids = run_all(dask_job, instance, keys, config)
                    with distributed.Client(cluster) as client:
                        worker_pids = set(client.run(os.getpid).values())
                assert len(pids & worker_pids) == 2  # steps ran in both worker processes
                assert os.getpid() not in pids
        outputs[mode] = {
            asset: pq.read_table(tmp_path / mode / asset, columns=cols).sort_by("id").to_pylist()
            for asset, cols in (("documents", COLUMNS), ("language", ["id", "language", "language_score"]),
                                ("minhash_signatures", ["id", "text_hash", "bands"]))}
    assert outputs["single"] == outputs["dask"]
    assert len(outputs["single"]["documents"]) > 10  # 13 with the cleaned default extractor
