"""What every per-shard asset shares: up-to-date checks, asset checks, and metadata for the UI."""


import pyarrow as pa
import pyarrow.compute as pc
import dagster as dg

from curation.schema import schema_differences


# Transient failures (S3 throttling, a dropped connection) are retried with exponential backoff; input errors
# that cannot heal are raised as dg.Failure(allow_retries=False) and fail at once.
RETRY = dg.RetryPolicy(max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def check_specs(asset: str, extra: tuple[tuple[str, str], ...] = ()) -> list[dg.AssetCheckSpec]:
    """The checks each shard table carries: schema, non-empty output, unique ids (+ any extra)."""
    base = [
        ("schema_matches", "The table has exactly the declared columns and types."),
        ("non_empty", "A shard with input files produced at least one row (warns otherwise)."),
        ("unique_ids", "No document id appears twice in the shard."),
    ]
    return [dg.AssetCheckSpec(name, asset=asset, description=desc) for name, desc in base + list(extra)]


def check_results(table_schema: pa.Schema, expected: pa.Schema, ids: pa.ChunkedArray | pa.Array,
                  had_input: bool) -> list[dg.AssetCheckResult]:
    diffs = schema_differences(table_schema, expected)
    n = len(ids)
    n_unique = pc.count_distinct(ids).as_py() if n else 0
    return [
        dg.AssetCheckResult(check_name="schema_matches", passed=not diffs,
                            metadata={"differences": dg.MetadataValue.json(diffs)}),
        dg.AssetCheckResult(check_name="non_empty", passed=n > 0 or not had_input,
                            severity=dg.AssetCheckSeverity.WARN, metadata={"rows": n, "had_input": had_input}),
        dg.AssetCheckResult(check_name="unique_ids", passed=n_unique == n,
                            metadata={"rows": n, "distinct_ids": n_unique}),
    ]


def counts_table(counts: dict, header: tuple[str, str] = ("reason", "documents")) -> dg.MetadataValue:
    """A Markdown table of counts, largest first, for the materialisation page."""
    if not counts:
        return dg.MetadataValue.md("_none_")
    lines = [f"| {header[0]} | {header[1]} |", "|---|---:|"]
    lines += [f"| `{k}` | {v:,} |" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return dg.MetadataValue.md("\n".join(lines))


def base_metadata(info: dict, url: str, recomputed: bool, nbytes: int) -> dict:
    """Metadata every shard materialisation shows, rebuilt from the info stored in the table's footer."""
    seconds = info.get("seconds", 0.0)
    return {
        "recomputed": recomputed,
        "fingerprint": info["fingerprint"],
        "path": dg.MetadataValue.path(url),
        "dagster/row_count": info.get("rows", 0),
        "output_bytes": dg.MetadataValue.int(nbytes),
        "seconds": dg.MetadataValue.float(round(seconds, 3)),  # time of the computation that made the table
        "docs_per_second": dg.MetadataValue.float(round(info.get("rows", 0) / seconds, 1) if seconds else 0.0),
    }
