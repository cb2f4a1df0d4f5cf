"""Stage 3 of ``curation.dedup``: one document kept per cluster by a rule on its attributes, the rest
labelled with a reason; per-shard decision tables; an in-memory run of all three stages for tests and benches."""

from __future__ import annotations
import os
import numpy as np
import pyarrow as pa
from curation.core import tables as schema
from curation.dedup.arrays import ArrayFile, write_buckets
from curation.dedup.clusters import Clusters, PriorIndex, ShardInput, find_clusters, sorted_unique
from curation.dedup.config import DedupConfig, hasher
from curation.dedup.signatures import signature_table


# ------------------------------------------------------------------------------------------- decisions

def decide(clusters: Clusters, attributes, config: DedupConfig) -> pa.Table:
    """CLUSTER_MEMBERS rows for every document in a cluster of two or more or matching an earlier snapshot.

    ``attributes(shard)`` (or ``attributes[shard]``) gives the shard's id, text_chars and fetch_date
    columns; it is asked for one shard at a time, only for shards with cluster members, and only the
    members' rows are kept.
    """
    import polars as pl

    members = sorted_unique(np.concatenate([clusters.nodes, clusters.prior_idx]))
    if len(members) == 0:
        return schema.empty(schema.CLUSTER_MEMBERS)
    labels = clusters.labels_of(members)
    by_label = np.sort(clusters.node_labels)
    sizes = np.maximum(np.searchsorted(by_label, labels, side="right") - np.searchsorted(by_label, labels), 1)
    prior_of = np.full(len(members), -1, dtype=np.int32)
    if len(clusters.prior_idx):  # a cluster with a member seen in an earlier snapshot goes whole
        flagged_labels = clusters.labels_of(clusters.prior_idx)
        order = np.lexsort((-clusters.prior_of, flagged_labels))
        fl, fp = flagged_labels[order], clusters.prior_of[order]
        first = np.concatenate(([True], fl[1:] != fl[:-1]))
        fl, fp = fl[first], fp[first]
        pos = np.clip(np.searchsorted(fl, labels), 0, len(fl) - 1)
        prior_of = np.where(fl[pos] == labels, fp[pos], -1).astype(np.int32)

    def flag(sorted_idx: np.ndarray, idx: np.ndarray) -> np.ndarray:
        if len(sorted_idx) == 0:
            return np.zeros(len(idx), dtype=bool)
        pos = np.clip(np.searchsorted(sorted_idx, idx), 0, len(sorted_idx) - 1)
        return sorted_idx[pos] == idx

    frames = []
    for i, shard in enumerate(clusters.shards):
        lo, hi = clusters.offsets[i], clusters.offsets[i + 1]
        sel = members[(members >= lo) & (members < hi)]
        if len(sel) == 0:
            continue
        table = attributes(shard) if callable(attributes) else attributes[shard]
        t = table.select(["id", "text_chars", "fetch_date"]).take(pa.array(sel - lo))
        del table
        frames.append(pl.from_arrow(t).with_columns(pl.lit(shard).alias("shard"),
                                                    pl.Series("g", sel, dtype=pl.Int64)))
    df = pl.concat(frames)
    g = df["g"].to_numpy()
    at = np.searchsorted(members, g)  # frames follow the order of ``members``, but be explicit
    df = df.with_columns(
        pl.Series("label", labels[at], dtype=pl.Int64),
        pl.Series("cluster_size", sizes[at], dtype=pl.Int32),
        pl.Series("prior", prior_of[at], dtype=pl.Int32),
        pl.Series("text_rep", flag(clusters.text_repeated, g)),
        pl.Series("url_rep", flag(clusters.url_repeated, g)),
        pl.Series("prior_exact", flag(clusters.prior_exact, g)),
    )
    order = {"longest": [pl.col("text_chars").neg()], "first_fetched": [pl.col("fetch_date")],
             "last_fetched": [pl.col("fetch_date").dt.epoch("ms").neg()], "lowest_id": []}[config.keep]
    df = df.sort(["label", *order, "id"], nulls_last=True)
    df = df.with_columns(pl.col("id").first().over("label").alias("cluster_id"),
                         (pl.int_range(pl.len()).over("label") == 0).alias("first"))
    keep = pl.col("first") & (pl.col("prior") < 0)
    exact = (pl.col("text_rep") & config.exact) | (pl.col("prior_exact") & (pl.col("prior") >= 0))
    reason = (pl.when(keep).then(None)
              .when(exact).then(pl.lit("exact_duplicate"))
              .when(pl.col("url_rep") & config.url & (pl.col("prior") < 0)).then(pl.lit("url_duplicate"))
              .otherwise(pl.lit("minhash_duplicate")))
    out = df.select(
        "id", "shard", keep.alias("keep"), reason.alias("reason"),
        pl.when(pl.col("cluster_size") > 1).then(pl.col("cluster_id")).alias("cluster_id"),
        "cluster_size",
        pl.col("prior").replace_strict(dict(enumerate(clusters.prior)), default=None,
                                       return_dtype=pl.String).alias("matched_snapshot"),
    ).sort(["shard", "id"])
    return out.to_arrow().cast(schema.CLUSTER_MEMBERS)


