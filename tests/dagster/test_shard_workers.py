"""The per-shard worker pool (curation.core.pool): sizing from the CPU affinity and the cgroup quota with an
explicit setting over both, an ordered map that raises the first failure in item order, and a shard of real
WARC files written with 1 and with 2 worker processes: the same tables, data bytes and fingerprints."""

import gzip
import operator

import dagster as dg
import pyarrow.parquet as pq
import pytest

from curation.core import pool
from curation.core.pool import ShardPool, available_cpus, cgroup_cpu_limit, pool_size
from curation.core.sharding import shard_index, shard_keys
from curation.core.storage import ShardStore
from curation_assets.dedup import BUCKETS, buckets_name, minhash_signatures
from curation_assets.documents import documents
from curation_assets.language import language
from curation_assets.partitions import SNAPSHOTS, partition_key
from curation_assets.sources import warc_files
from curation_assets.tokens import tokens
from resources import CrawlSourceResource, DedupResource, LanguageIdResource, StorageResource
from tests.conftest import SAMPLE_WARC

SNAPSHOT = "CC-MAIN-2099-01"
ASSETS = ("documents", "language", "minhash_signatures", "tokens")


# ------------------------------------------------------------------------------------------------ sizing

def _cgroup(tmp_path, files: dict[str, str], proc: str = "0::/\n"):
    for rel, text in files.items():
        (tmp_path / "fs" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "fs" / rel).write_text(text)
    (tmp_path / "cgroup").write_text(proc)
    return str(tmp_path / "fs"), str(tmp_path / "cgroup")


def test_cgroup_quota_v2_and_v1_and_none(tmp_path):
    assert cgroup_cpu_limit(*_cgroup(tmp_path / "a", {"cpu.max": "150000 100000\n"})) == 1.5
    assert cgroup_cpu_limit(*_cgroup(tmp_path / "b", {"cpu.max": "max 100000\n"})) is None
    # the process's own cgroup (a pod's, below the root) wins over the root's
    assert cgroup_cpu_limit(*_cgroup(tmp_path / "c", {"cpu.max": "max 100000\n", "kubepods/pod1/cpu.max": "400000 100000"},
                                     "0::/kubepods/pod1\n")) == 4.0
    v1 = {"cpu,cpuacct/cpu.cfs_quota_us": "50000\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"}
    assert cgroup_cpu_limit(*_cgroup(tmp_path / "d", v1, "4:cpu,cpuacct:/\n")) == 0.5
    unlimited = {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}
    assert cgroup_cpu_limit(*_cgroup(tmp_path / "e", unlimited, "4:cpu:/\n")) is None
    assert cgroup_cpu_limit(str(tmp_path / "missing"), str(tmp_path / "missing")) is None


def test_pool_size_is_affinity_capped_by_the_quota_rounded_up_and_an_explicit_setting_overrides(tmp_path, monkeypatch):
    import os

    cores = len(os.sched_getaffinity(0))
    monkeypatch.setitem(pool._DEFAULT, "workers", None)  # restored after the test
    assert available_cpus(*_cgroup(tmp_path / "a", {"cpu.max": "max 100000"})) == cores
    assert available_cpus(*_cgroup(tmp_path / "b", {"cpu.max": "50000 100000"})) == 1  # half a CPU: one worker
    assert available_cpus(*_cgroup(tmp_path / "c", {"cpu.max": "150000 100000"})) == min(cores, 2)
    assert 1 <= pool_size() <= cores
    # the explicit setting: $CURATION_SHARD_WORKERS through the settings, which install it in the process
    from curation_assets.settings import Settings, SettingsError

    pool.set_default_workers(Settings.from_env({pool.ENV: "3"}).shard_workers)
    assert pool_size() == 3 and pool_size(5) == 5
    pool.set_default_workers(Settings.from_env({pool.ENV: "auto"}).shard_workers)
    assert pool_size() == available_cpus()
    with pytest.raises(SettingsError, match="CURATION_SHARD_WORKERS: expected a positive integer or 'auto', got 'two'"):
        Settings.from_env({pool.ENV: "two"})


def test_ordered_map_in_worker_processes_and_the_first_failure_in_item_order():
    items = [5, 1, 4, 2, 3, 6, 7]
    with ShardPool(int, ("3",), 2, name="test") as p:  # state: int("3"), built once in each worker
        assert p.map(operator.mul, items, cost=items) == [3 * i for i in items]
        assert list(p.imap(operator.sub, items)) == [3 - i for i in items]
    with ShardPool(int, ("3",), 1) as p:  # one worker: in this process, same results
        assert p.map(operator.mul, items) == [3 * i for i in items]
    for workers in (1, 2):
        with ShardPool(int, ("3",), workers) as p, pytest.raises(ZeroDivisionError):
            p.map(operator.truediv, [1, 2, 0, 4, 0, 5])


# ------------------------------------------------------------------------------------ a shard, 1 vs 2

