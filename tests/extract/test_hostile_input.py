"""Hostile input and damaged state: each case is built with the project's WARC writer into a crawl that also holds
normal pages. Every normal page becomes a document, every hostile page a counted reason or a noted fallback,
``records_in = documents + dropped`` holds, an unreadable file is counted and named while its shard completes, the
inflation cases stay under 1 GB of RSS (measured in a subprocess), damaged output tables are recomputed, names that
would leave their folder are refused, errors that cannot heal are not retried, and credentials are never shown.

Per-page costs are printed (``pytest -s``), not asserted: the mechanism is (pages counted ``dom_too_deep``)."""

import json
import os
import random
import struct
import subprocess
import sys
import time
import zlib
from collections import Counter

import dagster as dg
import pytest

from curation.core import storage
from curation.extract.documents import DocumentBuilder, split_counts
from curation.core.names import UnsafeNameError, safe_relative
from curation.core.credentials import redact_url, split_credentials
from curation.extract.sources import CrawlSource
from curation.core.storage import ShardStore
from curation.extract.warc_writer import gzip_member, response, warc_gz
from curation_assets.documents import documents
from curation_assets.partitions import SNAPSHOTS, partition_key
from curation_assets.sources import warc_files
from resources import CrawlSourceResource, StorageResource
from tests.conftest import ROOT, write_crawl

SNAP = "CC-MAIN-2099-01"
NORMAL = [f"http://normal.example/{i}" for i in range(4)]


def normal_page(i: int) -> bytes:
    paras = "".join(f"<p>Paragraph {j} of normal page {i}: ordinary prose about rivers, bridges and the towns "
                    f"along them, long enough to count as main content.</p>" for j in range(6))
    return f"<html><head><title>Page {i}</title></head><body><article>{paras}</article></body></html>".encode()


HELLO = b"<html><body><article><p>" + b"Hello from a page whose charset header lies about it. " * 8 + \
        b"</p></article></body></html>"


def _inflating_to(nbytes: int, prefix: bytes) -> bytes:
    """A gzip member of ``prefix`` + ``nbytes`` zero bytes (rounded down to MiB), built in milliseconds: a deflate
    block of 1 MiB of zeros after a full flush is independent of what came before, so it is compressed once and
    repeated; the trailer's CRC and size are those of the whole."""
    c, zeros, n = zlib.compressobj(9, zlib.DEFLATED, -15), b"\0" * (1 << 20), nbytes >> 20
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(prefix)
    for _ in range(n):
        crc = zlib.crc32(zeros, crc)
    trailer = struct.pack("<II", crc, (len(prefix) + (n << 20)) & 0xFFFFFFFF)
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + head + block * n + c.flush() + trailer


def _member_bomb(nbytes: int) -> bytes:
    """A WARC response record whose gzip member inflates to ``nbytes`` (the last member of its file)."""
    head = (b"WARC/1.1\r\nWARC-Type: response\r\nWARC-Target-URI: http://bomb.example/member\r\n"
            b"Content-Type: application/http;msgtype=response\r\nContent-Length: %d\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" % nbytes)
    return _inflating_to(nbytes, head)


HOSTILE_PAGES = {  # url -> (record bytes, what must happen)
    "http://hostile.example/base64": (response("http://hostile.example/base64", HELLO,
                                               content_type="text/html; charset=base64"), "charset_fallback"),
    "http://hostile.example/rot13": (response("http://hostile.example/rot13",
                                              b'<html><head><meta charset="rot13"></head>' + HELLO[6:]),
                                     "charset_fallback"),
    "http://hostile.example/zlib": (response("http://hostile.example/zlib", HELLO,
                                             content_type="text/html; charset=zlib"), "charset_fallback"),
    "http://hostile.example/utf16": (response("http://hostile.example/utf16", HELLO,  # an even number of bytes: it decodes as utf-16
                                              content_type="text/html; charset=utf-16"), "charset_implausible"),
    "http://hostile.example/ce-bomb": (response("http://hostile.example/ce-bomb", _inflating_to(64 << 20, b"<html>"),
                                                extra_headers={"Content-Encoding": "gzip"}), "too_large"),
    "http://hostile.example/deep": (response("http://hostile.example/deep",
                                             b"<html><body>" + b"<div>" * 20000 + b"deep" + b"</div>" * 20000),
                                    "dom_too_deep"),
    "http://hostile.example/unmatched": (response("http://hostile.example/unmatched",
                                                  b"<html><body>" + b"<span></x>" * 20000), "dom_too_deep"),
    # EBCDIC writes '<' as 0x4C: a count of '<' bytes saw none, and 20,000 nested elements reached the extractor
    "http://hostile.example/ebcdic-deep": (response("http://hostile.example/ebcdic-deep",
                                                    ("<html><body>" + "<div>" * 20000 + "deep").encode("cp500"),
                                                    content_type="text/html; charset=cp500"), "dom_too_deep"),
}
DROPPED = {"too_large", "dom_too_deep"}


