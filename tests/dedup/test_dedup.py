"""Deduplication on real text: MinHash signatures, recall and precision against true Jaccard similarity,
the keep rule's independence from sharding, exact and URL duplicates, bounded key-range merging, the
incremental cross-snapshot index, and clear errors for damaged bucket files."""

import datetime as dt
import gzip
import json
import random

import numpy as np
import pyarrow as pa
import pytest

from curation.dedup.arrays import ArrayFile
from curation.dedup.config import DedupConfig
from curation.dedup.clusters import PriorIndex, write_index
from curation.dedup.signatures import normalize_url, text_key
from curation.dedup.decisions import run_local, shard_decisions
from curation.dedup.evaluation import derive, edit_words, pair_metrics, true_pairs
from curation.dedup.minhash import MinHashConfig, MinHasher, jaccard, shingle_set, words
from tests.conftest import DATA

T0 = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)


def web_docs() -> list[dict]:
    with gzip.open(DATA / "cc-main-2019-30-docs.jsonl.gz", "rt") as fh:
        rows = [json.loads(line) for line in fh]
    return [{"url": r["metadata"]["warc_url"], "text": r["text"]} for r in rows if r["text"].strip()]


def articles() -> list[str]:
    gt = json.loads((DATA / "article-extraction-benchmark-ground-truth.json").read_text())
    return [v["articleBody"] for _, v in sorted(gt.items()) if len(v["articleBody"]) > 500]


def docs_table(texts, urls=None, prefix="d", days=None) -> pa.Table:
    n = len(texts)
    return pa.table({
        "id": [f"{prefix}{i:05d}" for i in range(n)],
        "url": urls if urls is not None else [f"https://example.org/{prefix}/{i}" for i in range(n)],
        "text": texts,
        "fetch_date": pa.array([T0 + dt.timedelta(days=(days[i] if days else 0)) for i in range(n)],
                               pa.timestamp("ms", tz="UTC")),
    })


def shard_split(table: pa.Table, n_shards: int, seed: int = 0) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    assign = rng.integers(0, n_shards, table.num_rows)
    return {f"{s:04d}": table.filter(pa.array(assign == s)) for s in range(n_shards)}


def labels_by_id(members: pa.Table) -> dict[str, tuple]:
    return {r["id"]: (r["keep"], r["reason"], r["cluster_id"], r["cluster_size"]) for r in members.to_pylist()}


# --------------------------------------------------------------------------------------------- MinHash

def test_words_follow_datatrove_simplification():
    assert words("Ça coûte 3,50 € — « TRÈS » cher!") == ["ca", "coute", "0", "€", "tres", "cher"]
    assert words("2024-05-01: the 1st") == ["0", "0", "0", "the", "0st"]
    assert words("日本語のテキスト") == list("日本語のテキスト")  # no spaces: one word per character
    assert words("a\u0301\u0301 b") == ["a", "b"]


def test_batch_signatures_equal_single_signatures_on_real_text():
    texts = [d["text"] for d in web_docs()][:150] + articles()[:20] + ["", "one two", "中文文本没有空格。"]
    h = MinHasher()
    batch, counts = h.signatures(texts, batch_size=64)
    for i, t in enumerate(texts):
        single, _ = h.signature(t)
        assert np.array_equal(batch[i], single), i
    assert counts[-3] == 0 and counts[-2] == 1


EXPECTED = DATA / "minhash-expected-signatures.npz"  # written by the pre-token-table implementation (commit 5b3d1d3)


def expected_texts() -> list[str]:
    texts = [d["text"] for d in web_docs()] + articles()
    texts += [json.loads(line)["text"] for line in (DATA / "lingua-sentences-sample.jsonl").open(encoding="utf-8")]
    return texts + ["", "one two", "中文文本没有空格。", "ΟΔΥΣΣΕΥΣ ΚΑΙ ΣΙΣΥΦΟΣ ΣΤΗΝ ΟΔΟ", "İSTANBUL İzmir DİYARBAKIR şehir",
                    "a\u2028b\u3000c\u00a0d\u0085e\u1680f\u200ag\u202fh\u205fi\x1cj\x1fk and 3,500.00 or ٣٫١٤ more",
                    "a\u0301\u0301 b ǅemal ﬁne Straße ΐ ᾈ", "ꟛ \uA7DD \U0001DF40 mixed タイ ไทย text 한국어 문장"]


