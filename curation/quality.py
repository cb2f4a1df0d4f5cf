"""Heuristic quality signals (Gopher quality, Gopher repetition, C4, FineWeb) and the threshold decision.

Two steps, so that retuning a threshold recomputes nothing expensive:

1. ``signals(text, language)`` measures every statistic the four published filters test (word counts,
   ratios, duplicate fractions, ...) - one pass over the text, no threshold involved.
2. ``decide(table, thresholds)`` applies the thresholds to a whole shard of signals as Polars expressions
   and gives a pass/fail and a reason code per filter, the first failing reason and an overall verdict.

Rules and thresholds are the published ones, as datatrove implements them (FineWeb's pipeline):

* Gopher quality - Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights from Training
  Gopher", appendix A.1.1: 50-100,000 words, mean word length 3-10, symbol (``#``, ellipsis) to word ratio
  <= 0.1, <= 90% of lines starting with a bullet, <= 30% ending with an ellipsis, >= 80% of words with a
  letter, >= 2 of the stop words "the, be, to, of, and, that, have, with".
* Gopher repetition - same paper, table A1: duplicate line / paragraph fraction <= 0.30, duplicate line /
  paragraph character fraction <= 0.20, top 2/3/4-gram character fraction <= 0.20/0.18/0.16, duplicated
  5..10-gram character fraction <= 0.15/0.14/0.13/0.12/0.11/0.10.
* C4 - Raffel et al. 2020, "Exploring the Limits of Transfer Learning ..." section 2.2 and the TFDS
  ``c4_utils`` code: lines kept only if they end in terminal punctuation, have >= 3 words, no word over
  1,000 characters, no "javascript", no cookie/terms-of-use phrase; the page is dropped on "lorem ipsum" or a
  curly bracket, or with fewer than 5 sentences in the kept lines.
* FineWeb - Penedo et al. 2024, "The FineWeb Datasets", section 3.5: <= 88% of lines without terminal
  punctuation (line punctuation ratio >= 0.12), <= 67% of lines of 30 characters or fewer, duplicated line
  characters <= 1% of the text, newlines per word <= 0.3.

Words: a regex tokenizer close to spaCy's (which datatrove uses): runs of letters/digits (with inner
apostrophes, periods and commas, as in "don't", "U.S.", "3,500") are words, every other non-space character
is a token of its own. Scripts written without spaces (Han, kana, Thai, Lao, Khmer, Myanmar) give one word
per character, so Chinese and Japanese get meaningful counts; FineWeb2-style per-language thresholds
are ``Thresholds.per_language`` overrides.
"""

from __future__ import annotations

import re
from collections import Counter

import regex
from dataclasses import dataclass, field, replace

STOP_WORDS_EN = ("the", "be", "to", "of", "and", "that", "have", "with")

# datatrove's PUNCTUATION_SET (the same characters as curation.minhash uses)
from curation.minhash import _PUNCTUATION  # noqa: E402

PUNCTUATION_SET = frozenset(_PUNCTUATION)
_NO_SPACE = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# spaCy-like tokens: URLs and e-mail addresses whole, abbreviations ("U.S."), words with inner ' . , (as in
# "don't", "3,500.00"), ellipses and "--" whole, every other symbol a token of its own
# (letters, marks, digits and format characters such as the soft hyphen make up words; the regex module
# knows Unicode categories), scripts without spaces give one token per grapheme cluster
_SPECIAL = r"https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.-]+|(?:\p{L}\.){2,}|\.{2,}|-{2,}"
_W = r"[\p{L}\p{M}\p{N}\p{Cf}]"
_WORD_RE = regex.compile(rf"{_SPECIAL}|(?=[{_NO_SPACE}])\X|(?:(?![{_NO_SPACE}]){_W})+(?:['’.,/](?:(?![{_NO_SPACE}]){_W})+)*"
                         rf"|[^\s]")