def unreadable_files() -> dict[str, bytes]:
    return {"random.warc.gz": random.Random(15).randbytes(8192),
            "plain.warc.gz": b"just some text that a crawler saved under the wrong name\n" * 100}


def hostile_crawl(root, bomb_mib: int = 300) -> list[str]:
    """Normal pages, the hostile pages, a file whose last member inflates past the 256 MiB cap of the tail check,
    and two files that are no WARC at all."""
    return write_crawl(root, SNAP, {
        "normal.warc.gz": warc_gz([response(u, normal_page(i)) for i, u in enumerate(NORMAL[:2])]),
        "hostile.warc.gz": warc_gz([r for r, _ in HOSTILE_PAGES.values()]
                                   + [response(u, normal_page(i + 2)) for i, u in enumerate(NORMAL[2:])]),
        "bomb.warc.gz": gzip_member(response("http://bomb.example/ok", normal_page(9))) + _member_bomb(bomb_mib << 20),
        **unreadable_files(),
    })


def test_every_hostile_case_is_counted_and_every_normal_page_kept(tmp_path):
    hostile_crawl(tmp_path)
    src = CrawlSource(str(tmp_path))
    builder = DocumentBuilder(src)
    unreadable, seconds = [], {}
    t0 = time.perf_counter()
    table, counts = builder.build(SNAP, "0000", src.list_files(SNAP), on_unreadable=lambda f, why: unreadable.append(why))
    seconds["whole crawl"] = time.perf_counter() - t0
    urls = table.column("url").to_pylist()
    assert set(NORMAL) | {"http://bomb.example/ok"} <= set(urls)
    dropped, notes = split_counts(counts)
    assert counts["records_in"] == table.num_rows + sum(dropped.values())
    expected = Counter(why for why in (w for _, w in HOSTILE_PAGES.values()))
    assert dropped.get("too_large") == expected["too_large"] + 1  # + the 300 MiB member
    assert dropped.get("dom_too_deep") == expected["dom_too_deep"]
    assert notes.get("charset_fallback") == expected["charset_fallback"]
    assert notes.get("charset_implausible") == expected["charset_implausible"]
    for url, (_, why) in HOSTILE_PAGES.items():
        assert (url in urls) == (why not in DROPPED), url
    texts = dict(zip(urls, table.column("text").to_pylist()))
    assert "Hello from a page" in texts["http://hostile.example/utf16"]  # detection, not CJK garbage
    assert notes.get("unreadable_file") == 2 and len(unreadable) == 2
    assert any("random.warc.gz" in u for u in unreadable) and any("plain.warc.gz" in u for u in unreadable)
    # the cost of each hostile page alone (recorded, not asserted: the machine is shared)
    for url, (rec, _) in HOSTILE_PAGES.items():
        write_crawl(tmp_path / url.rsplit("/", 1)[1], SNAP, {"one.warc.gz": warc_gz([rec])})
        one = CrawlSource(str(tmp_path / url.rsplit("/", 1)[1]))
        t0 = time.process_time()
        DocumentBuilder(one).build(SNAP, "0000", one.list_files(SNAP))
        seconds[url] = time.process_time() - t0
    print("CPU seconds per hostile page:", json.dumps({k: round(v, 3) for k, v in seconds.items()}))


RSS_SCRIPT = """
import sys
from curation.extract.documents import DocumentBuilder
from curation.extract.sources import CrawlSource
src = CrawlSource(sys.argv[1])
files = [f for f in src.list_files(sys.argv[2]) if "bomb" in f.path or "hostile" in f.path]
table, counts = DocumentBuilder(src).build(sys.argv[2], "0000", files)
# VmHWM: this process's own peak (ru_maxrss would also count the forking pytest process's size before exec)
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(counts["too_large"], hwm)
"""