@pytest.fixture
def crawl(tmp_path):
    """The sample crawl's gzipped WARC files (real pages) under one snapshot, and the shard holding most of them."""
    files = sorted(SAMPLE_WARC.rglob("*.warc.gz"))
    rels = [f"crawl-data/{SNAPSHOT}/segments/s/warc/{f.name}" for f in files]
    for f, rel in zip(files, rels):
        (tmp_path / "crawl" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "crawl" / rel).write_bytes(f.read_bytes())
    (tmp_path / "crawl" / f"crawl-data/{SNAPSHOT}/warc.paths.gz").write_bytes(gzip.compress("\n".join(rels).encode()))
    counts = [sum(shard_index(r, 4) == i for r in rels) for i in range(4)]
    shard = shard_keys(4)[counts.index(max(counts))]
    assert max(counts) >= 3
    return tmp_path / "crawl", shard


def _write_shard(crawl_root, shard, out, workers, monkeypatch):
    monkeypatch.setitem(pool._DEFAULT, "workers", workers)  # what the settings install from CURATION_SHARD_WORKERS
    resources = {"crawl": CrawlSourceResource(root=str(crawl_root)), "storage": StorageResource(base=str(out)),
                 "langid": LanguageIdResource(), "dedup_settings": DedupResource()}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(SNAPSHOTS.name, [SNAPSHOT])
        res = dg.materialize([warc_files, documents, language, minhash_signatures, tokens],
                             selection=[documents, language, minhash_signatures, tokens],
                             partition_key=partition_key(SNAPSHOT, shard), instance=instance, resources=resources)
    assert res.success
    for ev in res.get_asset_check_evaluations():
        assert ev.passed, (workers, ev.asset_key, ev.check_name, ev.metadata)
    return ShardStore(str(out))


def test_a_shard_written_with_1_and_2_workers_is_identical(crawl, tmp_path, monkeypatch):
    from curation.dedup import signatures
    from curation.langid import identify
    from curation.models import tokenizer

    crawl_root, shard = crawl
    for module in (identify, signatures, tokenizer):  # slices of 16 documents: several tasks on this small shard
        monkeypatch.setattr(module, "ROWS_PER_TASK", 16)
    pooled: list[tuple[str, int, int]] = []
    imap = ShardPool.imap

    def spy(self, fn, items, *args, **kwargs):
        items = list(items)
        pooled.append((self.name, self.workers, len(items)))
        return imap(self, fn, items, *args, **kwargs)

    monkeypatch.setattr(ShardPool, "imap", spy)
    one = _write_shard(crawl_root, shard, tmp_path / "one", 1, monkeypatch)
    assert pooled and all(w == 1 for _, w, _ in pooled)
    pooled.clear()
    two = _write_shard(crawl_root, shard, tmp_path / "two", 2, monkeypatch)
    names = {name.split(" of ")[0] for name, w, n in pooled if w == 2 and n >= 2}
    assert names == {"documents", "language ID", "MinHash signatures", "token counts"}, pooled
    for asset in ASSETS:
        a, b = one.path(asset, SNAPSHOT, shard), two.path(asset, SNAPSHOT, shard)
        ta, tb = pq.read_table(a), pq.read_table(b)
        assert ta.num_rows > 20 and ta.equals(tb), asset
        assert one.info(asset, SNAPSHOT, shard)["fingerprint"] == two.info(asset, SNAPSHOT, shard)["fingerprint"]
        # length and CRC-32 of every byte before the footer: the data pages are byte-identical
        assert pq.read_metadata(a).metadata[b"curation_data"] == pq.read_metadata(b).metadata[b"curation_data"]
    side = (BUCKETS, SNAPSHOT, buckets_name(shard))
    with open(one.side_path(*side), "rb") as fa, open(two.side_path(*side), "rb") as fb:
        assert fa.read() == fb.read()


def test_quality_signals_with_1_and_2_workers_are_identical(crawl, tmp_path, monkeypatch):
    from curation.extract.documents import DocumentBuilder
    from curation.extract.sources import CrawlSource
    from curation.quality import signals

    crawl_root, _ = crawl
    source = CrawlSource(str(crawl_root))
    files = source.list_files(SNAPSHOT)[:3]
    docs, _ = DocumentBuilder(source).build(SNAPSHOT, "0000", files, workers=1)
    monkeypatch.setattr(signals, "ROWS_PER_TASK", 16)
    ids, texts = docs.column("id").to_pylist(), docs.column("text").to_pylist()
    langs = ["en", "de", None] * (len(ids) // 3) + ["en"] * (len(ids) % 3)
    a = signals.signals_table(ids, texts, langs, workers=1)
    b = signals.signals_table(ids, texts, langs, workers=2)
    assert len(ids) > 32 and a.equals(b)


def test_curation_run_workers_times_the_pool_stay_within_the_cores(monkeypatch):
    from curation_cli import execute

    import dataclasses

    from curation_assets import settings as settings_module

    monkeypatch.setattr(execute, "available_cpus", lambda: 8)
    monkeypatch.setitem(pool._DEFAULT, "workers", None)
    before = settings_module.current()
    try:
        for workers, flag, expected in ((8, None, 1), (2, None, 4), (3, None, 2), (1, None, 8), (16, None, 1),
                                        (2, 3, 3)):
            assert execute.share_cores(workers, flag) == expected
            # curation run puts it in the settings every run process installs: their pools are that size
            settings_module.use(dataclasses.replace(before, shard_workers=expected))
            assert pool.pool_size() == expected
        # the user's own setting ($CURATION_SHARD_WORKERS, read by the settings) wins over cores // workers
        assert execute.share_cores(2, settings_module.Settings.from_env({pool.ENV: "5"}).shard_workers) == 5
    finally:
        settings_module.use(before)
