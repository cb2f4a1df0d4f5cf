"""The keep rules, defined once: which labelled documents a mixture (or rewrite selection) may use.

Labels are computed upstream (language, dedup, quality tables); the decisions are taken here, downstream, so
that one threshold can change without recomputing a label ("label upstream, decide downstream"). Every default
lives in this module: mixing (``curation.mixing.MixtureConfig``) and rewrite selection
(``curation.rewrite.rewriter.Selection``) both read them from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from curation.core import tables as T

#: FineWeb keeps documents whose fastText language score is at least 0.65.
MIN_LANGUAGE_SCORE = 0.65
#: Documents the dedup stage removed are dropped.
DEDUP = True
#: Documents failing a heuristic quality filter (Gopher, C4, FineWeb) are dropped.
REQUIRE_QUALITY_PASS = True
#: Lowest classifier decile bucket kept (0: every bucket).
MIN_QUALITY_BUCKET = 0

#: Documents whose URL is on a blocklist (curation.labels.blocklist) are dropped.
BLOCKLIST = True
#: Benchmark contamination (curation.labels.decontaminate): "cut" removes the matched spans with a margin when
#: the mixture is written and drops a document that matched more than MAX_CONTAMINATED_ITEMS items (NeMo
#: Curator's former task decontamination: 200 characters either side, dropped past 10 splits); "drop" drops every
#: contaminated document; "keep" does neither.
CONTAMINATION = "cut"
CONTAMINATION_MODES = ("cut", "drop", "keep")
CONTAMINATION_MARGIN = 200
MAX_CONTAMINATED_ITEMS = 10
#: Personal data replaced by placeholders when the mixture is written (curation.labels.pii's types and texts).
PII_PLACEHOLDERS = {"email": "<EMAIL>", "phone": "<PHONE>", "ip": "<IP_ADDRESS>", "credit_card": "<CARD_NUMBER>",
                    "iban": "<IBAN>"}
REDACT_PII = tuple(PII_PLACEHOLDERS)
#: The shipping labels' columns, read when the tables exist (a mixture over unlabelled shards notes it).
SHIPPING_COLUMNS = {T.CONTAMINATION_TABLE: ["id", "hits"], T.BLOCKLIST_TABLE: ["id", "blocklists"]}

#: The label columns each rule reads (per table), so callers read only these.
LABEL_COLUMNS = {T.LANGUAGE_TABLE: ["id", "language", "language_score"], T.DEDUP_TABLE: ["id", "keep", "cluster_size"],
                 T.QUALITY_TABLE: ["id", "quality_pass", "quality_bucket"]}


@dataclass
class KeepRules:
    languages: list[str] | None = None  # None: every language
    min_language_score: float = MIN_LANGUAGE_SCORE
    dedup: bool = DEDUP
    require_quality_pass: bool = REQUIRE_QUALITY_PASS
    min_quality_bucket: int = MIN_QUALITY_BUCKET
    blocklist: bool = BLOCKLIST
    contamination: str = CONTAMINATION
    max_contaminated_items: int = MAX_CONTAMINATED_ITEMS

    def shipping_rules(self) -> list:
        """(name, Polars condition) over ``contamination_hits`` and ``blocklisted`` (null: not labelled, kept)."""
        import polars as pl

        rules = []
        if self.blocklist:
            rules.append(("blocklisted", ~pl.col("blocklisted").fill_null(False)))
        hits = pl.col("contamination_hits").fill_null(0)
        if self.contamination == "drop":
            rules.append(("removed for contamination", hits == 0))
        elif self.contamination == "cut":
            rules.append(("removed for contamination", hits <= self.max_contaminated_items))
        return rules

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


def edit_text(text: str, cuts, margin: int, pii, placeholders: dict) -> tuple[str, int, int]:
    """``text`` with each ``cuts`` span (``[start, end]``) and ``margin`` characters either side removed (the
    pieces joined by a line break) and each ``pii`` span (``{type, start, end}``) of a type in ``placeholders``
    replaced by its placeholder; a personal-data span inside a cut goes with the cut. Returns (text, characters
    cut, spans redacted)."""
    n = len(text)
    edits = []
    for s, e in cuts or ():
        s, e = max(0, int(s) - margin), min(n, int(e) + margin)
        if edits and s <= edits[-1][1]:
            edits[-1] = (edits[-1][0], max(e, edits[-1][1]), "\n")
        else:
            edits.append((s, e, "\n"))
    cut_chars = sum(e - s for s, e, _ in edits)
    redacted = 0
    for span in pii or ():
        s, e, t = int(span["start"]), int(span["end"]), span["type"]
        if t in placeholders and not any(s < ce and cs < e for cs, ce, _ in edits if _ == "\n"):
            edits.append((s, e, placeholders[t]))
            redacted += 1
    out, at = [], 0
    for s, e, rep in sorted(edits):
        if s < at:
            continue
        out.append(text[at:s])
        out.append(rep)
        at = e
    out.append(text[at:])
    return "".join(out), cut_chars, redacted
