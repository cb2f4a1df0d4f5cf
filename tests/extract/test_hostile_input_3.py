"""Hostile input, round two (issue 25), continued: inflation and token counting in bounded memory (measured in a
child process: its own peak RSS, VmHWM), damaged Parquet, symbolic links, snapshot folder names, the
``x-user-defined`` charset, a full disk and an endpoint that never answers. Every input is built here."""

import gzip
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.extract.documents import DocumentBuilder, InputConfig
from curation.extract.html import decode_html
from curation.extract.sources import CrawlSource
from curation.extract.warc import WarcLimits
from curation.extract.warc_writer import response, warc_gz, zero_gzip
from tests.conftest import DATA, ROOT, write_crawl
from tests.extract.test_hostile_input_2 import build

SNAP = "CC-MAIN-2099-03"
GOOD = [{"text": f"Document {i}: an ordinary paragraph about tides and the ferries that wait for them."}
        for i in range(3)]


def jsonl(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def peak_rss_mib(code: str, *args: str) -> tuple[str, float]:
    """(stdout, peak RSS in MiB) of ``code`` run in a child process."""
    script = code + "\nhwm = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))" \
                    "\nprint(hwm)\n"
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.split()
    return " ".join(lines[:-1]), int(lines[-1]) / 1024


READ_SHARD = """
import sys
from curation.extract.documents import DocumentBuilder
from curation.extract.sources import CrawlSource
src = CrawlSource(sys.argv[1])
table, counts = DocumentBuilder(src).build(sys.argv[2], "0000", src.list_files(sys.argv[2]), workers=1)
print(table.num_rows, counts["too_large"])
"""


def test_compressed_jsonl_that_inflates_to_2_gib_stays_in_bounded_memory(tmp_path):
    import zstandard

    good = gzip.compress(b"\n" + jsonl(GOOD))  # the newline ends the bomb's line
    bomb = zero_gzip(2 << 30)  # 2 MB on disk: one 2 GiB line
    z = zstandard.ZstdCompressor(level=1)
    zst = z.compress(jsonl(GOOD[:1])) + b"".join(z.compress(b"\0" * (64 << 20)) for _ in range(32)) \
        + z.compress(b"\n" + jsonl(GOOD[1:]))  # frames: a line, 2 GiB of one line, two lines
    write_crawl(tmp_path, SNAP, {"bomb.jsonl.gz": bomb + good, "bomb.jsonl.zst": zst})
    t0 = time.time()
    out, mib = peak_rss_mib(READ_SHARD, str(tmp_path), SNAP)
    print(f"2 GiB .jsonl.gz + 2 GiB .jsonl.zst: peak RSS {mib:.0f} MiB, {time.time() - t0:.1f} s")
    rows, too_large = map(int, out.split())
    assert rows == 2 * len(GOOD) and too_large == 2  # the normal lines after each bomb are kept
    assert mib < 600  # was 4.4 GB: the whole file inflated at once


COUNT_50MB = """
import sys
from curation.models.tokenizer import count_tokens, load_tokenizer
tok = load_tokenizer(None)
text = open(sys.argv[1]).read() * int(sys.argv[2])
print(int(count_tokens([text, "a short one"], tok)[0]))
"""


def test_token_counting_of_a_long_document_costs_time_not_memory(tmp_path):
    from curation.models.tokenizer import count_tokens, load_tokenizer, text_slices

    docs = [json.loads(line)["text"] for line in gzip.open(DATA / "cc-main-2019-30-docs.jsonl.gz")]
    text = "\n\n".join(docs)  # 1.2 MB of real multilingual web text
    tok = load_tokenizer(None)
    whole = len(tok(text, add_special_tokens=False)["input_ids"])
    assert len(text_slices(text)) > 10 and count_tokens([text], tok)[0] == whole  # slices sum to the whole count
    (tmp_path / "t.txt").write_text(text)
    copies = 8  # about 10 MB: counted whole it took about 1.2 GB (6.1 GB for 50 MB, issue 25)
    out, mib = peak_rss_mib(COUNT_50MB, str(tmp_path / "t.txt"), str(copies))
    print(f"token count of a {len(text) * copies / 1e6:.0f} MB document: peak RSS {mib:.0f} MiB")
    assert abs(int(out) - whole * copies) <= 2 * copies and mib < 900  # copies may merge a token where they meet


def test_damaged_parquet_and_parquet_without_text_are_counted_and_named(tmp_path):
    buf = pa.BufferOutputStream()
    pq.write_table(pa.table({"text": [r["text"] for r in GOOD]}), buf)
    good = buf.getvalue().to_pybytes()
    damaged = good[:-12] + b"\xff" * 8 + good[-4:]  # the footer length and the footer itself overwritten
    notext = pa.BufferOutputStream()
    pq.write_table(pa.table({"body": ["x"]}), notext)
    table, counts, unreadable = build(tmp_path, {"good.parquet": good, "damaged.parquet": damaged,
                                                 "notext.parquet": notext.getvalue().to_pybytes()})
    assert table.num_rows == len(GOOD) and counts["unreadable_file"] == 2
    assert len(unreadable) == 2 and all(len(w.splitlines()) == 1 for w in unreadable)
    assert any("damaged.parquet" in w and "not a readable Parquet file" in w for w in unreadable)
    assert any("notext.parquet" in w and "no text column 'text'" in w for w in unreadable)


def test_a_parquet_row_group_past_the_cap_is_counted_not_inflated(tmp_path):
    buf = pa.BufferOutputStream()
    with pq.ParquetWriter(buf, pa.schema([("text", pa.string())]), compression="zstd") as w:
        w.write_table(pa.table({"text": [r["text"] for r in GOOD]}))
        w.write_table(pa.table({"text": ["z" * (3 << 20)]}))  # a row group of 3 MiB uncompressed, 300 bytes stored
        w.write_table(pa.table({"text": ["y" * 200_000]}))  # under the row group cap, over the payload cap
    inputs = InputConfig(limits=WarcLimits(max_member_bytes=1 << 20, max_payload_bytes=100_000))
    table, counts, unreadable = build(tmp_path, {"big.parquet": buf.getvalue().to_pybytes()}, inputs)
    assert not unreadable and table.num_rows == len(GOOD) and counts["too_large"] == 2


def test_symlink_loops_and_links_out_of_the_crawl_root_are_counted_and_named(tmp_path):
    root = tmp_path / "crawl"
    write_crawl(root, SNAP, {"ok.warc.gz": warc_gz([response("http://ok.example/", b"<p>" + b"fine text " * 30)])})
    folder = root / f"crawl-data/{SNAP}/segments/s/warc"
    os.symlink("y.warc.gz", folder / "x.warc.gz")
    os.symlink("x.warc.gz", folder / "y.warc.gz")
    (tmp_path / "secret.warc.gz").write_bytes(warc_gz([response("http://secret.example/", b"<p>private</p>")]))
    os.symlink(tmp_path / "secret.warc.gz", folder / "out.warc.gz")
    listing = [f"crawl-data/{SNAP}/segments/s/warc/{n}.warc.gz" for n in ("ok", "x", "y", "out")]
    (root / f"crawl-data/{SNAP}/warc.paths.gz").write_bytes(gzip.compress("\n".join(listing).encode()))
    src = CrawlSource(str(root))
    unreadable = []
    table, counts = DocumentBuilder(src).build(SNAP, "0000", src.list_files(SNAP), workers=1,
                                               on_unreadable=lambda f, why: unreadable.append(why))
    assert table.column("url").to_pylist() == ["http://ok.example/"] and counts["unreadable_file"] == 3
    assert sum("loop of symbolic links" in w for w in unreadable) == 2
    assert any("out.warc.gz" in w and "outside the crawl root" in w for w in unreadable)


def test_snapshot_folders_refused_by_name_are_named_with_the_rule(tmp_path):
    from curation_cli.errors import CliError
    from curation_cli.run import _snapshots

    for name in ("CC-MAIN-2024 22", "CC-MAÏN", "CC-MAIN-2024-10", ".cache"):
        (tmp_path / "crawl-data" / name).mkdir(parents=True)
    src = CrawlSource(str(tmp_path))
    warned = []
    assert _snapshots(src, None, warn=warned.append) == ["CC-MAIN-2024-10"]
    assert len(warned) == 2  # .hidden folders stay quiet
    assert any("'CC-MAIN-2024 22'" in w and "character ' ' at position 13" in w for w in warned)
    assert any("'CC-MAÏN'" in w and "character 'Ï' at position 6" in w and "ASCII letters" in w for w in warned)
    with pytest.raises(CliError) as err:
        _snapshots(src, "CC-MAIN-2024 22")
    assert "character ' ' at position 13" in str(err.value) and len(str(err.value).splitlines()) == 1


def test_x_user_defined_decodes_as_whatwg_says(tmp_path):
    body = b"<html><body><article><p>" + b"Bytes past ASCII: \x80 \xff " * 20 + b"</p></article></body></html>"
    text, charset, note = decode_html(body, "x-user-defined")
    assert charset == "x-user-defined" and note is None
    assert "\uf780" in text and "\uf7ff" in text and text.encode("x-user-defined") == body
    table, counts, _ = build(tmp_path, {"xud.warc.gz": warc_gz([response(
        "http://xud.example/", body, content_type="text/html; charset=x-user-defined")])})
    assert table.column("charset").to_pylist() == ["x-user-defined"] and not counts["undecodable_charset"]


DISK_FULL = """
import sys
import pyarrow as pa
from curation.core.storage import ShardStore
try:
    table = pa.table({"text": [str(i) * 50 for i in range(200000)]})
    ShardStore(sys.argv[1]).write("documents", "S", "0000", table, {})
except OSError as exc:
    print(exc)
"""


def test_a_full_disk_names_the_file_being_written(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (unshare -rm refused)")
    cmd = f"mount -t tmpfs -o size=256k none {mnt} && PYTHONPATH={ROOT} {sys.executable} -c '{DISK_FULL}' {mnt}"
    out = subprocess.run(["unshare", "-rm", "sh", "-c", cmd], capture_output=True, text=True, timeout=120)
    line = out.stdout.strip()
    print("disk full:", line)
    assert "No space left on device" in line and f"{mnt}/documents/S/0000.parquet" in line, out.stderr
    assert len(line.splitlines()) == 1


def test_an_endpoint_that_never_answers_fails_naming_the_crawl_root():
    from curation.core.remote import S3_CONFIG, S3_RETRIES

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held = []
    threading.Thread(target=lambda: [held.append(server.accept()) for _ in iter(int, 1)], daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.getsockname()[1]}"
    src = CrawlSource("s3://bucket/crawl", storage_options={"endpoint_url": endpoint, "key": "k", "secret": "s"})
    assert src.fs.config_kwargs["read_timeout"] == S3_CONFIG["read_timeout"] and src.fs.retries == S3_RETRIES
    quick = CrawlSource("s3://bucket/quick", storage_options={
        "endpoint_url": endpoint, "key": "k", "secret": "s",
        "config_kwargs": {"read_timeout": 1, "connect_timeout": 1}})
    t0 = time.time()
    with pytest.raises(TimeoutError) as err:
        quick.list_snapshots()
    print(f"an endpoint that never answers: TimeoutError after {time.time() - t0:.1f} s")
    message = str(err.value)
    assert "s3://bucket/quick" in message and endpoint in message and len(message.splitlines()) == 1
    server.close()


def test_the_sensor_warns_naming_a_snapshot_folder_refused_by_name(tmp_path, capfd):
    import dagster as dg

    from resources import CrawlSourceResource, StorageResource
    from sensors import crawl_sensor

    write_crawl(tmp_path / "crawl", SNAP, {"ok.warc.gz": warc_gz([response("http://ok.example/", b"<p>fine</p>")])})
    (tmp_path / "crawl/crawl-data/CC-MAIN-2024 22").mkdir()
    resources = {"crawl": CrawlSourceResource(root=str(tmp_path / "crawl")),
                 "storage": StorageResource(base=str(tmp_path / "out"))}
    with dg.instance_for_test() as instance, dg.build_sensor_context(instance=instance, resources=resources) as context:
        result = crawl_sensor(context)
    assert [list(r.partition_keys) for r in result.dynamic_partitions_requests] == [[SNAP]]
    logged = capfd.readouterr().err  # Dagster's logger writes to stderr, not through the root logger
    assert re.search(r"WARNING - skipped folder 'CC-MAIN-2024 22' under .*: character ' ' at position 13", logged)


def test_the_documents_asset_names_damaged_parquet_and_link_loops_in_its_warn_check(tmp_path):
    import dagster as dg

    from curation_assets.documents import documents
    from curation_assets.partitions import SNAPSHOTS, partition_key
    from curation_assets.sources import warc_files
    from resources import CrawlSourceResource, StorageResource

    crawl = tmp_path / "crawl"
    write_crawl(crawl, SNAP, {"good.jsonl": jsonl(GOOD), "damaged.parquet": b"PAR1 not really a parquet file"})
    folder = crawl / f"crawl-data/{SNAP}/segments/s/warc"
    os.symlink("b.warc.gz", folder / "a.warc.gz")
    os.symlink("a.warc.gz", folder / "b.warc.gz")
    (crawl / f"crawl-data/{SNAP}/warc.paths.gz").unlink()  # globbed: the links are found by listing the folder
    resources = {"crawl": CrawlSourceResource(root=str(crawl)), "storage": StorageResource(base=str(tmp_path / "out"))}
    named = set()
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(SNAPSHOTS.name, [SNAP])
        for shard in ("0000", "0001", "0002", "0003"):
            res = dg.materialize([warc_files, documents], selection=[documents], instance=instance,
                                 partition_key=partition_key(SNAP, shard), resources=resources)
            assert res.success  # every shard completes
            (check,) = [e for e in res.get_asset_check_evaluations() if e.check_name == "inputs_readable"]
            for name in ("damaged.parquet", "a.warc.gz", "b.warc.gz"):
                shard_of = CrawlSource(str(crawl)).files_by_shard(SNAP, 4)[shard]
                assert (name in (check.description or "")) == any(f.path.endswith(name) for f in shard_of), name
                named |= {name} if name in (check.description or "") else set()
            assert check.passed == (check.description is None) and check.severity == dg.AssetCheckSeverity.WARN
    assert named == {"damaged.parquet", "a.warc.gz", "b.warc.gz"}


def test_the_observation_job_warns_naming_a_refused_snapshot_folder(tmp_path, caplog):
    import logging

    import dagster as dg

    from curation_assets.crawl_state import new_snapshots

    write_crawl(tmp_path, SNAP, {"ok.warc.gz": warc_gz([response("http://ok.example/", b"<p>fine</p>")])})
    (tmp_path / "crawl-data/CC-MAÏN").mkdir()
    with dg.instance_for_test() as instance, caplog.at_level("WARNING", logger="observe"):
        assert new_snapshots(CrawlSource(str(tmp_path)), instance, log=logging.getLogger("observe")) == ([SNAP], [SNAP])
    assert "'CC-MAÏN'" in caplog.text and "character 'Ï' at position 6" in caplog.text
