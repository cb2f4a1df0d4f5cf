"""Dedup assets: MinHash signatures per shard -> clusters per snapshot -> keep/remove labels per shard.

``minhash_signatures`` (snapshot x shard) is recomputed only for shards whose documents changed;
``dedup_clusters`` (snapshot) merges every shard's sorted band keys from disk and decides which copy
of each cluster is kept; ``dedup`` (snapshot x shard) writes each shard's labels, and rewrites only
the shards whose decisions changed.
"""


import tempfile
from collections import Counter

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from curation.core import tables as schema
from curation.dedup.arrays import ArrayFile, write_buckets
from curation.dedup.clusters import PriorIndex, ShardInput, find_clusters, write_index
from curation.dedup.decisions import cluster_histogram, decide, shard_decisions
from curation.dedup.config import hasher
from curation.dedup.signatures import signature_table
from curation.core.fingerprints import digest
from curation_assets.constants import CLUSTERS_VERSION, DEDUP_VERSION, GROUP_DEDUP, SIGNATURES_VERSION
from curation_assets import automation
from curation_assets.common import fail_fast, RETRY, check_specs, counts_table
from curation_assets.shard_step import shard_step
from curation_assets.documents import ASSET as DOCUMENTS, documents
from curation_assets.partitions import SHARDS, SNAPSHOT_SHARDS, SNAPSHOTS, split_key
from resources import DedupResource, StorageResource

SIGNATURES = "minhash_signatures"
CLUSTERS = "dedup_clusters"
DEDUP = "dedup"
INDEX = "dedup_index"
BUCKETS = "minhash_buckets"  # side files of minhash_signatures, in their own folder: asset folders hold only Parquet
MEMBERS = "members"  # the clusters table's name under dedup_clusters/<snapshot>/
BY_SNAPSHOT = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="snapshot")


def buckets_name(shard: str) -> str:
    return f"{shard}.buckets"


@dg.asset(
    retry_policy=RETRY,
    partitions_def=SNAPSHOT_SHARDS,
    deps=[documents],
    automation_condition=automation.ON_CHANGE,
    code_version=SIGNATURES_VERSION,
    group_name=GROUP_DEDUP,
    kinds={"parquet"},
    check_specs=check_specs(SIGNATURES, (("covers_documents", "One signature per document of the shard."),)),
    description="Exact-text and URL hashes and MinHash LSH band keys (FineWeb: 5-grams, 14 bands x 8 rows) "
                "per document, with the shard's keys sorted per band in a bucket file beside the table.",
)
@fail_fast
def minhash_signatures(context: dg.AssetExecutionContext, storage: StorageResource,
                       dedup_settings: DedupResource) -> dg.MaterializeResult:
    snapshot, shard = split_key(context)
    store = storage.store()
    docs_info = store.require_info(DOCUMENTS, snapshot, shard)
    cfg = dedup_settings.config()
    fp = digest(SIGNATURES_VERSION, docs_info["fingerprint"], cfg.minhash)
    def compute(_stored):
        docs = store.read(DOCUMENTS, snapshot, shard, columns=["id", "url", "text", "fetch_date"])
        table = signature_table(docs, hasher(cfg.minhash))
        n_sh = table.column("n_shingles")
        # the bucket file first: a table with this fingerprint vouches for the bucket file beside it
        store.write_side(BUCKETS, snapshot, buckets_name(shard),
                         lambda path: write_buckets(path, table, cfg.minhash.num_buckets, fp))
        return table, {"without_words": int(pc.sum(pc.equal(n_sh, 0)).as_py() or 0),
                       "mean_shingles": float(pc.mean(n_sh).as_py() or 0.0),
                       "minhash": {"n_grams": cfg.minhash.n_grams, "num_buckets": cfg.minhash.num_buckets,
                                   "hashes_per_bucket": cfg.minhash.hashes_per_bucket, "seed": cfg.minhash.seed}}

    step = shard_step(context, store, SIGNATURES, snapshot, shard, fp, compute,
                      fresh=lambda: store.side_exists(BUCKETS, snapshot, buckets_name(shard)))
    info = step.info
    return step.result(schema.SIGNATURES, had_input=docs_info.get("rows", 0) > 0, metadata={
        "documents_without_words": info["without_words"],
        "mean_shingles": dg.MetadataValue.float(round(info["mean_shingles"], 1)),
        "bucket_file": dg.MetadataValue.path(store.side_url(BUCKETS, snapshot, buckets_name(shard))),
        "minhash": dg.MetadataValue.json(info["minhash"]),
    }, checks=[dg.AssetCheckResult(check_name="covers_documents", passed=step.table.num_rows == docs_info.get("rows"),
                                   metadata={"documents": docs_info.get("rows"), "signatures": step.table.num_rows})])


