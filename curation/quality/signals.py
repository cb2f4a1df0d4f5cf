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
from dataclasses import dataclass
from curation.quality.filters import FILTERS
from curation.quality.words import ALPHA_WORD, C4_END_PUNCTUATION, C4_POLICY, CITATION_RE, LINES_RE, NGrams, PARAGRAPH_RE, SENTENCE_END_RE, STOP_WORDS_EN, SYMBOL_WORD, TERMINAL_PUNCTUATION, dup_ngram_chars, duplicates, top_ngram_chars, words


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
    symbol_only = SYMBOL_WORD.findall(joined)
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
        "alpha_words_ratio": len(ALPHA_WORD.findall(joined)) / max(n_words, 1),
        "stop_words": len(set(stop) & (set(ws) | lowered)),
    })
    # Gopher repetition
    paragraphs = PARAGRAPH_RE.split(text.strip())
    p_dup, p_chars = duplicates(paragraphs)
    split_lines = LINES_RE.split(text)
    l_dup, l_chars = duplicates(split_lines)
    out.update({
        "dup_para_frac": p_dup / len(paragraphs),
        "dup_para_char_frac": p_chars / n_chars,
        "dup_line_frac": l_dup / len(split_lines),
        "dup_line_char_frac": l_chars / n_chars,
    })
    grams = NGrams(ws)
    for n in (2, 3, 4):
        out[f"top_{n}_gram_char_frac"] = top_ngram_chars(grams, n) / n_chars
    for n in range(5, 11):
        out[f"dup_{n}_gram_char_frac"] = dup_ngram_chars(grams, n) / n_chars
    # C4 (line rules, then page rules on the kept lines)
    kept = sentences = 0
    lorem = curly = False
    for line in lines:
        line = line.strip()
        lw = line.split()
        if config.c4_max_word_length > 0 and any(len(w) > config.c4_max_word_length for w in lw):
            continue
        line = CITATION_RE.sub("", line)
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
        sentences += max(1, len(SENTENCE_END_RE.findall(line)))
    out.update({"c4_kept_lines": kept, "c4_sentences": sentences, "c4_lorem_ipsum": lorem, "c4_curly_bracket": curly})
    # FineWeb
    nonempty = [ln for ln in text.split("\n") if ln.strip()]
    no_nl = len(text.replace("\n", ""))
    out.update({
        "line_punct_ratio": (sum(ln.endswith(TERMINAL_PUNCTUATION) for ln in nonempty) / len(nonempty))
        if nonempty else 0.0,
        "short_line_ratio": (sum(len(ln) <= config.fineweb_short_line_length for ln in nonempty) / len(nonempty))
        if nonempty else 1.0,
        "char_dup_ratio": duplicates(nonempty)[1] / no_nl if no_nl else 0.0,
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


#: documents per pool task, and the fewest a worker is worth spawning for
ROWS_PER_TASK = 2048
MIN_ROWS_PER_WORKER = 4096


def _same(config: SignalConfig) -> SignalConfig:
    return config


def _signal_rows(config: SignalConfig, item) -> list[dict]:
    """A pool task: the signals of one slice of a shard's documents."""
    texts, languages = item
    return [signals(t, lang, config) for t, lang in zip(texts, languages)]


def signals_table(ids: list[str], texts: list[str], languages: list[str | None], config: SignalConfig = SignalConfig(),
                  workers: int | None = None):
    """A Polars DataFrame of id + every signal, one row per document.

    Slices of ROWS_PER_TASK documents are measured in a pool of worker processes (``curation.core.pool``:
    ``workers``, else the cores this process may use); a document's signals depend on it alone, so the frame is
    the same whatever the worker count."""
    import polars as pl

    from curation.core.pool import ShardPool, row_slices, workers_for

    n = workers_for(len(row_slices(len(texts), ROWS_PER_TASK)), len(texts), MIN_ROWS_PER_WORKER, workers)
    slices = row_slices(len(texts), ROWS_PER_TASK, n)  # small shard: smaller slices
    with ShardPool(_same, (config,), n, name="quality signals") as pool:
        rows = [r for part in pool.imap(_signal_rows, slices, prepare=lambda s: (texts[s[0]:s[0] + s[1]],
                                                                                 languages[s[0]:s[0] + s[1]]))
                for r in part]
    schema = {c: (pl.Int64 if c in INT_SIGNALS else pl.Boolean if c in BOOL_SIGNALS else pl.Float64)
              for c in SIGNAL_COLUMNS}
    df = pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
    return df.insert_column(0, pl.Series("id", ids, dtype=pl.String))