_SIMPLE_WORD_RE = regex.compile(rf"{_SPECIAL}|{_W}+(?:['’.,/]{_W}+)*|[^\s]")
_NEEDS_REGEX = regex.compile(r"[\p{M}\p{Cf}_]")
# the same rule with the faster re module, for texts without marks, format characters or underscores
_FAST_WORD_RE = re.compile(r"https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.-]+|(?:[^\W\d_]\.){2,}|\.{2,}|-{2,}"
                           r"|[^\W_]+(?:['’.,/][^\W_]+)*|[^\s]")
_HAS_NO_SPACE = re.compile(f"[{_NO_SPACE}]")
_PARAGRAPH_RE = re.compile(r"\n{2,}")
_LINES_RE = re.compile(r"\n+")
_CITATION_RE = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
_SENTENCE_END_RE = re.compile(r"[.!?。！？]+[\"'”’)\]]*(?=\s|$)")
C4_END_PUNCTUATION = (".", "?", "!", '"', "'")
C4_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")

# datatrove's TERMINAL_PUNCTUATION (utils/text.py, Apache-2.0): sentence-final marks across scripts, used by
# FineWeb's line punctuation rule
TERMINAL_PUNCTUATION = tuple("!.?\u0589\u061d\u061e\u061f\u06d4\u0700\u0701\u0702\u07f9\u0837\u0839\u083d\u083e\u0964\u0965\u104a\u104b\u1362\u1367\u1368\u166e\u1735\u1736\u17d4\u17d5\u17d6\u17d9\u17da\u1803\u1809\u1944\u1945\u1aa8\u1aa9\u1aaa\u1aab\u1b5a\u1b5b\u1b5e\u1b5f\u1b7d\u1b7e\u1c3b\u1c3c\u1c7e\u1c7f\u203c\u203d\u2047\u2048\u2049\u2e2e\u2e3c\u2e53\u2e54\u3002\ua4ff\ua60e\ua60f\ua6f3\ua6f7\ua876\ua877\ua8ce\ua8cf\ua92f\ua9c8\ua9c9\uaa5d\uaa5e\uaa5f\uaaf0\uaaf1\uabeb\ufe52\ufe56\ufe57\uff01\uff0e\uff1f\uff61\U00010a56\U00010a57\U00010f55\U00010f56\U00010f57\U00010f58\U00010f59\U00010f86\U00010f87\U00010f88\U00010f89\U00011047\U00011048\U000110be\U000110bf\U000110c0\U000110c1\U00011141\U00011142\U00011143\U000111c5\U000111c6\U000111cd\U000111de\U000111df\U00011238\U00011239\U0001123b\U0001123c\U000112a9\U0001144b\U0001144c\U000115c2\U000115c3\U000115c9\U000115ca\U000115cb\U000115cc\U000115cd\U000115ce\U000115cf\U000115d0\U000115d1\U000115d2\U000115d3\U000115d4\U000115d5\U000115d6\U000115d7\U00011641\U00011642\U0001173c\U0001173d\U0001173e\U00011944\U00011946\U00011a42\U00011a43\U00011a9b\U00011a9c\U00011c41\U00011c42\U00011ef7\U00011ef8\U00011f43\U00011f44\U00016a6e\U00016a6f\U00016af5\U00016b37\U00016b38\U00016b44\U00016e98\U0001bc9f\U0001da88")


_SYMBOL_WORD = regex.compile("(?m)^[" + "".join(regex.escape(c) for c in sorted(PUNCTUATION_SET)) + "]+$")
_ALPHA_WORD = regex.compile(r"(?m)^[^\n]*?\p{L}")  # str.isalpha() is true exactly for category L


def words(text: str) -> list[str]:
    if _HAS_NO_SPACE.search(text):
        return _WORD_RE.findall(text)
    if _NEEDS_REGEX.search(text):
        return _SIMPLE_WORD_RE.findall(text)
    return _FAST_WORD_RE.findall(text)


def _duplicates(items: list[str]) -> tuple[int, int]:
    """(duplicate elements, characters in them), counting every repeat after the first (Gopher)."""
    seen: set[str] = set()
    n = chars = 0
    for x in items:
        if x in seen:
            n += 1
            chars += len(x)
        else:
            seen.add(x)
    return n, chars


