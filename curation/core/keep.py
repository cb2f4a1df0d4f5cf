"""The keep rules, defined once: which labelled documents a mixture (or rewrite selection) may use.

Labels are computed upstream (language, dedup, quality tables); the decisions are taken here, downstream, so
that one threshold can change without recomputing a label ("label upstream, decide downstream"). Every default
lives in this module: mixing (``curation.mixing.MixtureConfig``) and rewrite selection
(``curation.rewrite.rewriter.Selection``) both read them from here.
"""

from __future__ import annotations

from dataclasses import dataclass

#: FineWeb keeps documents whose fastText language score is at least 0.65.
MIN_LANGUAGE_SCORE = 0.65
#: Documents the dedup stage removed are dropped.
DEDUP = True
#: Documents failing a heuristic quality filter (Gopher, C4, FineWeb) are dropped.
REQUIRE_QUALITY_PASS = True
#: Lowest classifier decile bucket kept (0: every bucket).
MIN_QUALITY_BUCKET = 0

#: The label columns each rule reads (per table), so callers read only these.
LABEL_COLUMNS = {"language": ["id", "language", "language_score"], "dedup": ["id", "keep", "cluster_size"],
                 "quality": ["id", "quality_pass", "quality_bucket"]}


@dataclass
class KeepRules:
    languages: list[str] | None = None  # None: every language
    min_language_score: float = MIN_LANGUAGE_SCORE
    dedup: bool = DEDUP
    require_quality_pass: bool = REQUIRE_QUALITY_PASS
    min_quality_bucket: int = MIN_QUALITY_BUCKET

    def language_rules(self) -> list:
        """(name, Polars condition) for the language rules: the language list and the score threshold."""
        import polars as pl

        rules = []
        if self.languages:
            rules.append(("language not in " + ",".join(self.languages), pl.col("language").is_in(self.languages)))
        rules.append((f"language score < {self.min_language_score}",
                      pl.col("language_score") >= self.min_language_score))
        return rules

    def dedup_rules(self) -> list:
        import polars as pl

        return [("duplicate (dedup)", pl.col("keep").fill_null(True))] if self.dedup else []

    def quality_rules(self) -> list:
        import polars as pl

        rules = []
        if self.require_quality_pass:
            rules.append(("failed a heuristic quality filter", pl.col("quality_pass").fill_null(False)))
        if self.min_quality_bucket > 0:
            rules.append((f"quality bucket < {self.min_quality_bucket}",
                          pl.col("quality_bucket") >= self.min_quality_bucket))
        return rules

    def rules(self) -> list:
        """Every rule in the order they are applied and reported (language, dedup, quality)."""
        return self.language_rules() + self.dedup_rules() + self.quality_rules()

    def apply(self, df, removed=None, rules: list | None = None):
        """``df`` filtered by ``rules`` (default: all); what each removed is added to the ``removed`` Counter."""
        for name, cond in self.rules() if rules is None else rules:
            before = df.height
            df = df.filter(cond.fill_null(False))
            if removed is not None:
                removed[name] += before - df.height
        return df

    def condition(self, rules: list | None = None):
        """All ``rules`` (default: every rule) as one Polars condition (nulls fail)."""
        import polars as pl

        out = pl.lit(True)
        for _, cond in self.rules() if rules is None else rules:
            out = out & cond.fill_null(False)
        return out
