"""Deployment settings read from the environment when the definitions load.

The shard count shapes the partitions definition, so it is fixed per deployment (changing it
re-shards every snapshot); everything else can also be set per run in the launchpad.
"""


import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_CRAWL = PROJECT_ROOT / "sample_crawl"


def num_shards() -> int:
    raw = os.environ.get("CURATION_NUM_SHARDS", "4")
    try:
        n = int(raw)
    except ValueError as exc:
        raise ValueError(f"CURATION_NUM_SHARDS must be an integer, got {raw!r}") from exc
    if not 1 <= n <= 10_000:
        raise ValueError(f"CURATION_NUM_SHARDS must lie in 1..10000, got {n}")
    return n


def crawl_root() -> str:
    return os.environ.get("CURATION_CRAWL_ROOT", str(SAMPLE_CRAWL))


def output_base() -> str:
    return os.environ.get("CURATION_OUTPUT", str(Path.cwd() / "curation_output"))


def rewrite_max_documents() -> int | None:
    """Documents rewritten per shard at most ($CURATION_REWRITE_MAX_DOCS: a number, or ``all``). The default, 1,
    suits the bundled sample on a CPU; a deployment with GPUs or an inference server sets ``all``."""
    raw = os.environ.get("CURATION_REWRITE_MAX_DOCS", "1").strip().lower()
    if raw in ("all", "none", ""):
        return None
    try:
        return max(0, int(raw))
    except ValueError as exc:
        raise ValueError(f"CURATION_REWRITE_MAX_DOCS must be a number or 'all', got {raw!r}") from exc


def rewrite_max_chars() -> int | None:
    """Documents longer than this are not rewritten ($CURATION_REWRITE_MAX_CHARS, default 1500: one chunk on the
    CPU default; ``none`` for no limit)."""
    raw = os.environ.get("CURATION_REWRITE_MAX_CHARS", "1500").strip().lower()
    if raw in ("all", "none", ""):
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"CURATION_REWRITE_MAX_CHARS must be a number or 'none', got {raw!r}") from exc
