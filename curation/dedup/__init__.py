"""Deduplication (FineWeb's MinHash): per-shard signatures and bucket files, per-snapshot clusters, per-shard
decisions, and the evaluation helpers the benches use."""

from curation.core.exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "ArrayFile": "arrays",
    "DedupConfig": "config",
    "MinHashConfig": "minhash",
    "MinHasher": "minhash",
    "PriorIndex": "clusters",
    "ShardInput": "clusters",
    "check_candidates": "clusters",
    "cluster_histogram": "decisions",
    "decide": "decisions",
    "derive": "evaluation",
    "edit_words": "evaluation",
    "find_clusters": "clusters",
    "hasher": "config",
    "jaccard": "minhash",
    "normalize_url": "signatures",
    "pair_metrics": "evaluation",
    "run_local": "decisions",
    "shard_decisions": "decisions",
    "shingle_set": "minhash",
    "signature_table": "signatures",
    "text_key": "signatures",
    "true_pairs": "evaluation",
    "words": "minhash",
    "write_bucket_arrays": "arrays",
    "write_buckets": "arrays",
    "write_index": "clusters",
})