def _prior_indexes(store, snapshot: str, workdir: str) -> list[PriorIndex]:
    out = []
    for s in store.snapshots(INDEX):
        if s < snapshot and store.side_exists(INDEX, s, "index.arrays"):
            out.append(PriorIndex(s, ArrayFile(store.local_side(INDEX, s, "index.arrays", workdir))))
    return out


@dg.asset(
    retry_policy=RETRY,
    partitions_def=SNAPSHOTS,
    deps=[dg.AssetDep(minhash_signatures, partition_mapping=BY_SNAPSHOT)],
    automation_condition=automation.ON_CHANGE,
    code_version=CLUSTERS_VERSION,
    group_name=GROUP_DEDUP,
    kinds={"parquet"},
    description="Exact, URL and MinHash clusters of one snapshot (bands merged from disk, union-find), the "
                "copy kept in each, and the snapshot's key index for incremental cross-snapshot dedup.",
)
@fail_fast
def dedup_clusters(context: dg.AssetExecutionContext, storage: StorageResource,
                   dedup_settings: DedupResource) -> dg.MaterializeResult:
    snapshot = context.partition_key
    store = storage.store()
    cfg = dedup_settings.config()
    shards = SHARDS.get_partition_keys()
    sig_infos = {sh: store.require_info(SIGNATURES, snapshot, sh) for sh in shards}
    with tempfile.TemporaryDirectory(prefix="curation-dedup-") as work:
        prior = _prior_indexes(store, snapshot, work) if cfg.scope == "incremental" else []
        fp = digest(CLUSTERS_VERSION, cfg, [sig_infos[sh]["fingerprint"] for sh in shards],
                    [(p.snapshot, p.index.meta.get("fingerprint")) for p in prior])

        def compute(old):
            inputs = []
            for sh in shards:
                path = store.local_side(BUCKETS, snapshot, buckets_name(sh), work)
                buckets = ArrayFile(path)
                if buckets.meta.get("fingerprint") != sig_infos[sh]["fingerprint"]:
                    raise ValueError(f"{store.side_url(BUCKETS, snapshot, buckets_name(sh))} does not match "
                                     f"its signature table (interrupted write?): rematerialise minhash_signatures "
                                     f"for {snapshot} shard {sh}")
                inputs.append(ShardInput(sh, buckets, int(buckets.meta["rows"])))
            clusters = find_clusters(inputs, cfg, prior, chunk=dedup_settings.chunk)
            members = decide(clusters, lambda sh: store.read(SIGNATURES, snapshot, sh,
                                                             columns=["id", "text_chars", "fetch_date"]), cfg)
            index_fp = digest(CLUSTERS_VERSION, cfg.minhash, [sig_infos[sh]["fingerprint"] for sh in shards])
            store.write_side(INDEX, snapshot, "index.arrays",
                             lambda path: write_index(path, inputs, cfg.minhash.num_buckets, index_fp, snapshot,
                                                      chunk=dedup_settings.chunk))
            shard_col = members.column("shard")
            shard_digests = {}
            for sh in shards:
                part = members.filter(pc.equal(shard_col, sh)).drop_columns(["shard"])
                shard_digests[sh] = digest(part.to_pydict())
            reasons = Counter(r for r in members.column("reason").to_pylist() if r)
            return members, {
                "documents": clusters.documents, "removed": dict(reasons),
                "kept": clusters.documents - sum(reasons.values()),
                "clusters": int(pc.count_distinct(members.column("cluster_id")).as_py() or 0),
                "histogram": cluster_histogram(members), "shard_digests": shard_digests,
                "changed_shards": sorted(sh for sh in shards
                                         if (old or {}).get("shard_digests", {}).get(sh) != shard_digests[sh]),
                "edges": clusters.edges, "phase_seconds": {k: round(v, 3) for k, v in clusters.seconds.items()},
                "prior_snapshots": clusters.prior, "largest": _largest(store, snapshot, members),
            }

        step = shard_step(context, store, CLUSTERS, snapshot, MEMBERS, fp, compute, columns=())
    info = step.info
    removed = info["removed"]
    return step.result(None, metadata={
        "dagster/row_count": info["documents"],
        "documents": info["documents"],
        "kept": info["kept"],
        "exact_duplicates_removed": removed.get("exact_duplicate", 0),
        "url_duplicates_removed": removed.get("url_duplicate", 0),
        "near_duplicates_removed": removed.get("minhash_duplicate", 0),
        "duplicate_rate": dg.MetadataValue.float(round(sum(removed.values()) / max(1, info["documents"]), 4)),
        "clusters": info["clusters"],
        "cluster_sizes": counts_table(info["histogram"], ("cluster size", "clusters")),
        "largest_clusters": dg.MetadataValue.md(_largest_md(info["largest"])),
        "shards_with_changed_decisions": dg.MetadataValue.json(info["changed_shards"]),
        "matched_against": dg.MetadataValue.json(info["prior_snapshots"]),
        "phase_seconds": dg.MetadataValue.json(info["phase_seconds"]),
        "index": dg.MetadataValue.path(store.side_url(INDEX, snapshot, "index.arrays")),
    })


