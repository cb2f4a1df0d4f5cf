"""The crawl source and the shard store on S3, against moto's S3 server on loopback (a real HTTP server,
started by the test): listing snapshots, reading WARC files through s3fs, writing and reading shards."""

import socket

import boto3
import pytest

from curation.extract.documents import DocumentBuilder
from curation.core.storage import ShardStore
from resources import CrawlSourceResource, StorageResource
from tests.conftest import SAMPLE


@pytest.fixture
def s3_endpoint(monkeypatch):
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for k, v in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_crawl_on_s3_lists_reads_and_stores(s3_endpoint):
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="crawl")
    s3.create_bucket(Bucket="out")
    snap = "CC-MAIN-2024-22"
    keep = ["jwarc-commoncrawl.org.warc.gz", "cc-main-2024-22.whirlwind.warc.gz", "wail-stringjs.com-2017.warc"]
    lines = []
    for name in keep:
        rel = f"crawl-data/{snap}/segments/sample/warc/{name}"
        s3.upload_file(str(SAMPLE / rel), "crawl", f"cc/{rel}")
        lines.append(rel)
    import gzip
    s3.put_object(Bucket="crawl", Key=f"cc/crawl-data/{snap}/warc.paths.gz", Body=gzip.compress("\n".join(lines).encode()))

    source = CrawlSourceResource(root="s3://crawl/cc", endpoint_url=s3_endpoint).source()
    assert source.list_snapshots() == [snap]
    files = source.list_files(snap)
    assert sorted(f.path.rsplit("/", 1)[1] for f in files) == sorted(keep)
    assert all(f.size and f.version and f.version != "missing" for f in files)  # ETags from the listing
    table, counts = DocumentBuilder(source).build(snap, "0000", files)
    assert set(table.column("url").to_pylist()) == {"http://commoncrawl.org/", "https://an.wikipedia.org/wiki/Escopete",
                                                    "http://stringjs.com/"}

    store = StorageResource(base="s3://out/curated", endpoint_url=s3_endpoint).store()
    assert isinstance(store, ShardStore) and not store.is_local
    store.write("documents", snap, "0000", table, {"fingerprint": "f1", "rows": table.num_rows})
    assert store.info("documents", snap, "0000") == {"fingerprint": "f1", "rows": 3}
    assert store.read("documents", snap, "0000").num_rows == 3
    assert store.url("documents", snap, "0000") == f"s3://out/curated/documents/{snap}/0000.parquet"

    # dedup side files on S3: uploaded whole, downloaded for memory-mapping
    import tempfile

    from curation.dedup.arrays import ArrayFile, write_buckets
    from curation.dedup.config import DedupConfig, hasher
    from curation.dedup.signatures import signature_table

    sig = signature_table(table, hasher(DedupConfig().minhash))
    store.write_side("minhash_signatures", snap, "0000.buckets", lambda p: write_buckets(p, sig, 14, "f2"))
    assert store.side_exists("minhash_signatures", snap, "0000.buckets")
    assert store.snapshots("minhash_signatures") == [snap]
    with tempfile.TemporaryDirectory() as work:
        buckets = ArrayFile(store.local_side("minhash_signatures", snap, "0000.buckets", work))
        assert buckets.meta == {"fingerprint": "f2", "rows": 3, "n_bands": 14}
        assert len(buckets["band00.keys"]) == 3 and list(buckets["text.keys"]) == sorted(buckets["text.keys"])
        with pytest.raises(FileNotFoundError, match="0001.buckets"):
            store.local_side("minhash_signatures", snap, "0001.buckets", work)


def test_sensor_on_an_s3_crawl_root(s3_endpoint, tmp_path):
    import gzip

    import dagster as dg

    from curation.core.sharding import shard_index, shard_keys
    from curation.extract.warc_writer import response, warc_gz
    from curation_assets.partitions import SNAPSHOTS, partition_key
    from sensors import crawl_sensor

    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="crawl-root")
    snap = "CC-MAIN-2024-22"
    rels = []
    for name in ("jwarc-commoncrawl.org.warc.gz", "cc-main-2024-22.whirlwind.warc.gz"):
        rel = f"crawl-data/{snap}/segments/sample/warc/{name}"
        s3.upload_file(str(SAMPLE / rel), "crawl-root", rel)
        rels.append(rel)
    s3.put_object(Bucket="crawl-root", Key=f"crawl-data/{snap}/warc.paths.gz", Body=gzip.compress("\n".join(rels).encode()))
    crawl = CrawlSourceResource(root="s3://crawl-root", endpoint_url=s3_endpoint)
    resources = {"crawl": crawl, "storage": StorageResource(base=str(tmp_path / "out"))}
    with dg.instance_for_test() as instance:
        first = crawl_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        assert list(first.dynamic_partitions_requests[0].partition_keys) == [snap] and len(first.asset_events) == 4
        instance.add_dynamic_partitions(SNAPSHOTS.name, [snap])
        # a new WARC file lands in the bucket: exactly its shard is requested
        rel = f"crawl-data/{snap}/segments/sample/warc/new.warc.gz"
        s3.put_object(Bucket="crawl-root", Key=rel, Body=warc_gz([response("http://new.org/", b"<html><body><p>x</p></body></html>")]))
        s3.put_object(Bucket="crawl-root", Key=f"crawl-data/{snap}/warc.paths.gz",
                      Body=gzip.compress("\n".join(rels + [rel]).encode()))
        second = crawl_sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=resources))
        (ev,) = second.asset_events  # a new data version of warc_files for that shard: automation reruns it
        assert ev.partition == partition_key(snap, shard_keys(4)[shard_index(rel, 4)])
        # the same file replaced (new ETag): its shard again, and only it
        s3.put_object(Bucket="crawl-root", Key=rel, Body=warc_gz([response("http://new.org/", b"<html><body><p>y</p></body></html>")]))
        third = crawl_sensor(dg.build_sensor_context(instance=instance, cursor=second.cursor, resources=resources))
        assert [e.partition for e in third.asset_events] == [ev.partition]
        assert third.asset_events[0].tags["dagster/data_version"] != ev.tags["dagster/data_version"]


def test_credentials_from_the_environment_outside_a_run(s3_endpoint):
    """The README's S3 path: keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY become EnvVar fields, which the
    CLI's planning step uses before Dagster resolves them (issue 25, case 14: that raised RuntimeError)."""
    import dagster as dg

    from resources import s3_credentials

    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="envcrawl")
    rel = "crawl-data/CC-MAIN-2024-22/segments/sample/warc/jwarc-commoncrawl.org.warc.gz"
    s3.upload_file(str(SAMPLE / rel), "envcrawl", rel)
    creds = s3_credentials()
    assert set(creds) == {"key", "secret"} and all(isinstance(v, dg.EnvVar) for v in creds.values())
    source = CrawlSourceResource(root="s3://envcrawl", endpoint_url=s3_endpoint, **creds).source()
    assert source.list_snapshots() == ["CC-MAIN-2024-22"]
    store = StorageResource(base="s3://envcrawl/out", endpoint_url=s3_endpoint, **creds).store()
    assert store.snapshots("documents") == []