@pytest.mark.parametrize("cache_size", [1_000_000, 50])
def test_fast_signatures_are_bit_identical_to_the_old_implementation(cache_size):
    """642 real texts (web pages, articles, 75 languages, Greek final sigma, Turkish dotted I, every Unicode
    space): the token-table path gives the old implementation's signatures, cold and warm, whatever the cache."""
    texts, expected = expected_texts(), np.load(EXPECTED)
    h = MinHasher(cache_size=cache_size)
    for batch_size in (64, 512):  # the second pass reads the token table the first one filled
        sigs, counts = h.signatures(texts, batch_size=batch_size)
        assert np.array_equal(sigs, expected["signatures"]) and np.array_equal(counts, expected["counts"])


def test_separator_characters_are_exactly_the_regex_class():
    import polars as pl

    from curation.dedup.minhash import _SEPARATOR_CHARS, _SEPARATORS
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    matched = pl.Series(chars).str.contains(_SEPARATORS).to_numpy()
    assert {c for c, m in zip(chars, matched) if m} == set(_SEPARATOR_CHARS)


def test_signature_estimates_jaccard_without_bias():
    rng = random.Random(1)
    h = MinHasher()
    errors = []
    for text in articles()[:40]:
        for f in (0.02, 0.05, 0.1, 0.2):
            other = edit_words(text, f, rng)
            true = jaccard(shingle_set(text), shingle_set(other))
            est = float(np.mean(h.signature(text)[0] == h.signature(other)[0]))
            errors.append(est - true)
    errors = np.array(errors)
    # 112 hashes: the standard error of one estimate is at most sqrt(0.25 / 112) = 0.047
    assert abs(errors.mean()) < 0.015
    assert np.sqrt((errors ** 2).mean()) < 0.06


# ------------------------------------------------------------------------------------ recall/precision

def test_recall_and_precision_against_true_jaccard_on_real_pages(tmp_path):
    base = [d["text"] for d in web_docs()] + articles()
    derived = derive(base, seed=3, per_kind=60)
    texts = base + [t for _, _, t in derived]
    table = docs_table(texts)
    members, clusters, inputs = run_local(shard_split(table, 3), DedupConfig(), str(tmp_path))
    # cluster label per text, in the order of ``texts``
    pos = {}
    for shard_input, off in zip(clusters.shards, clusters.offsets):
        ids = shard_split(table, 3)[shard_input].column("id").to_pylist()
        for r, i in enumerate(ids):
            pos[int(i[1:])] = off + r
    label = clusters.labels_of(np.array([pos[i] for i in range(len(texts))]))
    metrics = pair_metrics(true_pairs(texts), label)
    print(json.dumps(metrics.as_dict(), indent=1))
    assert metrics.pairs_high > 300 and metrics.pairs_low > 300
    assert metrics.recall >= 0.95
    assert metrics.low_merge_rate <= 0.01
    # clusters are connected components: two 20%- and 30%-edited copies of one page (Jaccard < 0.5 to each
    # other) join through the page itself, so a few co-clustered pairs are below 0.5 by construction
    assert metrics.precision >= 0.9
    # every exact copy is labelled exact_duplicate or kept (one per cluster), never missed
    by_id = labels_by_id(members)
    for k, (src, kind, _) in enumerate(derived):
        if kind == "exact_copy":
            a, b = by_id[f"d{src:05d}"], by_id[f"d{len(base) + k:05d}"]
            assert a[2] == b[2] and a[3] >= 2 and {a[1], b[1]} <= {None, "exact_duplicate"}


