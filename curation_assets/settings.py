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