class _NGrams:
    """64-bit keys and character lengths of a document's word n-grams (keys mix per-process word hashes with
    numpy, so counting and lookups work on ints instead of tuples of strings)."""

    def __init__(self, ws: list[str]):
        import numpy as np

        self.n_words = len(ws)
        self.ids = np.fromiter((hash(w) for w in ws), dtype=np.int64, count=len(ws)).view(np.uint64)
        lens = np.fromiter(map(len, ws), dtype=np.int64, count=len(ws))
        self.cum = np.concatenate(([0], np.cumsum(lens)))

    def keys(self, n: int) -> tuple[list[int], list[int]]:
        import numpy as np

        from curation.minhash import _MIX, _splitmix

        m = self.n_words - n + 1
        if m <= 0:
            return [], []
        acc = self.ids[:m].copy()
        with np.errstate(over="ignore"):
            for k in range(1, n):
                acc = _splitmix(acc * _MIX + self.ids[k:k + m])
        return acc.tolist(), (self.cum[n:] - self.cum[:-n]).tolist()


def _top_ngram_chars(grams: _NGrams, n: int) -> int:
    """Characters covered by the most frequent n-gram: its length (words joined by spaces) times its count."""
    keys, lengths = grams.keys(n)
    if not keys:
        return 0
    counts = Counter(keys)
    top, c = counts.most_common(1)[0]
    return (lengths[keys.index(top)] + n - 1) * c


def _dup_ngram_chars(grams: _NGrams, n: int) -> int:
    """Characters in n-grams already seen, skipping past each repeat (Gopher's duplicated n-gram fraction)."""
    keys, lengths = grams.keys(n)
    if len(set(keys)) == len(keys):  # no n-gram occurs twice: nothing to count (most documents, at 5+ words)
        return 0
    seen: set = set()
    chars = i = 0
    last = len(keys)
    while i < last:
        k = keys[i]
        if k in seen:
            chars += lengths[i]
            i += n
        else:
            seen.add(k)
            i += 1
    return chars


@dataclass(frozen=True)
class SignalConfig:
    """What the signals measure (changing it recomputes them). Thresholds live in ``Thresholds``."""

    stop_words: tuple[str, ...] = STOP_WORDS_EN
    stop_words_per_language: tuple[tuple[str, tuple[str, ...]], ...] = ()
    c4_filter_no_terminal_punct: bool = True
    c4_min_words_per_line: int = 3
    c4_max_word_length: int = 1000
    fineweb_short_line_length: int = 30
    max_chars: int = 1_000_000  # longer texts are measured on their first max_chars characters