def test_inflation_cases_stay_under_1_gb_of_memory(tmp_path):
    hostile_crawl(tmp_path, bomb_mib=1280)  # 1.3 MB on disk; inflating the member whole would take 1.25 GiB
    out = subprocess.run([sys.executable, "-c", RSS_SCRIPT, str(tmp_path), SNAP], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert out.returncode == 0, out.stderr
    too_large, maxrss_kb = map(int, out.stdout.split()[-2:])
    print(f"peak RSS on the inflation cases: {maxrss_kb / 1024:.0f} MiB")
    assert too_large == 2 and maxrss_kb < 1024 * 1024


def _materialize_documents(instance, crawl, out, snapshot=SNAP, shard="0000", raise_on_error=True):
    resources = {"crawl": CrawlSourceResource(root=str(crawl)), "storage": StorageResource(base=str(out))}
    return dg.materialize([warc_files, documents], selection=[documents], partition_key=partition_key(snapshot, shard),
                          instance=instance, resources=resources, raise_on_error=raise_on_error)


def test_documents_asset_warns_naming_unreadable_files_and_recomputes_a_corrupted_table(tmp_path):
    from curation.core.sharding import shard_key

    crawl = tmp_path / "crawl"
    shard = shard_key(f"crawl-data/{SNAP}/segments/s/warc/normal.warc.gz", 4)

    def same_shard(stem: str) -> str:  # a name that lands in the normal file's shard
        return next(f"{stem}-{i}.warc.gz" for i in range(100)
                    if shard_key(f"crawl-data/{SNAP}/segments/s/warc/{stem}-{i}.warc.gz", 4) == shard)

    bad = unreadable_files()
    write_crawl(crawl, SNAP, {same_shard("random"): bad["random.warc.gz"], same_shard("plain"): bad["plain.warc.gz"],
                              "normal.warc.gz": warc_gz([response(u, normal_page(i)) for i, u in enumerate(NORMAL)])})
    n_docs = len(NORMAL)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(SNAPSHOTS.name, [SNAP])
        res = _materialize_documents(instance, crawl, tmp_path / "out", shard=shard)
        assert res.success  # the shard completes with the unreadable file counted and named
        checks = {e.check_name: e for e in res.get_asset_check_evaluations()}
        assert not checks["inputs_readable"].passed and checks["inputs_readable"].severity == dg.AssetCheckSeverity.WARN
        assert all(n in checks["inputs_readable"].description for n in (same_shard("random"), same_shard("plain")))
        (mat,) = res.asset_materializations_for_node("documents")
        assert mat.metadata["notes"].value.get("unreadable_file", 0) >= 1
        assert mat.metadata["documents_out"].value == n_docs

        # bytes flipped inside the data pages, footer intact: not "up to date", recomputed
        path = tmp_path / f"out/documents/{SNAP}/{shard}.parquet"
        data = bytearray(path.read_bytes())
        footer_len = struct.unpack("<I", data[-8:-4])[0]
        data[(len(data) - 8 - footer_len) // 2] ^= 0xFF  # the middle of the data pages
        path.write_bytes(bytes(data))
        res = _materialize_documents(instance, crawl, tmp_path / "out", shard=shard)
        (mat,) = res.asset_materializations_for_node("documents")
        assert mat.metadata["recomputed"].value is True and mat.metadata["documents_out"].value == n_docs
        assert ShardStore(str(tmp_path / "out")).info("documents", SNAP, shard)["rows"] == n_docs


def _stored_table(tmp_path) -> tuple[ShardStore, str]:
    import pyarrow as pa

    store = ShardStore(str(tmp_path / "out"))
    table = pa.table({"id": [f"{i:04d}" for i in range(2000)], "text": [f"text {i} " * 20 for i in range(2000)]})
    store.write("documents", "S", "0000", table, {"fingerprint": "f"})
    return store, store.path("documents", "S", "0000")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "body"])
