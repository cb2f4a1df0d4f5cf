"""What every per-shard asset shares: up-to-date checks, asset checks, and metadata for the UI."""


import errno
import functools

import pyarrow as pa
import pyarrow.compute as pc
import dagster as dg

from curation.core.names import UnsafeNameError
from curation.core.tables import schema_differences


# Transient failures (S3 throttling, a dropped connection) are retried with exponential backoff; errors that
# cannot heal (see fail_fast) are raised as dg.Failure(allow_retries=False) and fail at once.
RETRY = dg.RetryPolicy(max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)

#: OSError numbers that a retry two seconds later cannot change: permissions, a read-only disk, a file where a
#: folder must be (or the reverse), a name too long.
_PERMANENT_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR,
                               errno.ENAMETOOLONG})


def permanent(exc: BaseException) -> bool:
    """True for an error that will not heal on retry (a permission error, an unsafe name...)."""
    return isinstance(exc, UnsafeNameError) or (isinstance(exc, OSError) and exc.errno in _PERMANENT_ERRNOS)


def fail_fast(fn):
    """Asset compute functions: an error that will not heal fails the step at once, with one line naming the path
    (``[Errno 13] Permission denied: '/out/documents/S'``), instead of being retried by RETRY."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if not permanent(exc):
                raise
            line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise dg.Failure(description=f"{type(exc).__name__}: {line}", allow_retries=False) from exc

    return wrapper


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
        "cpu_seconds": dg.MetadataValue.float(round(info.get("cpu_seconds", seconds), 3)),
        "docs_per_second": dg.MetadataValue.float(round(info.get("rows", 0) / seconds, 1) if seconds else 0.0),
    }
