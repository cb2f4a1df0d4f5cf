"""Building a mixture unit by unit: statistics, plan, per-unit selection and writing (no Dagster here).

``prepare`` (per unit) writes the unit's narrow candidate table (id, group, tokens, rehydration copies, hash draw)
into the new version's work folder and returns it for the statistics; ``make_plan`` turns the statistics into the
plan and reads the candidate tables once more for the few documents near each group's threshold;
``write_unit`` (per unit, independent, parallel) selects the unit's documents by the plan, reads the text of the
selected rows only, shuffles them by a seeded hash of (id, repeat) and writes part files of about
``shard_tokens`` tokens. ``sample`` runs the same logic on one in-memory frame (tests, small corpora).
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass

import numpy as np

from curation.mixing.config import MIXTURES, MixtureConfig  # noqa: F401 (MIXTURES: importable from here)
from curation.mixing.publish import write_part
from curation.mixing.plan import GroupPlan, Statistics, copies_of, draws, fill_window, plan_groups, rehydration_copies, shuffle_keys, window
from curation.mixing.shipping import ship_texts
from curation.mixing.source import CORPORA, Unit, corpus_candidates, crawl_candidates, with_groups
from curation.core.tables import DOCUMENTS_TABLE, REWRITES_TABLE

WORK_COLUMNS = ["id", "group", "source", "language", "quality_bucket", "tokens", "copies", "u"]


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
    weight: float = 0.0
    weight_from: str = ""


def _work_name(version: str, unit: Unit) -> str:
    return f"{version}/work/{unit.key}.parquet"


def candidates(store, config: MixtureConfig, unit: Unit, tid: str, report: Counter, topics=None):
    """The unit's candidates in the weighted groups, with hash draws and rehydration copies."""
    import polars as pl

    if unit.kind == "crawl":
        df = crawl_candidates(store, unit, config, tid, report)
    else:
        corpus = next(c for c in config.corpora if c.name == unit.snapshot)
        df = corpus_candidates(store, corpus, config, tid, report)
    df = with_groups(df, config, topics(unit, df) if topics else None)
    df = df.filter(pl.col("group").is_in(weighted_groups(config, df, report)))
    u = draws(df["id"].to_list(), df["group"].to_list(), config.seed)
    copies = rehydration_copies(df["cluster_size"].fill_null(1).to_numpy(), config.rehydrate)
    return df.with_columns(pl.Series("u", u), pl.Series("copies", copies)).select(WORK_COLUMNS)


def weighted_groups(config: MixtureConfig, df, report: Counter | None = None) -> list[str]:
    """The groups of ``df`` that have a weight (by name or pattern); the documents and tokens of the others are
    counted in ``report`` as ``unweighted:<group>:documents`` / ``:tokens`` (the data card lists them)."""
    import polars as pl

    from curation.mixing.weights import Weights

    spec = Weights(config.weights, config.group_by)
    sizes = df.group_by("group").agg(pl.len().alias("n"), pl.col("tokens").sum().alias("t"))
    keep = []
    for g, n, t in sizes.iter_rows():
        if spec.weighted(g):
            keep.append(g)
        elif report is not None and spec.key_of(g) is None:  # named or matched with weight 0: left out on purpose
            report[f"unweighted:{g}:documents"] += int(n)
            report[f"unweighted:{g}:tokens"] += int(t or 0)
    return keep


def unweighted(report) -> dict[str, dict]:
    """The candidate groups without a weight, from a build's report: group -> {documents, tokens}."""
    out: dict = {}
    for k, v in report.items():
        if k.startswith("unweighted:"):
            g, what = k[len("unweighted:"):].rsplit(":", 1)
            out.setdefault(g, {"documents": 0, "tokens": 0})[what] = v
    return dict(sorted(out.items()))


def prepare(store, config: MixtureConfig, unit: Unit, version: str, tid: str, report: Counter, topics=None):
    """Write the unit's candidate table into the version's work folder; returns it."""
    df = candidates(store, config, unit, tid, report, topics)
    store.write_side(MIXTURES, config.name, _work_name(version, unit), lambda p: df.write_parquet(p))
    return df


def read_work(store, config: MixtureConfig, unit: Unit, version: str, columns=None):
    import polars as pl

    with store.fs.open(store.side_path(MIXTURES, config.name, _work_name(version, unit)), "rb") as fh:
        return pl.read_parquet(io.BytesIO(fh.read()), columns=columns)


def add_stats(stats: Statistics, df) -> None:
    stats.add(df["group"].to_numpy(), df["tokens"].to_numpy(), df["copies"].to_numpy(), df["u"].to_numpy())


