"""Mixing on real text with the real tokenizer: token weights within tolerance, repetition caps with the
shortfall reported, rehydration by cluster size, determinism, shards, manifest and data card."""

import gzip
import json
import re

import polars as pl
import pytest

from curation.mixing.build import sample
from curation.mixing.config import MixtureConfig
from curation.mixing.check import load_mixture
from curation.models.tokenizer import count_tokens, load_tokenizer
from curation.mixing.groups import group_key
from tests.conftest import DATA, ROOT


@pytest.fixture(scope="module")
def candidates() -> pl.DataFrame:
    with gzip.open(DATA / "cc-main-2019-30-docs.jsonl.gz", "rt") as fh:
        web = [json.loads(line) for line in fh]
    web = [r for r in web if r["text"].strip()]
    wiki = [json.loads(line) for line in open(ROOT / "sample_data/quality/wikipedia-abstracts-en.jsonl")]
    rows = [{"id": f"w{i}", "text": r["text"], "source": "web", "cluster_size": 1 + (i % 7 == 0) * 5,
             "language": "xx"} for i, r in enumerate(web)]
    rows += [{"id": f"k{i}", "text": r["text"], "source": "wiki", "cluster_size": 1, "language": "en"}
             for i, r in enumerate(wiki)]
    df = pl.DataFrame(rows)
    tok = load_tokenizer(None)
    df = df.with_columns(pl.Series("tokens", count_tokens(df["text"].to_list(), tok)))
    return df.with_columns(pl.Series("group", [group_key(r, ["source"]) for r in df.iter_rows(named=True)]))


def test_tokenizer_is_smollm2_from_the_wheel():
    tok = load_tokenizer(None)
    assert tok.vocab_size == 49152
    assert count_tokens(["Hello world, this is a test."], tok)[0] == 8


def test_weights_are_met_in_tokens(candidates):
    cfg = MixtureConfig(weights={"web": 0.7, "wiki": 0.3}, total_tokens=60_000, tolerance=0.02)
    chosen, results = sample(candidates, cfg)
    total = int(chosen["tokens"].sum())
    assert abs(total - 60_000) <= 0.02 * 60_000
    by = {r.group: r for r in results}
    for g, w in (("web", 0.7), ("wiki", 0.3)):
        assert abs(by[g].tokens / total - w) <= 0.02, (g, by[g])
        assert by[g].shortfall_tokens == 0
    assert chosen["repeat"].max() == 0  # enough text: nothing repeated


def test_short_group_is_repeated_up_to_the_cap_and_the_shortfall_reported(candidates):
    wiki_tokens = int(candidates.filter(pl.col("group") == "wiki")["tokens"].sum())
    cfg = MixtureConfig(weights={"web": 0.5, "wiki": 0.5}, total_tokens=2 * 10 * wiki_tokens, max_repeats=3)
    chosen, results = sample(candidates, cfg)
    by = {r.group: r for r in results}
    assert by["wiki"].repetition == pytest.approx(3.0, abs=0.01)  # capped at max_repeats
    assert by["wiki"].shortfall_tokens == by["wiki"].target_tokens - by["wiki"].tokens > 0
    per_doc = chosen.filter(pl.col("group") == "wiki").group_by("id").len()["len"]
    assert per_doc.max() == 3


def test_rehydration_gives_more_copies_to_documents_from_larger_clusters(candidates):
    web_tokens = int(candidates.filter(pl.col("group") == "web")["tokens"].sum())
    cfg = MixtureConfig(weights={"web": 1.0}, total_tokens=web_tokens * 2, rehydrate={1: 1, 5: 3}, max_repeats=4)
    chosen, _ = sample(candidates, cfg)
    copies = chosen.group_by("id").len().join(candidates.select("id", "cluster_size"), on="id")
    big = copies.filter(pl.col("cluster_size") >= 5)["len"].mean()
    small = copies.filter(pl.col("cluster_size") < 5)["len"].mean()
    assert big > 2 * small


