"""Heuristic quality signals and decisions on real text: a real article passes every filter, and each rule
fails on a real text changed to break exactly that rule; thresholds are applied afterwards (retuning one
recomputes no signal), per language; bad input gives defined values."""

import json
import re

import polars as pl
import pytest

from curation.quality.filters import FILTERS, Thresholds, decide
from curation.quality.signals import SIGNAL_COLUMNS, signals
from curation.quality.words import words
from tests.conftest import DATA


def article() -> str:
    gt = json.loads((DATA / "article-extraction-benchmark-ground-truth.json").read_text())
    texts = sorted((v["articleBody"] for v in gt.values()), key=len)
    # a long, ordinary English article body (human-written ground truth)
    return next(t for t in texts if len(t) > 4000 and t.count("\n") > 5)


def verdict(text: str, thresholds: Thresholds = Thresholds(), language: str | None = None) -> dict:
    row = signals(text, language)
    df = pl.DataFrame([{**row, "language": language}])
    return decide(df, thresholds).row(0, named=True)


def test_real_article_passes_every_filter():
    v = verdict(article())
    assert v["quality_pass"], {f: v[f"{f}_reason"] for f in FILTERS}


def _lines(text):
    return [ln for ln in text.split("\n") if ln.strip()]


@pytest.mark.parametrize("name, make, filt, reason", [
    ("few words", lambda t: " ".join(t.split()[:30]), "gopher_quality", "gopher_short_doc"),
    ("hashes", lambda t: t + "\n" + "#tag " * 200, "gopher_quality", "gopher_too_many_hashes"),
    ("very long document", lambda t: "\n\n".join([t] * 200), "gopher_quality", "gopher_long_doc"),
    ("long words", lambda t: " ".join(w * 4 for w in t.split()), "gopher_quality", "gopher_above_avg_threshold"),
    ("short words", lambda t: " ".join(w[:2] for w in t.split()), "gopher_quality", "gopher_below_avg_threshold"),
    ("ellipsis symbols", lambda t: t + "\n" + "and more… " * 120, "gopher_quality", "gopher_too_many_ellipsis"),
    ("bullets", lambda t: "\n".join("• " + ln for ln in _lines(t)), "gopher_quality", "gopher_too_many_bullets"),
    ("ellipsis lines", lambda t: "\n".join(ln.rstrip(".") + "..." for ln in _lines(t)), "gopher_quality",
     "gopher_too_many_end_ellipsis"),
    ("no letters", lambda t: t + "\n" + " ".join(str(i) for i in range(3000)), "gopher_quality",
     "gopher_below_alpha_threshold"),
    ("no stop words", lambda t: re.sub(r"\b(the|be|to|of|and|that|have|with)\b", "", t, flags=re.I),
     "gopher_quality", "gopher_enough_stop_words"),
    ("repeated paragraphs", lambda t: "\n\n".join([_lines(t)[0]] * 3 + _lines(t)[:3]), "gopher_repetition",
     "dup_para_frac"),
    ("repeated lines", lambda t: "\n".join(_lines(t) + _lines(t)[:len(_lines(t)) // 2 + 1]), "gopher_repetition",
     None),
    ("lorem ipsum", lambda t: t + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit.", "c4", "lorem_ipsum"),
    ("curly bracket", lambda t: t + "\nThe code is function f() { return 1; } and it runs.", "c4", "curly_bracket"),
    ("few sentences", lambda t: "Only one sentence here, with enough words to count.\nA heading\nAnother heading",
     "c4", "too_few_sentences"),
    ("no terminal punctuation", lambda t: "\n".join(ln.rstrip(".!?\"'") for ln in _lines(t)), "fineweb",
     "line_punct_ratio"),
    ("short lines", lambda t: "\n".join(" ".join(t.split()[i:i + 3]) + "." for i in range(0, 600, 3)), "fineweb",
     "short_line_ratio"),
    ("duplicated line characters", lambda t: t + "\n" + "\n".join(_lines(t)[:4]), "fineweb", "char_dup_ratio"),
    ("list of two-word lines", lambda t: "\n".join(f"{a * 2} {b * 2}." for a, b in zip(*[iter(list(dict.fromkeys(
        w for w in t.split() if w.isalpha() and len(w) >= 8)))] * 2)), "fineweb", "list_ratio"),
])
def test_each_rule_fails_on_a_real_text_broken_for_it(name, make, filt, reason):
    v = verdict(make(article()))
    assert not v[f"{filt}_pass"], (name, v)
    if reason:
        assert v[f"{filt}_reason"] == reason, (name, v[f"{filt}_reason"])
    else:  # Gopher checks paragraphs before lines: either duplicate rule may fire first
        assert v[f"{filt}_reason"].startswith("dup_"), v[f"{filt}_reason"]


def test_gopher_repetition_ngram_rules():
    base = article()
    words_ = base.split()
    spam = base + "\n" + " ".join(["buy cheap watches online"] * 120)
    v = verdict(spam)
    assert v["gopher_repetition_reason"] in {"top_2_gram", "top_3_gram", "top_4_gram"} or \
        v["gopher_repetition_reason"].startswith("dup")
    s = signals(spam)
    assert s["top_4_gram_char_frac"] > 0.16 and s["dup_5_gram_char_frac"] > 0.15
    assert signals(base)["dup_5_gram_char_frac"] < 0.05 and len(words_) > 400


def test_thresholds_are_applied_without_recomputing_signals():
    rows = [signals(article()), signals(" ".join(article().split()[:120]))]
    df = pl.DataFrame(rows)
    assert decide(df)["gopher_quality_pass"].to_list() == [True, True]
    strict = decide(df, Thresholds(min_doc_words=200))["gopher_quality_reason"].to_list()
    assert strict == [None, "gopher_short_doc"]


def test_per_language_thresholds_and_languages_without_spaces():
    ja = "日本語の文章です。これはテストのための文です。" * 30
    assert len(words("日本語の文章です。")) == 9  # one word per character, punctuation its own token
    df = pl.DataFrame([{**signals(ja, "ja"), "language": "ja"}, {**signals(article(), "en"), "language": "en"}])
    default = decide(df)
    assert default["gopher_quality_reason"][0] == "gopher_below_avg_threshold"  # 1-character words
    tuned = decide(df, Thresholds(per_language={"ja": {"min_avg_word_length": 1, "min_stop_words": 0}}))
    assert tuned["gopher_quality_reason"][0] != "gopher_below_avg_threshold"
    assert tuned["language"].to_list() == ["ja", "en"]  # order kept
    assert tuned["gopher_quality_pass"][1]


@pytest.mark.parametrize("text", ["", "   \n ", "x" * 200_000, "\x00\x01\x02\xff" * 500, "word " * 10])
def test_bad_input_gives_defined_values(text):
    s = signals(text)
    assert set(s) == set(SIGNAL_COLUMNS)
    v = verdict(text)
    assert v["quality_pass"] is False
    if not text.strip():
        assert v["quality_reason"] == "empty" and s["words"] is None