def test_candidate_check_reads_each_pairs_signatures_and_drops_only_dissimilar_pairs(tmp_path):
    """Three shards of real pages and near-copies: the check's kept pairs are exactly those whose signatures
    (computed again here, one text at a time) agree on at least the threshold's share of hashes; clusters
    only split, never merge; pairs of true Jaccard >= 0.95 stay together."""
    from curation.dedup.clusters import check_candidates

    base = [d["text"] for d in web_docs()][:60]
    derived = derive(base, seed=5, per_kind=20)
    texts = base + [t for _, _, t in derived]
    shards = shard_split(docs_table(texts), 3)
    _, plain, _ = run_local(shards, DedupConfig(min_similarity=0), str(tmp_path / "a"))
    _, checked, inputs = run_local(shards, DedupConfig(min_similarity=0.9), str(tmp_path / "b"))
    assert sum(checked.dropped.values()) > 0
    order = [int(i[1:]) for s in sorted(shards) for i in shards[s].column("id").to_pylist()]  # global -> text
    everyone = np.arange(len(texts))
    before, after = plain.labels_of(everyone), checked.labels_of(everyone)
    assert all(len(set(before[after == c])) == 1 for c in np.unique(after))  # a refinement
    h = MinHasher()
    sig = {g: h.signature(texts[order[g]])[0] for g in everyone}
    u, v = np.repeat(everyone[:60], 3), np.concatenate([everyone[1:61], everyone[2:62], everyone[80:140]])
    ku, kv, dropped = check_candidates(inputs, checked.offsets, u, v, DedupConfig(min_similarity=0.5))
    expected = [(a, b) for a, b in zip(u, v) if np.mean(sig[a] == sig[b]) >= 0.5]
    assert list(zip(ku, kv)) == expected and dropped == len(u) - len(expected)
    for (a, b), j in true_pairs(texts).items():
        if j >= 0.95:
            ga, gb = order.index(a), order.index(b)
            assert after[ga] == after[gb]


# ---------------------------------------------------------------------------------------- the decision

def test_keep_rule_is_independent_of_sharding_and_order(tmp_path):
    base = articles()[:30]
    texts = base + [t for _, _, t in derive(base, seed=5, per_kind=15)]
    table = docs_table(texts, days=[i % 7 for i in range(len(texts))])
    results = []
    for n_shards, seed, chunk in ((1, 0, 4_000_000), (3, 1, 50), (5, 2, 7)):
        work = tmp_path / f"{n_shards}"
        work.mkdir()
        members, _, _ = run_local(shard_split(table, n_shards, seed), DedupConfig(), str(work), chunk=chunk)
        results.append(labels_by_id(members))
    assert results[0] == results[1] == results[2]
    kept = [v for v in results[0].values() if v[0]]
    assert len({v[2] for v in kept}) == len(kept)  # one kept per cluster
    # "longest": the kept copy of each cluster is its longest text
    length = dict(zip(table.column("id").to_pylist(), (len(t) for t in texts)))
    for cid in {v[2] for v in results[0].values()}:
        ids = [i for i, v in results[0].items() if v[2] == cid]
        keeper = next(i for i in ids if results[0][i][0])
        assert length[keeper] == max(length[i] for i in ids)


@pytest.mark.parametrize("rule", ["first_fetched", "last_fetched", "lowest_id"])
def test_other_keep_rules(tmp_path, rule):
    text = articles()[0]
    table = docs_table([text, text + " more", text + " more words"], days=[5, 1, 9])
    members, _, _ = run_local({"0000": table}, DedupConfig(keep=rule), str(tmp_path))
    kept = [r["id"] for r in members.to_pylist() if r["keep"]]
    assert kept == [{"first_fetched": "d00001", "last_fetched": "d00002", "lowest_id": "d00000"}[rule]]


