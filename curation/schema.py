"""The record schemas of every per-shard table, defined once (Dolma-style documents + attributes)."""

from __future__ import annotations

import pyarrow as pa

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