def signals(text: str, language: str | None = None, config: SignalConfig = SignalConfig()) -> dict:
    """Every statistic the four filters test, for one document (all None for an empty text)."""
    text = text[: config.max_chars] if text else ""
    n_chars = len(text)
    out: dict = {"chars": n_chars}
    if not text.strip():
        return {**out, **{k: None for k in SIGNAL_COLUMNS if k != "chars"}}
    ws = words(text)
    n_words = len(ws)
    # per-word tests as one regex pass over the words joined by newlines (tokens never contain a newline)
    joined = "\n".join(ws)
    symbol_only = _SYMBOL_WORD.findall(joined)
    n_non_symbol = n_words - len(symbol_only)
    non_symbol_chars = sum(map(len, ws)) - sum(map(len, symbol_only))
    lines = text.splitlines()
    stop = dict(config.stop_words_per_language).get(language or "", config.stop_words)
    lowered = {w.lower() for w in ws} if any(s.lower() != s for s in stop) else set(ws)
    out.update({
        "words": n_words,
        "non_symbol_words": n_non_symbol,
        "mean_word_length": (non_symbol_chars / n_non_symbol) if n_non_symbol else 0.0,
        "hash_ratio": text.count("#") / max(n_words, 1),
        "ellipsis_ratio": (text.count("...") + text.count("…")) / max(n_words, 1),
        "bullet_lines_ratio": sum(s.lstrip().startswith(("•", "-")) for s in lines) / max(len(lines), 1),
        "ellipsis_lines_ratio": sum(s.rstrip().endswith(("...", "…")) for s in lines) / max(len(lines), 1),
        "alpha_words_ratio": len(_ALPHA_WORD.findall(joined)) / max(n_words, 1),
        "stop_words": len(set(stop) & (set(ws) | lowered)),
    })
    # Gopher repetition
    paragraphs = _PARAGRAPH_RE.split(text.strip())
    p_dup, p_chars = _duplicates(paragraphs)
    split_lines = _LINES_RE.split(text)
    l_dup, l_chars = _duplicates(split_lines)
    out.update({
        "dup_para_frac": p_dup / len(paragraphs),
        "dup_para_char_frac": p_chars / n_chars,
        "dup_line_frac": l_dup / len(split_lines),
        "dup_line_char_frac": l_chars / n_chars,
    })
    grams = _NGrams(ws)
    for n in (2, 3, 4):
        out[f"top_{n}_gram_char_frac"] = _top_ngram_chars(grams, n) / n_chars
    for n in range(5, 11):
        out[f"dup_{n}_gram_char_frac"] = _dup_ngram_chars(grams, n) / n_chars
    # C4 (line rules, then page rules on the kept lines)
    kept = sentences = 0
    lorem = curly = False
    for line in lines:
        line = line.strip()
        lw = line.split()
        if config.c4_max_word_length > 0 and any(len(w) > config.c4_max_word_length for w in lw):
            continue
        line = _CITATION_RE.sub("", line)
        if config.c4_filter_no_terminal_punct and (not line.endswith(C4_END_PUNCTUATION) or line.endswith("...")):
            continue
        if len(lw) < config.c4_min_words_per_line:
            continue
        low = line.lower()
        if "lorem ipsum" in low:
            lorem = True
        if "javascript" in low:
            continue
        if "{" in line:
            curly = True
        if any(p in low for p in C4_POLICY):
            continue
        kept += 1
        sentences += max(1, len(_SENTENCE_END_RE.findall(line)))
    out.update({"c4_kept_lines": kept, "c4_sentences": sentences, "c4_lorem_ipsum": lorem, "c4_curly_bracket": curly})
    # FineWeb
    nonempty = [ln for ln in text.split("\n") if ln.strip()]
    no_nl = len(text.replace("\n", ""))
    out.update({
        "line_punct_ratio": (sum(ln.endswith(TERMINAL_PUNCTUATION) for ln in nonempty) / len(nonempty))
        if nonempty else 0.0,
        "short_line_ratio": (sum(len(ln) <= config.fineweb_short_line_length for ln in nonempty) / len(nonempty))
        if nonempty else 1.0,
        "char_dup_ratio": _duplicates(nonempty)[1] / no_nl if no_nl else 0.0,
        "newline_ratio": text.count("\n") / max(n_words, 1),
    })
    return out


SIGNAL_COLUMNS = [
    "chars", "words", "non_symbol_words", "mean_word_length", "hash_ratio", "ellipsis_ratio", "bullet_lines_ratio",
    "ellipsis_lines_ratio", "alpha_words_ratio", "stop_words", "dup_para_frac", "dup_para_char_frac",
    "dup_line_frac", "dup_line_char_frac", "top_2_gram_char_frac", "top_3_gram_char_frac", "top_4_gram_char_frac",
    *[f"dup_{n}_gram_char_frac" for n in range(5, 11)],
    "c4_kept_lines", "c4_sentences", "c4_lorem_ipsum", "c4_curly_bracket",
    "line_punct_ratio", "short_line_ratio", "char_dup_ratio", "newline_ratio",
]
INT_SIGNALS = {"chars", "words", "non_symbol_words", "stop_words", "c4_kept_lines", "c4_sentences"}
BOOL_SIGNALS = {"c4_lorem_ipsum", "c4_curly_bracket"}


