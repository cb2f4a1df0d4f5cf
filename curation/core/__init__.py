"""Core services every stage uses: storage of per-shard tables and side files (local or S3), fingerprints,
safe names, every table schema, sharding, packaged model files, credential redaction in messages, and the keep
rules that turn labels into decisions."""

from curation.core.exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "LABEL_COLUMNS": "keep",
    "MIN_LANGUAGE_SCORE": "keep",
    "ShardStore": "storage",
    "UnsafeNameError": "names",
    "derived_cache_path": "packaged",
    "digest": "fingerprints",
    "file_identity": "fingerprints",
    "package_file": "packaged",
    "redact_text": "credentials",
    "redact_url": "credentials",
    "safe_relative": "names",
    "schema_differences": "tables",
    "shard_index": "sharding",
    "shard_key": "sharding",
    "shard_keys": "sharding",
    "split_credentials": "credentials",
})