def test_exact_and_url_duplicates_and_reasons(tmp_path):
    arts = articles()
    texts = [arts[0], "  " + arts[0].replace("\n", " \n ") + " ", arts[1], arts[2], arts[3]]
    urls = ["https://a.org/x", "https://a.org/y", "HTTPS://A.ORG/page/#top", "https://a.org/page/", None]
    members, _, _ = run_local({"0000": docs_table(texts, urls)}, DedupConfig(), str(tmp_path))
    by_id = labels_by_id(members)
    assert by_id["d00001"][1] == "exact_duplicate" or by_id["d00000"][1] == "exact_duplicate"
    assert {by_id["d00002"][1], by_id["d00003"][1]} == {None, "url_duplicate"}
    assert "d00004" not in by_id
    full = shard_decisions(pa.array([f"d{i:05d}" for i in range(5)]), members).to_pylist()
    assert [r["cluster_size"] for r in full] == [2, 2, 2, 2, 1]
    assert full[4]["keep"] and full[4]["reason"] is None and full[4]["cluster_id"] is None
    assert text_key(" a \n b ") == "a b"
    assert normalize_url("HTTP://Example.COM:80/a/?q=1#f") == "http://example.com/a?q=1"

    # URL dedup off: the two pages with one URL but different texts are both kept
    members, _, _ = run_local({"0000": docs_table(texts, urls)}, DedupConfig(url=False), str(tmp_path / "u"))
    assert "d00002" not in labels_by_id(members)


# -------------------------------------------------------------------------------- incremental, errors

def test_incremental_mode_matches_earlier_snapshot_through_its_index_only(tmp_path):
    arts = articles()
    old = docs_table(arts[:20], prefix="a")
    (tmp_path / "a").mkdir()
    _, _, inputs_a = run_local({"0000": old}, DedupConfig(), str(tmp_path / "a"))
    write_index(str(tmp_path / "a.index"), inputs_a, 14, "fp-a", "CC-MAIN-2024-10")
    for p in (tmp_path / "a").iterdir():  # the earlier snapshot's signatures are gone: only its index is read
        p.unlink()
    rng = random.Random(0)
    new_texts = [arts[0], edit_words(arts[1], 0.01, rng), arts[30], arts[31], arts[31]]
    (tmp_path / "b").mkdir()
    prior = [PriorIndex("CC-MAIN-2024-10", ArrayFile(str(tmp_path / "a.index")))]
    members, _, _ = run_local({"0000": docs_table(new_texts, prefix="b")}, DedupConfig(scope="incremental"),
                              str(tmp_path / "b"), prior=prior)
    by_id = {r["id"]: r for r in members.to_pylist()}
    assert by_id["b00000"]["reason"] == "exact_duplicate" and by_id["b00000"]["matched_snapshot"] == "CC-MAIN-2024-10"
    assert by_id["b00001"]["reason"] == "minhash_duplicate" and by_id["b00001"]["matched_snapshot"] == "CC-MAIN-2024-10"
    assert "b00002" not in by_id
    assert {by_id["b00003"]["keep"], by_id["b00004"]["keep"]} == {True, False}
    assert by_id["b00003"]["matched_snapshot"] is None


def test_damaged_bucket_file_is_named_in_the_error(tmp_path):
    _, _, inputs = run_local({"0000": docs_table(articles()[:5])}, DedupConfig(), str(tmp_path))
    path = tmp_path / "0000.buckets"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(ValueError, match="0000.buckets.*truncated"):
        ArrayFile(str(path))
    path.write_bytes(b"not an array file" * 10)
    with pytest.raises(ValueError, match="0000.buckets.*bad magic"):
        ArrayFile(str(path))


def test_configuration_is_validated():
    with pytest.raises(ValueError, match="min_similarity"):
        DedupConfig(min_similarity=1.5)
    with pytest.raises(ValueError, match="keep must be"):
        DedupConfig(keep="newest")
    with pytest.raises(ValueError, match="scope must be"):
        DedupConfig(scope="global")
    with pytest.raises(ValueError):
        MinHashConfig(num_buckets=0)
    assert abs(MinHashConfig().candidate_probability(0.8) - 0.924) < 0.001