def test_sampling_is_deterministic_and_independent_of_input_order(candidates):
    cfg = MixtureConfig(weights={"web": 0.6, "wiki": 0.4}, total_tokens=40_000, seed=7)
    a, _ = sample(candidates, cfg)
    shuffled = candidates.sample(fraction=1.0, shuffle=True, seed=3)
    b, _ = sample(shuffled, cfg)
    assert a["id"].to_list() == b["id"].to_list()  # same documents, same shuffled order
    c, _ = sample(candidates, MixtureConfig(weights={"web": 0.6, "wiki": 0.4}, total_tokens=40_000, seed=8))
    assert set(c["id"].to_list()) != set(a["id"].to_list())
    groups = a["group"].to_list()
    assert groups != sorted(groups)  # the final order is shuffled, not grouped


GOOD = ("name: x\nsnapshots: all\nrewrites: true\ngroup_by: [source, snapshot]\ncorpora:\n  - name: wiki\n"
        "    path: {wiki}\nweights:\n  crawl/CC-MAIN-2024-22: 0.6\n  rewrite/CC-MAIN-2024-22: 0.1\n  wiki/-: 0.3\n")
BAD = {  # the change to the good file -> the key the one-line error must name, and what it must say
    "unknown key": (("weights:", "wieghts: {a: 1}\nweights:"), "wieghts: unknown key"),
    "negative weight": (("wiki/-: 0.3", "wiki/-: -0.3"), "weights.wiki/-: must be >= 0"),
    "all-zero weights": (("0.6\n  rewrite/CC-MAIN-2024-22: 0.1\n  wiki/-: 0.3", "0\n  rewrite/CC-MAIN-2024-22: 0\n  wiki/-: 0"),
                         "weights: all weights are zero"),
    "group no source produces": (("wiki/-: 0.3", "books/-: 0.3"), "weights.books/-: no configured source is named 'books'"),
    "snapshot not in the crawl": (("crawl/CC-MAIN-2024-22: 0.6", "crawl/CC-MAIN-2099-01: 0.6"),
                                  "weights.crawl/CC-MAIN-2099-01: snapshot CC-MAIN-2099-01 is not among"),
    "rewrites off": (("rewrites: true", "rewrites: false"), "weights.rewrite/CC-MAIN-2024-22: no configured source"),
    "wrong arity": (("wiki/-: 0.3", "wiki: 0.3"), "weights.wiki: has 1 part(s) but group_by"),
    "missing corpus file": (("{wiki}", "nowhere.jsonl"), "corpora[0].path: file not found"),
    "bad mixture name": (("name: x", "name: ../x"), "name: '../x' is not a valid name"),
    "bad corpus name": (("- name: wiki", "- name: 'wi ki'"), "corpora[0].name: 'wi ki' is not a valid corpus name"),
    "bad group_by": (("[source, snapshot]", "[colour]"), "group_by: cannot group by ['colour']"),
    "bad tolerance": (("snapshots: all", "snapshots: all\ntolerance: 2"), "tolerance: must be <= 1"),
    "bad automation": (("snapshots: all", "snapshots: all\nautomation: hourly"), "automation: must be eager, manual"),
    "not YAML": (("name: x", "name: [x"), "not valid YAML"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_every_bad_mixture_is_one_line_naming_the_file_and_the_key(tmp_path, case):
    from curation.mixing.check import MixtureError, validate_mixture_file

    wiki = ROOT / "sample_data/quality/wikipedia-abstracts-en.jsonl"
    good = tmp_path / "good.yaml"
    good.write_text(GOOD.format(wiki=wiki))
    assert validate_mixture_file(str(good), ["CC-MAIN-2024-22", "CC-MAIN-2020-34"]) == []
    (old, new), expected = BAD[case]
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.format(wiki=wiki).replace(old.replace("{wiki}", str(wiki)), new))
    errors = validate_mixture_file(str(bad), ["CC-MAIN-2024-22", "CC-MAIN-2020-34"])
    assert len(errors) >= 1 and all("\n" not in e and e.startswith(f"{bad}: ") for e in errors), errors
    assert any(expected in e for e in errors), errors
    with pytest.raises(MixtureError, match=re.escape(expected)):
        load_mixture(str(bad), ["CC-MAIN-2024-22", "CC-MAIN-2020-34"])


def test_the_demo_mixture_is_valid():
    cfg = load_mixture(str(ROOT / "mixtures/demo.yaml"), ["CC-MAIN-2024-22", "CC-MAIN-2020-34"])
    assert cfg.corpora[0].path.endswith("sample_data/quality/wikipedia-abstracts-en.jsonl")
    with pytest.raises(ValueError, match="all zero"):
        sample(pl.DataFrame({"id": ["a"], "group": ["g"], "tokens": [5]}), MixtureConfig(weights={"g": 0}))


def test_topic_clusters_group_similar_documents():
    from curation.mixing.topics import kmeans, topic_labels

    sport = ["The striker scored twice as the home team won the football match.",
             "The goalkeeper saved a penalty in the second half of the match.",
             "Fans cheered as the team lifted the league trophy after the final."]
    cook = ["Whisk the eggs with sugar, then fold in the flour and bake for 30 minutes.",
            "Simmer the tomatoes with garlic and basil to make a simple pasta sauce.",
            "Knead the dough, let it rise for an hour, then bake the bread until golden."]
    labels = topic_labels(sport + cook, k=2, seed=0)
    assert len(set(labels[:3])) == 1 and len(set(labels[3:])) == 1 and labels[0] != labels[3]
    assert labels == topic_labels(sport + cook, k=2, seed=0)
    import numpy as np

    x = np.r_[np.zeros((5, 2)), np.ones((9, 2)) * 5]
    lab, cent = kmeans(x, 2, seed=1)
    assert list(lab) == [1] * 5 + [0] * 9  # clusters numbered by decreasing size


def test_accepted_rewrites_are_a_source_and_rejected_ones_are_counted(tmp_path):
    import pyarrow as pa

    from collections import Counter

    from curation.models.tokenizer import tokenizer_id
    from curation.mixing.source import rewrite_candidates
    from curation.core.storage import ShardStore
    from curation.core.tables import REWRITES

    wiki = [json.loads(line)["text"] for line in open(ROOT / "sample_data/quality/wikipedia-abstracts-en.jsonl")][:3]
    rows = [{"id": f"d{i}:rw:wikipedia@1", "source_id": f"d{i}", "snapshot": "S", "url": f"https://x/{i}",
             "language": lang, "prompt": "wikipedia", "prompt_version": "1", "model": "m", "params": "{}",
             "text": text, "chunks": 1, "tokens_in": 10, "tokens_out": 10, "cached_chunks": 0, "seconds": 1.0,
             "accepted": ok, "reject_reason": None if ok else "truncated", "quality_pass": True, "quality_reason": None,
             "classifier_score": 0.5, "quality_bucket": 6, "source_quality_reason": "char_dup_ratio",
             "source_classifier_score": 0.4, "source_quality_bucket": 5}
            for i, (text, lang, ok) in enumerate(zip(wiki, ["en", "de", "en"], [True, True, False]))]
    store = ShardStore(str(tmp_path))
    store.write("rewrites", "S", "0000", pa.Table.from_pylist(rows, schema=REWRITES), {"fingerprint": "f"})
    removed = Counter()
    tid = tokenizer_id(None)
    got = rewrite_candidates(store, "S", "0000", MixtureConfig(languages=["en"], weights={"rewrite/S": 1}), tid, removed)
    assert got["id"].to_list() == ["d0:rw:wikipedia@1"] and got["source"].to_list() == ["rewrite"]
    assert got["quality_bucket"].to_list() == [6] and got["cluster_size"].to_list() == [1]
    assert removed == {"rewrite rejected": 1, "language not in en": 1, "source:rewrite": 1}
    assert got["tokens"].to_list() == count_tokens(wiki[:1], load_tokenizer(None)).tolist()  # counted on the fly
    with pytest.raises(FileNotFoundError, match="rewrites"):
        rewrite_candidates(store, "S", "0001", MixtureConfig(weights={"rewrite/S": 1}), tid, Counter())