@dataclass(frozen=True)
class Thresholds:
    """The published thresholds (see the module docstring for sources); ``per_language`` maps a language code
    to overrides, e.g. ``{"zh": {"min_doc_words": 100}}`` (FineWeb2 tunes thresholds per language)."""

    min_doc_words: int = 50
    max_doc_words: int = 100_000
    min_avg_word_length: float = 3
    max_avg_word_length: float = 10
    max_symbol_word_ratio: float = 0.1
    max_bullet_lines_ratio: float = 0.9
    max_ellipsis_lines_ratio: float = 0.3
    min_alpha_words_ratio: float = 0.8
    min_stop_words: int = 2
    dup_line_frac: float = 0.3
    dup_para_frac: float = 0.3
    dup_line_char_frac: float = 0.2
    dup_para_char_frac: float = 0.2
    top_n_grams: tuple[tuple[int, float], ...] = ((2, 0.2), (3, 0.18), (4, 0.16))
    dup_n_grams: tuple[tuple[int, float], ...] = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))
    c4_min_sentences: int = 5
    c4_lorem_ipsum: bool = True
    c4_curly_bracket: bool = True
    fineweb_line_punct_thr: float = 0.12
    fineweb_short_line_thr: float = 0.67
    fineweb_char_dup_ratio: float = 0.01
    fineweb_new_line_ratio: float = 0.3
    per_language: dict = field(default_factory=dict, hash=False, compare=True)

    def for_language(self, language: str) -> "Thresholds":
        over = self.per_language.get(language)
        return replace(self, per_language={}, **over) if over else self


FILTERS = ("gopher_quality", "gopher_repetition", "c4", "fineweb")


def _rules(t: Thresholds):
    """(filter, reason, failing condition) in datatrove's order of checks; conditions are Polars expressions."""
    import polars as pl

    c = pl.col
    rules = [
        ("gopher_quality", "gopher_short_doc", c("non_symbol_words") < t.min_doc_words),
        ("gopher_quality", "gopher_long_doc", c("non_symbol_words") > t.max_doc_words),
        ("gopher_quality", "gopher_below_avg_threshold", c("mean_word_length") < t.min_avg_word_length),
        ("gopher_quality", "gopher_above_avg_threshold", c("mean_word_length") > t.max_avg_word_length),
        ("gopher_quality", "gopher_too_many_hashes", c("hash_ratio") > t.max_symbol_word_ratio),
        ("gopher_quality", "gopher_too_many_ellipsis", c("ellipsis_ratio") > t.max_symbol_word_ratio),
        ("gopher_quality", "gopher_too_many_bullets", c("bullet_lines_ratio") > t.max_bullet_lines_ratio),
        ("gopher_quality", "gopher_too_many_end_ellipsis", c("ellipsis_lines_ratio") > t.max_ellipsis_lines_ratio),
        ("gopher_quality", "gopher_below_alpha_threshold", c("alpha_words_ratio") < t.min_alpha_words_ratio),
        ("gopher_quality", "gopher_enough_stop_words", c("stop_words") < t.min_stop_words),
        ("gopher_repetition", "dup_para_frac", c("dup_para_frac") > t.dup_para_frac),
        ("gopher_repetition", "dup_para_char_frac", c("dup_para_char_frac") > t.dup_para_char_frac),
        ("gopher_repetition", "dup_line_frac", c("dup_line_frac") > t.dup_line_frac),
        ("gopher_repetition", "dup_line_char_frac", c("dup_line_char_frac") > t.dup_line_char_frac),
        *[("gopher_repetition", f"top_{n}_gram", c(f"top_{n}_gram_char_frac") > f) for n, f in t.top_n_grams],
        *[("gopher_repetition", f"duplicated_{n}_n_grams", c(f"dup_{n}_gram_char_frac") > f) for n, f in t.dup_n_grams],
        ("c4", "lorem_ipsum", c("c4_lorem_ipsum") & t.c4_lorem_ipsum),
        ("c4", "curly_bracket", c("c4_curly_bracket") & t.c4_curly_bracket),
        ("c4", "too_few_sentences", c("c4_sentences") < t.c4_min_sentences),
        ("fineweb", "line_punct_ratio", c("line_punct_ratio") < t.fineweb_line_punct_thr),
        ("fineweb", "short_line_ratio", c("short_line_ratio") > t.fineweb_short_line_thr),
        ("fineweb", "char_dup_ratio", c("char_dup_ratio") > t.fineweb_char_dup_ratio),
        ("fineweb", "list_ratio", c("newline_ratio") > t.fineweb_new_line_ratio),
    ]
    return rules