def test_damaged_table_is_not_trusted(tmp_path, damage, caplog):
    store, path = _stored_table(tmp_path)
    assert store.info("documents", "S", "0000") == {"fingerprint": "f"}
    data = bytearray(open(path, "rb").read())
    if damage == "garbage":
        data = bytearray(random.Random(1).randbytes(len(data)))
    elif damage == "truncated":
        data = data[: len(data) // 2]
    else:  # flip bytes in the middle of the data pages; the footer stays intact and readable
        middle = (len(data) - 8 - struct.unpack("<I", data[-8:-4])[0]) // 2
        for i in range(middle, middle + 16):
            data[i] ^= 0xFF
    open(path, "wb").write(bytes(data))
    storage._VERIFIED.clear()  # as in a new process (a rewrite within the same clock tick keeps the mtime)
    store = ShardStore(str(tmp_path / "out"))
    with caplog.at_level("WARNING", logger="curation.core.storage"):
        assert store.info("documents", "S", "0000") is None  # not up to date: every asset recomputes it
    assert path in caplog.text and "recomputed" in caplog.text


@pytest.mark.parametrize("bad", ["../outside.warc.gz", "/etc/passwd", "crawl-data/../../x.warc.gz", "s3://other/x"])
def test_listing_lines_that_leave_the_crawl_root_are_refused(tmp_path, bad):
    import gzip

    write_crawl(tmp_path, SNAP, {"ok.warc.gz": warc_gz([response(NORMAL[0], normal_page(0))])})
    listing = tmp_path / f"crawl-data/{SNAP}/warc.paths.gz"
    listing.write_bytes(gzip.compress(gzip.decompress(listing.read_bytes()) + bad.encode() + b"\n"))
    with pytest.raises(UnsafeNameError, match=r"warc\.paths\.gz line 2") as err:
        CrawlSource(str(tmp_path)).list_files(SNAP)
    assert len(str(err.value).splitlines()) == 1


def test_partition_keys_and_mixture_names_cannot_leave_the_output_base(tmp_path):
    store = ShardStore(str(tmp_path / "out"))
    for bad in ("../../x", "..", "a/b", "", "/abs", "x\\..\\y"):
        with pytest.raises(UnsafeNameError):
            store.path("documents", bad, "0000")
        with pytest.raises(UnsafeNameError):
            store.side_path("mixtures", bad, "manifest.json")  # a mixture named ../../x
    with pytest.raises(UnsafeNameError):
        store.path("documents", "S", "../0000")
    assert safe_relative("crawl-data/S/segments/x.warc.gz", "path") == "crawl-data/S/segments/x.warc.gz"
    with dg.instance_for_test() as instance:  # a dynamic partition named ../../x fails at once, naming the cause
        instance.add_dynamic_partitions(SNAPSHOTS.name, ["../../x"])
        write_crawl(tmp_path / "crawl", SNAP, {"ok.warc.gz": warc_gz([response(NORMAL[0], normal_page(0))])})
        res = _materialize_documents(instance, tmp_path / "crawl", tmp_path / "out", snapshot="../../x",
                                     raise_on_error=False)
        assert not res.success
        (failure,) = [e for e in res.all_events if e.event_type_value == "STEP_FAILURE"]
        desc = failure.step_failure_data.user_failure_data.description
        assert "UnsafeNameError" in desc and "../../x" in desc and len(desc.splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_an_output_folder_that_cannot_be_written_fails_at_once_naming_it(tmp_path):
    crawl = tmp_path / "crawl"
    write_crawl(crawl, SNAP, {"ok.warc.gz": warc_gz([response(NORMAL[0], normal_page(0))])})
    from curation.core.sharding import shard_key

    shard = shard_key(CrawlSource(str(crawl)).list_files(SNAP)[0].path, 4)
    (tmp_path / "out").write_text("a file where the output folder should be")  # root can write anywhere: not chmod
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(SNAPSHOTS.name, [SNAP])
        res = _materialize_documents(instance, crawl, tmp_path / "out", shard=shard, raise_on_error=False)
        assert not res.success
        types = [e.event_type_value for e in res.all_events]
        assert "STEP_UP_FOR_RETRY" not in types  # extracted once, not three times
        (failure,) = [e for e in res.all_events if e.event_type_value == "STEP_FAILURE"]
        desc = failure.step_failure_data.user_failure_data.description
        assert "NotADirectoryError" in desc and str(tmp_path / "out") in desc and len(desc.splitlines()) == 1


def test_credentials_are_redacted_and_sent_as_basic_auth():
    from curation.llm.backends import BackendError, OpenAIBackend
    from tests.conftest import free_port

    assert redact_url("http://ann:s3cret@host:8000/v1") == "http://ann:***@host:8000/v1"
    assert split_credentials("http://ann:s3cret@host:8000/v1") == ("http://host:8000/v1", ("ann", "s3cret"))
    backend = OpenAIBackend(f"http://ann:s3cret@127.0.0.1:{free_port()}/v1", "m", max_retries=0, timeout=5)
    assert "s3cret" not in backend.url and backend.auth == ("ann", "s3cret")
    with pytest.raises(BackendError) as err:
        backend._post({"messages": []})
    assert "s3cret" not in str(err.value) and "127.0.0.1" in str(err.value)


def test_docker_image_runs_as_a_user_and_ships_no_local_state():
    lines = (ROOT / "deploy/Dockerfile").read_text().splitlines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "dagster_home", "curation_output", "bench/out"} <= ignored
