"""The threshold decision over a shard of heuristic signals (``curation.quality.signals``): pass/fail and
a reason code per filter (Gopher quality, Gopher repetition, C4, FineWeb), the first failing reason and the
verdict, as Polars expressions."""

from __future__ import annotations
from dataclasses import dataclass, field, replace


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