def finish_plan(plans: dict[str, GroupPlan], frames, tolerance: float) -> dict[str, GroupPlan]:
    """The window pass over ``frames`` (an iterable of candidate tables): choose the documents at each threshold."""
    rows = {g: [] for g, p in plans.items() if p.tau_hi > p.tau_lo}
    below = Counter()
    for df in frames:
        for g in rows:
            part = df.filter(df["group"] == g)
            if part.height:
                r, b = window(plans[g], part["id"].to_list(), part["tokens"].to_numpy(), part["copies"].to_numpy(),
                              part["u"].to_numpy())
                rows[g] += r
                below[g] += b
    for g, r in rows.items():
        fill_window(plans[g], below[g], r, tolerance)
    return plans


def make_plan(store, config: MixtureConfig, units: list[Unit], version: str, stats: Statistics) -> dict:
    plans = plan_groups(stats, config.total_tokens, config.max_repeats)
    frames = (read_work(store, config, u, version, ["id", "group", "tokens", "copies", "u"]) for u in units)
    return finish_plan(plans, frames, config.tolerance)


def choose(df, plans: dict[str, GroupPlan], seed: int):
    """The selected rows of ``df`` with a ``repeat`` column (0..copies-1), ordered by the seeded shuffle key."""
    import polars as pl

    n = np.zeros(df.height, dtype=np.int64)
    groups = df["group"].to_numpy()
    for g, p in plans.items():
        m = groups == g
        if m.any():
            sub = df.filter(pl.Series(m))
            n[m] = copies_of(p, sub["id"].to_list(), sub["copies"].to_numpy(), sub["u"].to_numpy())
    chosen = df.with_columns(pl.Series("n", n)).filter(pl.col("n") > 0)
    chosen = chosen.with_columns(pl.int_ranges(0, pl.col("n")).alias("repeat")).explode("repeat").drop("n")
    chosen = chosen.with_columns(pl.col("repeat").cast(pl.Int64))
    order = shuffle_keys(chosen["id"].to_list(), chosen["repeat"].to_list(), seed)
    return chosen[np.argsort(order, kind="stable")]


def results_of(plans: dict[str, GroupPlan], achieved: dict, tolerance: float) -> list[GroupResult]:
    out = []
    for g, p in sorted(plans.items()):
        docs, toks = achieved.get(g, (0, 0))
        r = GroupResult(g, p.documents_available, p.tokens_available, p.target, docs, toks, weight=p.weight,
                        weight_from=p.weight_from)
        r.repetition = round(toks / p.tokens_available, 4) if p.tokens_available else 0.0
        r.shortfall_tokens = max(0, p.target - toks) if toks < p.target * (1 - tolerance) else 0
        out.append(r)
    return out


def sample(cands, config: MixtureConfig):
    """The whole two-phase selection on one in-memory frame (id, group, tokens, cluster_size): returns (chosen rows
    with ``repeat``, in shuffled order; list of GroupResult). The same documents as the per-unit path."""
    import polars as pl

    config.validate()
    u = draws(cands["id"].to_list(), cands["group"].to_list(), config.seed)
    df = cands.with_columns(pl.Series("u", u), pl.Series("copies", rehydration_copies(
        cands["cluster_size"].fill_null(1).to_numpy() if "cluster_size" in cands.columns else np.ones(cands.height),
        config.rehydrate)))
    df = df.filter(pl.col("group").is_in(weighted_groups(config, df)))
    stats = Statistics(config.weights, config.rehydrate, config.group_by)
    add_stats(stats, df)
    plans = finish_plan(plan_groups(stats, config.total_tokens, config.max_repeats), [df], config.tolerance)
    chosen = choose(df, plans, config.seed)
    achieved = {g: (int(s["id"].n_unique()), int(s["tokens"].sum())) for (g,), s in chosen.group_by("group")}
    return chosen.drop("u", "copies"), results_of(plans, achieved, config.tolerance)


def _texts(store, unit: Unit, chosen):
    """(id, text, url) of the chosen rows only, from the tables that hold their text."""
    import polars as pl
    import pyarrow as pa
    import pyarrow.compute as pc

    frames = []
    for source, sub in chosen.group_by("source"):
        ids = pa.array(sub["id"].unique().to_list(), pa.string())
        if unit.kind == "corpus":
            t = store.read(CORPORA, unit.snapshot, "all", columns=["id", "text", "url"], filters=pc.field("id").isin(ids))
        else:
            asset = REWRITES_TABLE if source[0] == "rewrite" else DOCUMENTS_TABLE
            t = store.read(asset, unit.snapshot, unit.shard, columns=["id", "text", "url"],
                           filters=pc.field("id").isin(ids))
        frames.append(pl.from_arrow(t))
    return pl.concat(frames) if frames else pl.DataFrame(schema={"id": pl.String, "text": pl.String, "url": pl.String})