def _largest(store, snapshot: str, members: pa.Table, n: int = 10) -> list[dict]:
    """The ``n`` largest clusters with their kept document's URL."""
    import polars as pl

    if members.num_rows == 0:
        return []
    df = (pl.from_arrow(members.select(["id", "shard", "keep", "cluster_id", "cluster_size"]))
          .filter(pl.col("keep") & pl.col("cluster_id").is_not_null())
          .sort(["cluster_size", "cluster_id"], descending=[True, False]).head(n))
    out = []
    for row in df.iter_rows(named=True):
        urls = store.read(DOCUMENTS, snapshot, row["shard"], columns=["id", "url"],
                          filters=[("id", "=", row["id"])]).column("url").to_pylist()
        out.append({"cluster_id": row["cluster_id"], "size": row["cluster_size"], "url": urls[0] if urls else None})
    return out


def _largest_md(largest: list[dict]) -> str:
    if not largest:
        return "_no duplicate clusters_"
    lines = ["| size | kept document | URL |", "|---:|---|---|"]
    lines += [f"| {c['size']:,} | `{c['cluster_id'][:16]}` | {c['url'] or ''} |" for c in largest]
    return "\n".join(lines)


@dg.asset(
    retry_policy=RETRY,
    partitions_def=SNAPSHOT_SHARDS,
    deps=[minhash_signatures, dg.AssetDep(dedup_clusters, partition_mapping=BY_SNAPSHOT)],
    automation_condition=automation.DEDUP_LABELS,
    code_version=DEDUP_VERSION,
    group_name=GROUP_DEDUP,
    kinds={"parquet"},
    check_specs=check_specs(DEDUP, (("one_kept_per_cluster", "Every cluster of the shard has at most one kept "
                                                             "document."),)),
    description="Per document: keep or remove, the reason (exact_duplicate, url_duplicate, minhash_duplicate), "
                "cluster id and size. Labels only: the keep decision is applied downstream.",
)
@fail_fast
def dedup(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    snapshot, shard = split_key(context)
    store = storage.store()
    sig_info = store.require_info(SIGNATURES, snapshot, shard)
    cl_info = store.require_info(CLUSTERS, snapshot, MEMBERS)
    fp = digest(DEDUP_VERSION, sig_info["fingerprint"], cl_info["shard_digests"].get(shard))
    def compute(_stored):
        ids = store.read(SIGNATURES, snapshot, shard, columns=["id"]).column("id")
        members = store.read(CLUSTERS, snapshot, MEMBERS, filters=[("shard", "=", shard)])
        table = shard_decisions(ids, members)
        reasons = Counter(r for r in table.column("reason").to_pylist() if r)
        return table, {"removed": dict(reasons), "kept": table.num_rows - sum(reasons.values())}

    step = shard_step(context, store, DEDUP, snapshot, shard, fp, compute, columns=["id", "keep", "cluster_id"])
    info, table = step.info, step.table
    kept_ids = table.filter(pc.and_(table.column("keep"), pc.is_valid(table.column("cluster_id"))))
    per_cluster = Counter(kept_ids.column("cluster_id").to_pylist())
    return step.result(schema.DEDUP, had_input=sig_info.get("rows", 0) > 0, metadata={
        "kept": info["kept"],
        "removed": counts_table(info["removed"]),
        "removed_total": sum(info["removed"].values()),
    }, checks=[dg.AssetCheckResult(check_name="one_kept_per_cluster", passed=all(v == 1 for v in per_cluster.values()),
                                   metadata={"clusters_with_a_kept_document": len(per_cluster)})])