def decide(table, thresholds: Thresholds = Thresholds(), language_column: str | None = "language"):
    """Per filter ``<filter>_pass`` and ``<filter>_reason``, plus ``quality_pass`` and ``quality_reason`` (the first
    failing rule), for a Polars DataFrame or Arrow table of signals. Empty texts fail every filter with
    reason ``empty``. Per-language overrides apply to the rows of that language."""
    import polars as pl

    df = table if isinstance(table, pl.DataFrame) else pl.from_arrow(table)
    langs = set()
    if thresholds.per_language and language_column and language_column in df.columns:
        langs = set(thresholds.per_language) & set(df[language_column].drop_nulls().unique().to_list())
    if not langs:
        return _decide(df, thresholds)
    df = df.with_row_index("__row")
    parts = [_decide(df.filter(pl.col(language_column) == lang), thresholds.for_language(lang))
             for lang in sorted(langs)]
    parts.append(_decide(df.filter(~pl.col(language_column).is_in(sorted(langs)) | pl.col(language_column).is_null()),
                         thresholds))
    return pl.concat(parts).sort("__row").drop("__row")


def _decide(df, t: Thresholds):
    import polars as pl

    empty = pl.col("words").is_null()
    exprs = []
    for name in FILTERS:
        rules = [(reason, cond) for f, reason, cond in _rules(t) if f == name]
        reason = pl.when(empty).then(pl.lit("empty"))
        for r, cond in rules:
            reason = reason.when(cond.fill_null(False)).then(pl.lit(r))
        reason = reason.otherwise(None)
        exprs.append(reason.alias(f"{name}_reason"))
    df = df.with_columns(exprs)
    df = df.with_columns([pl.col(f"{n}_reason").is_null().alias(f"{n}_pass") for n in FILTERS])
    df = df.with_columns(
        pl.all_horizontal([pl.col(f"{n}_pass") for n in FILTERS]).alias("quality_pass"),
        pl.coalesce([pl.col(f"{n}_reason") for n in FILTERS]).alias("quality_reason"),
    )
    return df


def quality_schema():
    """Arrow schema of the per-shard quality table: signals, verdicts, model scores and the bucket."""
    import pyarrow as pa

    fields = [pa.field("id", pa.string(), nullable=False)]
    for c in SIGNAL_COLUMNS:
        fields.append(pa.field(c, pa.int64() if c in INT_SIGNALS else pa.bool_() if c in BOOL_SIGNALS else pa.float64()))
    for f in FILTERS:
        fields += [pa.field(f"{f}_pass", pa.bool_()), pa.field(f"{f}_reason", pa.string())]
    fields += [pa.field("quality_pass", pa.bool_()), pa.field("quality_reason", pa.string()),
               pa.field("classifier_score", pa.float32()), pa.field("quality_bucket", pa.int8()),
               pa.field("edu_score", pa.float32()), pa.field("perplexity", pa.float32())]
    return pa.schema(fields, metadata={"description": "Heuristic signals and verdicts, model scores, quality bucket."})


def signals_table(ids: list[str], texts: list[str], languages: list[str | None], config: SignalConfig = SignalConfig()):
    """A Polars DataFrame of id + every signal, one row per document."""
    import polars as pl

    rows = [signals(t, lang, config) for t, lang in zip(texts, languages)]
    schema = {c: (pl.Int64 if c in INT_SIGNALS else pl.Boolean if c in BOOL_SIGNALS else pl.Float64)
              for c in SIGNAL_COLUMNS}
    df = pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
    return df.insert_column(0, pl.Series("id", ids, dtype=pl.String))