def shard_decisions(ids: pa.Array | pa.ChunkedArray, members: pa.Table) -> pa.Table:
    """A shard's full DEDUP table: every document kept with cluster size 1 unless ``members`` says otherwise."""
    import polars as pl

    base = pl.DataFrame({"id": pl.Series(ids.to_pylist() if not isinstance(ids, pl.Series) else ids,
                                         dtype=pl.String)})
    m = pl.from_arrow(members.select(["id", "keep", "reason", "cluster_id", "cluster_size", "matched_snapshot"]))
    if m.height == 0:
        m = pl.DataFrame(schema={"id": pl.String, "keep": pl.Boolean, "reason": pl.String,
                                 "cluster_id": pl.String, "cluster_size": pl.Int32, "matched_snapshot": pl.String})
    out = base.join(m, on="id", how="left", maintain_order="left").with_columns(
        pl.col("keep").fill_null(True), pl.col("cluster_size").fill_null(1).cast(pl.Int32))
    return out.to_arrow().cast(schema.DEDUP)


def cluster_histogram(members: pa.Table) -> dict[str, int]:
    """Clusters by size bucket (2, 3-4, 5-9, 10-99, 100+), counting each cluster once."""
    import polars as pl

    df = pl.from_arrow(members.select(["cluster_id", "cluster_size"])).drop_nulls("cluster_id").unique("cluster_id")
    edges = [(2, 2, "2"), (3, 4, "3-4"), (5, 9, "5-9"), (10, 99, "10-99"), (100, 2**31, "100+")]
    sizes = df["cluster_size"].to_numpy() if df.height else np.zeros(0)
    return {name: int(((sizes >= a) & (sizes <= b)).sum()) for a, b, name in edges}


def run_local(shard_docs: dict[str, pa.Table], config: DedupConfig, workdir: str, prior: list[PriorIndex] = (),
              chunk: int = 4_000_000) -> tuple[pa.Table, Clusters, list[ShardInput]]:
    """The three stages on in-memory documents tables (id, url, text, fetch_date) with files in ``workdir``:
    for tests, benchmarks and notebooks. Returns the CLUSTER_MEMBERS table, the clusters and the inputs."""
    h = hasher(config.minhash)
    inputs, attrs = [], {}
    for shard, docs in shard_docs.items():
        table = signature_table(docs, h)
        path = os.path.join(workdir, f"{shard}.buckets")
        write_buckets(path, table, config.minhash.num_buckets, "local")
        inputs.append(ShardInput(shard, ArrayFile(path), table.num_rows))
        attrs[shard] = table
    clusters = find_clusters(inputs, config, prior, chunk=chunk)
    return decide(clusters, attrs, config), clusters, inputs
