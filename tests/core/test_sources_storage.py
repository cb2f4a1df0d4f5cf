"""Crawl source listing, stable sharding, other input formats (WET, JSONL, Parquet), atomic Parquet storage."""

import gzip
import json
import os
import shutil
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.core import tables as schema
from curation.core import storage
from curation.extract.documents import DocumentBuilder
from curation.core.sharding import shard_index, shard_keys
from curation.extract.sources import CrawlSource, fingerprint
from curation.core.storage import ShardStore
from tests.conftest import DATA, SAMPLE, write_crawl
from curation.extract.warc_writer import response, warc_gz



def test_shards_are_stable_and_independent_of_other_files():
    paths = [f"crawl-data/X/segments/{i}/warc/f{i}.warc.gz" for i in range(200)]
    first = {p: shard_index(p, 16) for p in paths}
    assert {p: shard_index(p, 16) for p in reversed(paths)} == first
    assert len(set(first.values())) == 16  # 200 files spread over all 16 shards
    assert shard_keys(4) == ["0000", "0001", "0002", "0003"] and len(shard_keys(512)) == 512


def test_sample_listing_and_fingerprints():
    src = CrawlSource(str(SAMPLE))
    assert src.list_snapshots() == ["CC-MAIN-2020-34", "CC-MAIN-2024-22"]
    files = src.list_files("CC-MAIN-2024-22")
    assert len(files) == 11 and all(f.size and f.size > 0 for f in files)  # 10 real + 1 planted (issue 23)
    by_shard = src.files_by_shard("CC-MAIN-2024-22", 4)
    assert sum(len(v) for v in by_shard.values()) == 11 and all(by_shard.values())


def test_replacing_one_file_changes_exactly_one_shard_fingerprint(tmp_path):
    html = b"<html><body><p>" + b"Some text. " * 30 + b"</p></body></html>"
    write_crawl(tmp_path, "S-1", {f"f{i}.warc.gz": warc_gz([response(f"http://x.org/{i}", html)]) for i in range(12)})
    src = CrawlSource(str(tmp_path))
    before = {k: fingerprint(v) for k, v in src.files_by_shard("S-1", 4).items()}
    target = next(f for f in src.list_files("S-1") if f.path.endswith("f3.warc.gz"))
    (tmp_path / target.path).write_bytes(warc_gz([response("http://x.org/3", html + b"<p>changed</p>")]))
    after = {k: fingerprint(v) for k, v in src.files_by_shard("S-1", 4).items()}
    assert [k for k in before if before[k] != after[k]] == [shard_keys(4)[shard_index(target.path, 4)]]


def test_folder_without_listing_is_globbed_for_wet_jsonl_parquet(tmp_path):
    snap = tmp_path / "crawl-data" / "my-corpus"
    snap.mkdir(parents=True)
    shutil.copy(DATA / "cc-main-2024-22.whirlwind.warc.wet.gz", snap / "part.warc.wet.gz")  # real Common Crawl WET
    rows = [{"id": "a", "text": "First document text.", "url": "https://a.org/"}, {"id": "b", "text": ""}, {"no_text": 1}]
    (snap / "part.jsonl.gz").write_bytes(gzip.compress(("\n".join(json.dumps(r) for r in rows) + "\nnot json\n").encode()))
    pq.write_table(pa.table({"text": ["Parquet doc one.", "Parquet doc two."], "url": ["https://p.org/1", None]}),
                   snap / "part.parquet")
    (snap / "README.txt").write_text("ignored")
    src = CrawlSource(str(tmp_path))
    files = src.list_files("my-corpus")
    assert sorted(f.kind for f in files) == ["jsonl", "parquet", "wet"]
    table, counts = DocumentBuilder(src).build("my-corpus", "0000", files)
    by_extractor = {}
    for r in table.to_pylist():
        by_extractor.setdefault(r["extractor"], []).append(r["text"])
    assert len(by_extractor["wet"]) == 1 and "Escopete" in by_extractor["wet"][0]
    wet_row = next(r for r in table.to_pylist() if r["extractor"] == "wet")
    assert wet_row["url"] == "https://an.wikipedia.org/wiki/Escopete" and wet_row["fetch_date"].year == 2024
    assert sorted(by_extractor["passthrough"]) == ["First document text.", "Parquet doc one.", "Parquet doc two."]
    assert counts["bad_json_line"] == 1 and counts["missing_text"] == 1 and counts["empty_text"] == 1


def test_parquet_without_text_column_is_counted_naming_file(tmp_path):
    snap = tmp_path / "crawl-data" / "c"
    snap.mkdir(parents=True)
    pq.write_table(pa.table({"body": ["x"]}), snap / "bad.parquet")
    src = CrawlSource(str(tmp_path))
    why = []
    table, counts = DocumentBuilder(src).build("c", "0000", src.list_files("c"), on_unreadable=lambda f, w: why.append(w))
    assert table.num_rows == 0 and counts["unreadable_file"] == 1  # issue 25: one file no longer loses its shard
    assert len(why) == 1 and re.search(r"bad\.parquet.*no text column 'text'", why[0])


def test_store_roundtrip_and_fingerprint_in_footer(tmp_path):
    store = ShardStore(str(tmp_path / "out"))
    t = pa.table({"id": ["a"], "language": ["en"], "language_score": pa.array([0.9], pa.float32()),
                  "language_top_k": pa.array([[{"language": "en", "score": 0.9}]], schema.LANGUAGE.field("language_top_k").type),
                  "langid_model": ["m"]}, schema=schema.LANGUAGE)
    assert store.info("language", "S", "0000") is None
    n = store.write("language", "S", "0000", t, {"fingerprint": "abc", "rows": 1})
    assert n > 0 and store.info("language", "S", "0000") == {"fingerprint": "abc", "rows": 1}
    assert store.read("language", "S", "0000").equals(t)
    assert store.path("language", "S", "0000").endswith("language/S/0000.parquet")


def test_failed_write_leaves_previous_table_and_no_temp_file(tmp_path, monkeypatch):
    store = ShardStore(str(tmp_path / "out"))
    t = pa.table({"x": [1, 2, 3]})
    store.write("a", "S", "0000", t, {"fingerprint": "old"})

    def crash(table, fh):
        fh.write(b"PAR1 half a file")
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(storage, "_write_checksummed", crash)
    with pytest.raises(KeyboardInterrupt):
        store.write("a", "S", "0000", pa.table({"x": [9]}), {"fingerprint": "new"})
    monkeypatch.undo()
    folder = os.path.dirname(store.path("a", "S", "0000"))
    assert os.listdir(folder) == ["0000.parquet"]
    assert store.info("a", "S", "0000") == {"fingerprint": "old"} and store.read("a", "S", "0000").num_rows == 3
