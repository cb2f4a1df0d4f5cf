"""Hostile input, round two (issue 25): WARC framing, the attribute budget, dates, deep JSON, bounded inflation,
damaged Parquet and symbolic links. Each case is built here (nothing large is committed) into a crawl that also
holds normal pages; every normal page must become a document, the hostile input a counted reason (or an
``unreadable_file`` named in one line), with ``records_in = documents + dropped``. Memory bounds are measured in a
child process (its own peak RSS, VmHWM). Costs are printed (``pytest -s``), never asserted: the machine is shared.
"""

import gzip
import json
import re
import time
from collections import Counter

import pytest

from curation.extract.documents import DocumentBuilder, InputConfig, split_counts
from curation.extract.page_budget import (
    MAX_ATTRS,
    attribute_counts,
    too_many_attributes,
)
from curation.extract.sources import CrawlSource
from curation.extract.warc_writer import gzip_member, response, warc_gz
from tests.conftest import write_crawl

SNAP = "CC-MAIN-2099-02"


def page(i: int) -> bytes:
    paras = "".join(f"<p>Paragraph {j} of normal page {i}: ordinary prose about harbours, ferries and the islands "
                    f"between them, long enough to count as main content.</p>" for j in range(5))
    return f"<html><head><title>Page {i}</title></head><body><article>{paras}</article></body></html>".encode()


def normal(i: int) -> bytes:
    return response(f"http://normal.example/{i}", page(i))


def lying(record: bytes, extra: int) -> bytes:
    """``record`` with its WARC Content-Length ``extra`` bytes larger than its block."""
    m = re.search(rb"Content-Length: (\d+)\r\n\r\nHTTP", record)
    n = int(m.group(1))
    return record.replace(b"Content-Length: %d\r\n\r\nHTTP" % n, b"Content-Length: %d\r\n\r\nHTTP" % (n + extra), 1)


def build(root, files: dict[str, bytes], inputs: InputConfig = InputConfig()):
    """(table, counts, unreadable lines) of one shard holding ``files``."""
    write_crawl(root, SNAP, files)
    src = CrawlSource(str(root))
    unreadable = []
    table, counts = DocumentBuilder(src, inputs=inputs).build(
        SNAP, "0000", src.list_files(SNAP), on_unreadable=lambda f, why: unreadable.append(why), workers=1)
    dropped, _ = split_counts(counts)
    assert counts["records_in"] == table.num_rows + sum(dropped.values())
    return table, counts, unreadable