def write_unit(store, config: MixtureConfig, unit: Unit, version: str, plans: dict[str, GroupPlan]) -> dict:
    """Select one unit's documents by the plan and write them as shuffled part files; returns what it wrote."""
    import polars as pl


    df = read_work(store, config, unit, version)
    chosen = choose(df, plans, config.seed)
    out = {"unit": unit.key, "parts": [], "groups": {}, "languages": {}, "quality_buckets": {}}
    if not chosen.height:
        return out
    # the input order is the shuffle order; the join keeps it (left join, polars preserves the left order)
    chosen = chosen.join(_texts(store, unit, chosen), on="id", how="left", maintain_order="left")
    if unit.kind == "crawl":
        chosen, out["shipping"] = ship_texts(store, unit, chosen, config)
    chosen = chosen.with_columns(pl.lit(unit.snapshot if unit.kind == "crawl" else None, pl.String).alias("snapshot"))
    tokens = chosen["tokens"].to_numpy()
    shard_of = (np.cumsum(tokens) - 1) // max(1, config.shard_tokens)
    for k in np.unique(shard_of).tolist():
        part = chosen.filter(pl.Series(shard_of == k))
        out["parts"].append(write_part(store, config, version, f"part-{unit.key}-{k:04d}", part))
    for (g,), s in chosen.group_by("group"):
        out["groups"][g] = [int(s["id"].n_unique()), int(s["tokens"].sum())]
    out["languages"] = {str(k): v for k, v in chosen.group_by("language").len().iter_rows()}
    out["quality_buckets"] = {str(k): v for k, v in chosen.filter(pl.col("quality_bucket").is_not_null())
                              .group_by("quality_bucket").len().iter_rows()}
    return out


TOPIC_SAMPLE = 2_000  # documents the topic centroids are fitted on (chosen by id hash: the same for any sharding)


def _unit_texts(store, unit: Unit, ids: list[str]) -> dict:
    import pyarrow as pa
    import pyarrow.compute as pc

    asset, snap, shard = (CORPORA, unit.snapshot, "all") if unit.kind == "corpus" else (DOCUMENTS_TABLE, unit.snapshot,
                                                                                        unit.shard)
    t = store.read(asset, snap, shard, columns=["id", "text"], filters=pc.field("id").isin(pa.array(ids, pa.string())))
    return dict(zip(t.column("id").to_pylist(), t.column("text").to_pylist()))


def topic_model(store, config: MixtureConfig, units: list[Unit], tid: str):
    """For ``group_by: topic`` (CLIMB): k-means centroids over all-MiniLM-L6-v2 embeddings of a sample of the kept
    documents chosen by id hash (one narrow pass, then the sample's text), and a function giving each unit's
    candidates their nearest topic (the unit's kept texts embedded, one unit at a time)."""
    import heapq

    import xxhash

    from curation.mixing.topics import kmeans
    from curation.models.scorers import Embedder

    heap = []  # the TOPIC_SAMPLE smallest id hashes: (−hash, id, unit)
    for unit in units:
        df = crawl_candidates(store, unit, config, tid, Counter()) if unit.kind == "crawl" else \
            corpus_candidates(store, next(c for c in config.corpora if c.name == unit.snapshot), config, tid, Counter())
        for i in df["id"].to_list():
            h = xxhash.xxh3_64_intdigest(f"{config.seed}:topic:{i}".encode())
            if len(heap) < TOPIC_SAMPLE:
                heapq.heappush(heap, (-h, i, unit))
            elif -heap[0][0] > h:
                heapq.heapreplace(heap, (-h, i, unit))
    by_unit: dict = {}
    for _, i, unit in sorted(heap):
        by_unit.setdefault(unit, []).append(i)
    texts = [t for unit, ids in sorted(by_unit.items(), key=lambda kv: kv[0].key)
             for t in _unit_texts(store, unit, sorted(ids)).values()]
    embedder = Embedder()
    _, centroids = kmeans(embedder.embed(texts).astype(np.float64), config.topics, config.seed) if texts else (0, None)

    def topics(unit: Unit, df) -> list[str]:
        if centroids is None or not df.height:
            return [None] * df.height
        found = _unit_texts(store, unit, df["id"].to_list())
        x = embedder.embed([found.get(i, "") for i in df["id"].to_list()]).astype(np.float64)
        d = ((x[:, None, :] - centroids[None, :, :]) ** 2).sum(-1)
        return [f"topic-{int(t):02d}" for t in d.argmin(1)]

    return topics
