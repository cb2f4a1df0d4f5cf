"""The record schemas of the tables, each defined once (Dolma-style documents + attributes).

Two families live with the stage that computes their columns: the quality signals
(``curation.quality.signals.quality_schema``, built from the signal list) and the label tables
(``curation.labels``: contamination, pii, blocklist)."""

from __future__ import annotations

import pyarrow as pa

# Table (asset) names: one folder each under the output base. Pure code that reads another stage's table names it
# by these, never by a literal.
DOCUMENTS_TABLE = "documents"
LANGUAGE_TABLE = "language"
TOKENS_TABLE = "tokens"
DEDUP_TABLE = "dedup"
QUALITY_TABLE = "quality"
REWRITES_TABLE = "rewrites"
CONTAMINATION_TABLE = "contamination"
PII_TABLE = "pii"
BLOCKLIST_TABLE = "blocklist"
#: where the quality classifier lives: <base>/quality_classifier/_all/ holds classifier.json and its model file
CLASSIFIER_TABLE = "quality_classifier"
GLOBAL_PARTITION = "_all"  # the snapshot folder of a global (unpartitioned) asset
CLASSIFIER_META = "classifier.json"

#: One row per extracted document. The text is written once, here; later stages key on ``id``.
DOCUMENTS = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),  # stable: hash of (source file, record offset)
        pa.field("snapshot", pa.string(), nullable=False),
        pa.field("shard", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),  # path relative to the crawl root
        pa.field("source_offset", pa.int64(), nullable=False),  # WARC record offset (compressed), or row number
        pa.field("record_id", pa.string()),  # WARC-Record-ID when there is one
        pa.field("url", pa.string()),
        pa.field("host", pa.string()),
        pa.field("fetch_date", pa.timestamp("ms", tz="UTC")),  # Parquet has no seconds unit
        pa.field("content_type", pa.string()),
        pa.field("charset", pa.string()),  # the charset the payload was decoded with
        pa.field("text", pa.string(), nullable=False),
        pa.field("extractor", pa.string(), nullable=False),
    ]
)

#: Language labels per document: labels only, the keep rule is applied downstream.
LANGUAGE = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("language", pa.string(), nullable=False),  # ISO 639 code as the model emits it, "und" if none
        pa.field("language_score", pa.float32(), nullable=False),
        pa.field(
            "language_top_k",
            pa.list_(pa.struct([pa.field("language", pa.string()), pa.field("score", pa.float32())])),
        ),
        pa.field("langid_model", pa.string(), nullable=False),  # which model gave the label
    ]
)


class SchemaError(ValueError):
    """A table does not carry the columns and types its schema asks for."""


# minhash_signatures: one row per document, in the documents table's order
SIGNATURES = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("url_hash", pa.uint64(), nullable=False),  # xxh3-64 of the normalised URL (0: no URL)
        pa.field("text_hash", pa.uint64(), nullable=False),  # xxh3-64 of the whitespace-normalised text
        pa.field("n_shingles", pa.int32(), nullable=False),  # word 5-grams (0: no words, not near-deduplicated)
        pa.field("text_chars", pa.int64(), nullable=False),
        pa.field("fetch_date", pa.timestamp("ms", tz="UTC")),
        pa.field("bands", pa.list_(pa.uint64()), nullable=False),  # one LSH band key per band
        pa.field("minhash", pa.list_(pa.uint32()), nullable=False),  # the signature (for the candidate check)
    ],
    metadata={"description": "MinHash LSH band keys and exact-match hashes per document."},
)

# dedup_clusters: one row per document that is in a duplicate cluster or matches an earlier snapshot
CLUSTER_MEMBERS = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("shard", pa.string(), nullable=False),
        pa.field("keep", pa.bool_(), nullable=False),
        pa.field("reason", pa.string()),
        pa.field("cluster_id", pa.string()),
        pa.field("cluster_size", pa.int32(), nullable=False),
        pa.field("matched_snapshot", pa.string()),
    ],
    metadata={"description": "Members of duplicate clusters of one snapshot, with the keep decision."},
)

# dedup: one row per document of the shard
DEDUP = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("keep", pa.bool_(), nullable=False),
        # null when kept; exact_duplicate, url_duplicate or minhash_duplicate otherwise
        pa.field("reason", pa.string()),
        pa.field("cluster_id", pa.string()),  # id of the cluster's kept document; null for singletons
        pa.field("cluster_size", pa.int32(), nullable=False),  # documents in the cluster (1: unique)
        pa.field("matched_snapshot", pa.string()),  # incremental mode: the earlier snapshot it duplicates
    ],
    metadata={"description": "Deduplication labels per document; the keep rule is applied downstream."},
)


#: One row per token-counted document (the mixing tokenizer's counts).
TOKENS = pa.schema([pa.field("id", pa.string(), nullable=False), pa.field("tokens", pa.int32(), nullable=False)],
                   metadata={"description": "Tokens per document with the default mixing tokenizer."})

#: LLM grades of a crawl sample (global table of quality_annotations).
ANNOTATIONS = pa.schema([pa.field("id", pa.string(), nullable=False), pa.field("snapshot", pa.string()),
                  pa.field("url", pa.string()), pa.field("text", pa.string()), pa.field("grade", pa.int8()),
                  pa.field("parsed", pa.bool_()), pa.field("answer", pa.string()),
                  pa.field("finish_reason", pa.string()), pa.field("prompt", pa.string()),
                  pa.field("model", pa.string())],
                 metadata={"description": "LLM grades (0-5) of a crawl sample, with the raw answers."})

#: One row per rewritten document: the rewrite, its provenance and the quality stage's verdict.
REWRITES = pa.schema([
    pa.field("id", pa.string(), nullable=False), pa.field("source_id", pa.string()),
    pa.field("snapshot", pa.string()), pa.field("url", pa.string()), pa.field("language", pa.string()),
    pa.field("prompt", pa.string()), pa.field("prompt_version", pa.string()), pa.field("model", pa.string()),
    pa.field("params", pa.string()), pa.field("text", pa.string()), pa.field("chunks", pa.int32()),
    pa.field("tokens_in", pa.int64()), pa.field("tokens_out", pa.int64()), pa.field("cached_chunks", pa.int32()),
    pa.field("seconds", pa.float64()), pa.field("accepted", pa.bool_()), pa.field("reject_reason", pa.string()),
    pa.field("quality_pass", pa.bool_()), pa.field("quality_reason", pa.string()),
    pa.field("classifier_score", pa.float32()), pa.field("quality_bucket", pa.int8()),
    pa.field("source_quality_reason", pa.string()), pa.field("source_classifier_score", pa.float32()),
    pa.field("source_quality_bucket", pa.int8()),
], metadata={"description": "LLM rewrites with provenance, rejection reason and the quality stage's verdict."})


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Return ``table`` with exactly ``schema``'s columns in order, or raise SchemaError naming what differs."""
    missing = [f.name for f in schema if f.name not in table.column_names]
    if missing:
        raise SchemaError(f"missing columns: {missing}")
    table = table.select(schema.names)
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
        raise SchemaError(f"cannot cast to schema: {exc}") from exc


def schema_differences(actual: pa.Schema, expected: pa.Schema) -> list[str]:
    """List human-readable differences between two schemas (names and types, ignoring metadata)."""
    out = []
    for f in expected:
        if f.name not in actual.names:
            out.append(f"missing column {f.name}")
        elif not actual.field(f.name).type.equals(f.type):
            out.append(f"{f.name}: {actual.field(f.name).type} != {f.type}")
    out += [f"unexpected column {n}" for n in actual.names if n not in expected.names]
    return out


def empty(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()
