"""WARC reading on real files and on every kind of bad input the issue lists.

Covered: the real sample WARCs (gzip and plain, ClueWeb's LF-only HTTP headers and EUC-JP, wget's <url>,
revisit records), truncated gzip, a corrupt gzip member in the middle, non-HTML and binary payloads,
unknown/undecodable charsets, an empty page, a huge page, a WARC with no responses, a file that is not a
WARC, a missing file; and the accounting rule records_in == documents + dropped.
"""

import gzip

import pytest

from curation.extract.documents import DocumentBuilder, InputFileError, split_counts
from curation.extract.html import ExtractionConfig, UndecodableError, decode_html
from curation.extract.sources import CrawlSource
from curation.extract.warc_writer import response, warc_gz, warcinfo, record
from tests.conftest import SAMPLE, sample_file, write_crawl

ARTICLE = sample_file("CC-MAIN-2024-22", "CC-MAIN-2024-22-article-extraction-benchmark-00002.warc.gz")
GOOD_HTML = b"<html><head><title>t</title></head><body><article><p>" + b"A real sentence of text here. " * 20 + b"</p></article></body></html>"


def build(root, snapshot="S-1"):
    src = CrawlSource(str(root))
    return DocumentBuilder(src).build(snapshot, "0000", src.list_files(snapshot))


def accounting_holds(table, counts):
    dropped, notes = split_counts(counts)
    return notes.get("records_in", 0) == table.num_rows + sum(dropped.values())


def test_real_sample_snapshot_reads_every_html_page():
    src = CrawlSource(str(SAMPLE))
    plain = ExtractionConfig(extractor="resiliparse")  # all visible main text: the boilerplate cleaner drops shop pages
    table, counts = DocumentBuilder(src, plain).build("CC-MAIN-2020-34", "0000", src.list_files("CC-MAIN-2020-34"))
    dropped, notes = split_counts(counts)
    assert accounting_holds(table, counts)
    assert dropped["revisit_record"] == 123  # pywb iana.org revisits are not documents
    rows = table.to_pylist()
    ja = [r for r in rows if r["host"] == "www.uraharajuku.st"]
    assert len(ja) == 15 and all(r["charset"] == "euc_jp" for r in ja)
    assert "吉田カバン" in ja[0]["text"]  # EUC-JP decoded, not mojibake
    assert all(r["fetch_date"] is None for r in ja) and notes["invalid_warc_date"] == 15
    assert len({r["id"] for r in rows}) == len(rows)


def test_wget_urls_lose_angle_brackets_and_plain_warc_reads():
    src = CrawlSource(str(SAMPLE))
    files = [f for f in src.list_files("CC-MAIN-2024-22") if "dolma" in f.path or f.path.endswith(".warc")]
    table, counts = DocumentBuilder(src).build("CC-MAIN-2024-22", "0000", files)
    urls = table.column("url").to_pylist()
    assert "https://www.semanticscholar.org/research/research-team" in urls
    assert "http://stringjs.com/" in urls  # from the uncompressed WARC
    assert not any(u.startswith("<") for u in urls)


def test_truncated_gzip_keeps_earlier_records_and_counts(tmp_path):
    data = ARTICLE.read_bytes()
    write_crawl(tmp_path, "S-1", {"cut.warc.gz": data[: int(len(data) * 0.6)]})
    table, counts = build(tmp_path)
    assert counts["truncated_file"] == 1
    assert 0 < table.num_rows < 22


