"""The group a document falls in, by any attribute of ``GROUP_ATTRIBUTES`` (URL domain, cluster-size
bucket, ...), for one row or a whole Polars frame."""

from __future__ import annotations
from urllib.parse import urlsplit


def domain_of(url: str | None) -> str:
    if not url:
        return "unknown"
    host = (urlsplit(url).hostname or "unknown").lower()
    parts = host.split(".")
    return ".".join(parts[-2:]) if len(parts) >= 2 else host


def cluster_bucket(size: int) -> str:
    return "1" if size <= 1 else "2" if size == 2 else "3-4" if size <= 4 else "5-9" if size <= 9 else "10+"


def group_column(df, by: list[str]):
    """The group key of every row as a Polars expression over the attribute columns (as ``group_key``)."""
    import polars as pl

    parts = []
    for attr in by:
        if attr == "cluster_size":
            s = pl.col("cluster_size").fill_null(1)
            e = (pl.when(s <= 1).then(pl.lit("1")).when(s == 2).then(pl.lit("2")).when(s <= 4).then(pl.lit("3-4"))
                 .when(s <= 9).then(pl.lit("5-9")).otherwise(pl.lit("10+")))
        else:
            e = pl.col(attr).cast(pl.String).fill_null("-")
        parts.append(e)
    return pl.concat_str(parts, separator="/").alias("group")


def group_key(row: dict, by: list[str]) -> str:
    vals = []
    for attr in by:
        v = row.get(attr)
        if attr == "cluster_size":
            v = cluster_bucket(int(v or 1))
        vals.append("-" if v is None else str(v))
    return "/".join(vals)