FRAMING = {  # name -> (file name, bytes): the lying record is normal page 1's
    "gzip +500": ("f.warc.gz", lambda r: warc_gz([r[0], lying(r[1], 500), r[2], r[3]])),
    "plain +500": ("f.warc", lambda r: b"".join([r[0], lying(r[1], 500), r[2], r[3]])),
    "gzip member holding half a record": ("f.warc.gz", lambda r: b"".join(
        [gzip_member(r[0]), gzip_member(r[1][:len(r[1]) // 2]), gzip_member(r[2]), gzip_member(r[3])])),
    "gzip 10**12": ("f.warc.gz", lambda r: warc_gz([r[0], lying(r[1], 10**12), r[2], r[3]])),
    "plain 10**12": ("f.warc", lambda r: b"".join([r[0], lying(r[1], 10**12), r[2], r[3]])),
}


@pytest.mark.parametrize("case", FRAMING)
def test_a_lying_content_length_costs_only_its_record(tmp_path, case):
    name, make = FRAMING[case]
    table, counts, _ = build(tmp_path, {name: make([normal(i) for i in range(4)])})
    urls = table.column("url").to_pylist()
    assert urls == ["http://normal.example/0", "http://normal.example/2", "http://normal.example/3"]
    assert counts["length_mismatch"] == 1
    assert not any("WARC-" in t or "WARC/1." in t for t in table.column("text").to_pylist())


def test_a_lying_request_record_does_not_swallow_its_response(tmp_path):
    from curation.extract.warc_writer import record

    request = record("request", b"GET /1 HTTP/1.1\r\nHost: normal.example\r\n\r\n", url="http://normal.example/1",
                     content_type="application/http;msgtype=request")
    request = request.replace(b"Content-Length: 41\r\n", b"Content-Length: 541\r\n")
    for data, name in ((warc_gz([normal(0), request, normal(1), normal(2)]), "r.warc.gz"),
                       (b"".join([normal(0), request, normal(1), normal(2)]), "r.warc")):
        table, counts, _ = build(tmp_path / name, {name: data})
        assert table.column("url").to_pylist() == [f"http://normal.example/{i}" for i in range(3)]
        assert counts["corrupt_stream_resyncs"] == 1


def attributes_page(n: int) -> bytes:
    return ("<html><body><div " + " ".join(f"a{i}" for i in range(n)) + ">hostile</div></body></html>").encode()


HEAVY_PAGES = {  # url -> (html, counted reason or None when the page is kept)
    "http://hostile.example/200k-attributes": (attributes_page(200_000), "too_many_attributes"),
    "http://hostile.example/200k-names": ("<html><body>" + "".join(f"<i b{i}>x</i>" for i in range(200_000))
                                          + "</body></html>", "too_many_attributes"),
    # the quoted values hold ">": a tokenizer that ended a tag at the first ">" would see one attribute a tag
    "http://hostile.example/quoted": ("<html><body><div " + " ".join(f'a{i}=">"' for i in range(50_000))
                                      + ">x</div></body></html>", "too_many_attributes"),
    # inside <svg> a <script> holds markup, not text: its <div> breaks out of the svg with every attribute
    "http://hostile.example/svg-script": ("<html><body><svg><script><div " + " ".join(f"a{i}" for i in range(50_000))
                                          + ">x</div></script></svg></body></html>", "too_many_attributes"),
    "http://hostile.example/classes": ('<html><body><article class="' + " ".join(f"c{i}" for i in range(40_000))
                                       + '"><p>' + "Forty thousand classes, one attribute. " * 10
                                       + "</p></article></body></html>", None),
    "http://hostile.example/table-nesting": ("<html><body><table>" + "<div>" * 9_000 + "x", "dom_too_deep"),
}


def test_attribute_budget_counts_the_heavy_pages_and_keeps_the_rest(tmp_path):
    records = [normal(0)] + [response(u, h.encode() if isinstance(h, str) else h)
                             for u, (h, _) in HEAVY_PAGES.items()] + [normal(1)]
    table, counts, _ = build(tmp_path, {"heavy.warc.gz": warc_gz(records)})
    urls = set(table.column("url").to_pylist())
    assert {"http://normal.example/0", "http://normal.example/1"} <= urls
    expected = Counter(why for _, why in HEAVY_PAGES.values() if why)
    for why, n in expected.items():
        assert counts[why] == n, why
    for url, (_, why) in HEAVY_PAGES.items():
        assert (url in urls) == (why is None), url
    seconds = {}
    for url, (html, _) in HEAVY_PAGES.items():  # the cost of each page alone: printed, not asserted
        one = tmp_path / url.rsplit("/", 1)[1]
        body = html.encode() if isinstance(html, str) else html
        write_crawl(one, SNAP, {"one.warc.gz": warc_gz([response(url, body)])})
        src = CrawlSource(str(one))
        t0 = time.process_time()
        DocumentBuilder(src).build(SNAP, "0000", src.list_files(SNAP), workers=1)
        seconds[url] = round(time.process_time() - t0, 3)
    print("CPU seconds per heavy page:", json.dumps(seconds))


def test_attribute_counts_follow_the_html_tokenizer():
    html = (b'<html><head><script>for (i=0; i<n a b c d; i++) {}</script><!-- <p x y z> --></head><body>'
            b'<div id=a class="x y z" hidden data-v=\'1\'>t</div><p a=">" b c>u</p><img A a src=x></body></html>')
    most, pairs, names = attribute_counts(html)
    # <div>: id class hidden data-v; <p>: a b c (its quoted '>' does not end it); <img>: A and a are one name, src.
    # The script's and the comment's text hold no tags.
    assert (most, pairs, names) == (4, 16 + 9 + 4, 8)
    assert too_many_attributes(attributes_page(MAX_ATTRS + 1).decode()) is not None
    assert too_many_attributes(attributes_page(MAX_ATTRS).decode()) is None


def test_dates_out_of_range_become_null_with_a_note(tmp_path):
    far = "9999-12-31T23:59:59-14:00"
    lines = [{"text": "A document dated past the year 9999 in UTC.", "date": far},
             {"text": "A document with an ordinary date.", "date": "2024-05-01T10:00:00Z"}]
    table, counts, unreadable = build(tmp_path, {
        "dated.warc.gz": warc_gz([normal(0), response("http://far.example/", page(1), date=far), normal(2)]),
        "dated.jsonl": "\n".join(json.dumps(r) for r in lines).encode()})
    assert not unreadable and table.num_rows == 5
    dates = dict(zip(table.column("url").to_pylist(), table.column("fetch_date").to_pylist()))
    assert dates["http://far.example/"] is None and dates["http://normal.example/0"] is not None
    assert counts["invalid_warc_date"] == 2


def test_deeply_nested_json_lines_are_counted_and_skipped(tmp_path):
    lines = [json.dumps({"text": "before the nested line"}), "[" * 100_000, '{"text": ' + "[" * 100_000,
             json.dumps({"text": "after the nested line"})]
    table, counts, unreadable = build(tmp_path, {"nested.jsonl": "\n".join(lines).encode()})
    assert not unreadable
    assert table.column("text").to_pylist() == ["before the nested line", "after the nested line"]
    assert counts["json_too_deep"] == 2


def test_a_truncated_jsonl_gz_keeps_its_whole_lines(tmp_path):
    lines = [json.dumps({"text": f"line {i} of a download that was cut short " * 20}) for i in range(400)]
    data = gzip.compress("\n".join(lines).encode())
    table, counts, unreadable = build(tmp_path, {"cut.jsonl.gz": data[: len(data) * 3 // 4]})
    assert not unreadable and counts["truncated_file"] == 1
    texts = table.column("text").to_pylist()
    assert 200 < len(texts) < 400 and texts == [json.loads(x)["text"].strip() for x in lines[:len(texts)]]