def test_corrupt_member_is_skipped_and_reading_resumes(tmp_path):
    pages = [response(f"http://example.org/{i}", GOOD_HTML) for i in range(6)]
    members = [warc_gz([p]) for p in pages]
    bad = bytearray(members[2])
    bad[len(bad) // 2: len(bad) // 2 + 40] = b"\xff" * 40  # damage the deflate stream of record 2
    members[2] = bytes(bad)
    write_crawl(tmp_path, "S-1", {"bad.warc.gz": b"".join(members)})
    table, counts = build(tmp_path)
    assert counts["corrupt_stream_resyncs"] >= 1
    urls = set(table.column("url").to_pylist())
    assert {"http://example.org/0", "http://example.org/1", "http://example.org/4", "http://example.org/5"} <= urls
    assert "http://example.org/2" not in urls


def test_non_html_binary_empty_huge_and_status(tmp_path):
    recs = [
        warcinfo("test"),
        response("http://a.org/ok", GOOD_HTML),
        response("http://a.org/pdf", b"%PDF-1.4 binary", content_type="application/pdf"),
        response("http://a.org/bin", b"\x00\x01\x02" * 100 + GOOD_HTML),
        response("http://a.org/empty", b""),
        response("http://a.org/huge", b"<html><body>" + b"x" * (5 * 1024 * 1024) + b"</body></html>"),
        response("http://a.org/404", GOOD_HTML, status="404 Not Found"),
        record("revisit", b"HTTP/1.1 200 OK\r\n\r\n", url="http://a.org/ok", key="rev"),
        response("http://a.org/notext", b"<html><body><script>var x=1;</script></body></html>"),
    ]
    write_crawl(tmp_path, "S-1", {"mixed.warc.gz": warc_gz(recs)})
    table, counts = build(tmp_path)
    dropped, _ = split_counts(counts)
    assert table.column("url").to_pylist() == ["http://a.org/ok"]
    assert dropped == {"non_html": 1, "binary_payload": 1, "empty_page": 1, "too_large": 1,
                       "non_200_status": 1, "revisit_record": 1, "empty_text": 1}
    assert accounting_holds(table, counts)


def test_gzip_content_encoding_is_undone_only_when_really_compressed(tmp_path):
    recs = [response("http://a.org/gz", gzip.compress(GOOD_HTML), extra_headers={"Content-Encoding": "gzip"}),
            response("http://a.org/plain", GOOD_HTML, extra_headers={"Content-Encoding": "gzip"})]
    write_crawl(tmp_path, "S-1", {"enc.warc.gz": warc_gz(recs)})
    table, _ = build(tmp_path)
    assert table.num_rows == 2 and all("real sentence" in t for t in table.column("text").to_pylist())


def test_charset_unknown_label_falls_back_and_mixed_bytes_decode_lossily():
    text, enc, note = decode_html("<p>Grüße aus Köln</p>".encode("utf-8"), "x-no-such-charset")
    assert "Grüße" in text and enc == "utf-8" and note == "charset_fallback"
    # A UTF-8 page with one stray Latin-1 byte (seen on real pages of the sample): keep UTF-8, replace the byte.
    body = ("<p>" + "Straße " * 200 + "</p>").encode("utf-8") + b"K\xfcchenblogs"
    text, enc, note = decode_html(body, "utf-8")
    assert (enc, note) == ("utf-8", "charset_lossy") and "Straße" in text and "K\ufffdchenblogs" in text


def test_undecodable_payload_raises():
    # Declared UTF-8, detected as UTF-8, but nothing but invalid bytes: no candidate decodes.
    with pytest.raises(UndecodableError):
        decode_html(b"\x80\x81\x8d\x8f\x90\x9d" * 100, "utf-8")


def test_undecodable_page_is_counted_and_skipped(tmp_path):
    recs = [response("http://a.org/bad", b"\x80\x81\x8d\x8f\x90\x9d" * 100, content_type="text/html; charset=utf-8"),
            response("http://a.org/ok", GOOD_HTML)]
    write_crawl(tmp_path, "S-1", {"cs.warc.gz": warc_gz(recs)})
    table, counts = build(tmp_path)
    assert table.column("url").to_pylist() == ["http://a.org/ok"] and counts["undecodable_charset"] == 1


def test_warc_without_responses_yields_nothing(tmp_path):
    write_crawl(tmp_path, "S-1", {"info.warc.gz": warc_gz([warcinfo("only info")])})
    table, counts = build(tmp_path)
    assert table.num_rows == 0 and counts["files"] == 1


def test_not_a_warc_is_counted_naming_the_file_and_the_shard_completes(tmp_path):
    write_crawl(tmp_path, "S-1", {"junk.warc.gz": gzip.compress(b"this is not a WARC file\n" * 50),
                                  "good.warc.gz": warc_gz([response("http://a.org/ok", GOOD_HTML)])})
    src = CrawlSource(str(tmp_path))
    bad: list[str] = []
    table, counts = DocumentBuilder(src).build("S-1", "0000", src.list_files("S-1"),
                                               on_unreadable=lambda f, why: bad.append(why))
    assert table.column("url").to_pylist() == ["http://a.org/ok"]
    assert counts["unreadable_file"] == 1 and counts["files"] == 1 and len(bad) == 1 and "junk.warc.gz" in bad[0]


def test_missing_listed_file_fails_naming_the_file(tmp_path):
    rels = write_crawl(tmp_path, "S-1", {"gone.warc.gz": warc_gz([warcinfo("x")])})
    (tmp_path / rels[0]).unlink()
    with pytest.raises(InputFileError, match="gone.warc.gz"):
        build(tmp_path)
