"""Decontamination on real text: every variant of issue 23 is caught, the look-alikes are not (tests/data/labels)."""

import gzip
import json
import random
from pathlib import Path

import pytest

from curation.labels import planting
from curation.labels.decontaminate import CONTAMINATION_SCHEMA, contamination_table, scan
from curation.labels.index import BenchmarkIndex, IndexParams, build_index
from curation.labels.benchmarks import read_items

DATA = Path(__file__).resolve().parents[1] / "data"
ITEMS = DATA / "labels" / "benchmark-items.jsonl"


def _hosts():
    with gzip.open(DATA / "cc-main-2019-30-docs.jsonl.gz", "rt") as f:
        return [json.loads(line)["text"] for line in f]


@pytest.fixture(scope="module")
def setup():
    items = list(read_items(str(ITEMS)))
    return items, build_index(items), _hosts()


def _planted(variant, items, hosts, seed=7):
    rng = random.Random(seed)
    filler = [w for h in hosts[:20] for w in h.split()[:100]]
    out = []
    for bench, item_id, text in items:
        if planting.eligible(variant, planting.n_words(text), text):
            piece = planting.variant_text(variant, text, rng, filler)
            doc, where = planting.plant(rng.choice(hosts), piece, rng)
            out.append((item_id, doc, where))
    return out


@pytest.mark.parametrize("variant", planting.VARIANTS)
def test_every_variant_is_caught_with_its_span(setup, variant):
    items, index, hosts = setup
    planted = _planted(variant, items, hosts)
    assert len(planted) >= 8, variant
    results = scan(index, [doc for _, doc, _ in planted])
    for (item_id, doc, (s, e)), r in zip(planted, results):
        assert item_id in [index.item_ids[i] for i in r.items], (variant, doc[s:e])
        covered = sum(max(0, min(e, b) - max(s, a)) for a, b in r.spans)
        assert covered >= 0.7 * (e - s), (variant, r.spans, (s, e))
        assert all(0 <= a < b <= len(doc) for a, b in r.spans)


@pytest.mark.parametrize("variant", planting.NEAR_MISSES)
def test_look_alikes_are_not_flagged(setup, variant):
    items, index, hosts = setup
    planted = _planted(variant, items, hosts)
    assert len(planted) >= 6, variant
    assert [r.hits for r in scan(index, [doc for _, doc, _ in planted])] == [0] * len(planted)


def test_real_pages_are_clean(setup):
    _, index, hosts = setup
    assert sum(r.hits for r in scan(index, hosts)) == 0


def test_short_item_needs_all_its_words(setup):
    items, index, _ = setup
    short = next(t for b, _, t in items if b == "lingua-short")
    words = short.split()
    assert scan(index, [f"Intro. {short.upper()} The end."])[0].benchmarks == ["lingua-short"]
    assert scan(index, [" ".join(words[:-1])])[0].hits == 0
    assert scan(index, [" ".join(words[1:])])[0].hits == 0


def test_common_phrase_shared_by_many_items_is_cut():
    stem = "which of the following statements about the french revolution is"
    texts = [f"{stem} true according to source number {i} written by author {i * 7} in year {1900 + i}"
             for i in range(30)]
    index = build_index([("quiz", str(i), t) for i, t in enumerate(texts)], IndexParams(max_df=10))
    assert index.stats["common_ngrams"] > 0
    page = f"Study guide. {stem.capitalize()} a question many quizzes ask; the answer depends on the period."
    assert scan(index, [page])[0].hits == 0
    assert scan(index, [texts[3]])[0].hits == 1


def test_offsets_follow_the_original_text_through_nfkc_and_case_folding():
    item = "Die Straße führt über die alte Brücke ﬁnal bis zum Dorfplatz hinunter heute"
    index = build_index([("de", "1", item)])
    page = "Vorwort\u00a0…\nDIE STRASSE FÜHRT ÜBER DIE ALTE BRÜCKE FINAL BIS ZUM DORFPLATZ HINUNTER HEUTE\nEnde"
    r = scan(index, [page])[0]
    assert r.hits == 1
    (s, e), = r.spans
    assert page[s:e] == "DIE STRASSE FÜHRT ÜBER DIE ALTE BRÜCKE FINAL BIS ZUM DORFPLATZ HINUNTER HEUTE"


def test_index_round_trip_digest_and_damage(setup):
    items, index, _ = setup
    again = BenchmarkIndex.from_bytes(index.to_bytes())
    assert again.digest() == index.digest()
    assert build_index(items).digest() == index.digest()
    assert build_index(items[:-1]).digest() != index.digest()
    with pytest.raises(ValueError, match="idx.npz: not a benchmark index"):
        BenchmarkIndex.from_bytes(index.to_bytes()[:200], "idx.npz")


def test_table_schema_and_counts(setup):
    items, index, hosts = setup
    texts = [hosts[0], f"{hosts[1]}\n{items[-1][2]}", None]
    table, counts = contamination_table(index, ["a", "b", "c"], texts)
    assert table.schema == CONTAMINATION_SCHEMA
    assert table.column("hits").to_pylist() == [0, 1, 0]
    assert counts["contaminated"] == 1 and counts["documents_per_benchmark"] == {"wikipedia": 1}
    assert table.column("spans").to_pylist()[1][0][1] <= len(texts[1])
