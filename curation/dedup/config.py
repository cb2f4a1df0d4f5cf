"""Exact, URL and MinHash near-duplicate detection with bounded memory, in three stages that fit the partitions.

1. ``signature_table`` (per shard): text and URL hashes and the LSH band keys of every document, and a
   *bucket file* beside it: for each band (and for the text and URL hashes) the shard's keys sorted,
   with the row each came from. Only a changed shard recomputes this.
2. ``find_clusters`` (per snapshot): for each band, the shards' sorted keys are merged from disk one
   key range at a time (memory-mapped files, a binary search per shard for each range's bounds), and
   documents with equal keys become edges; connected components over the edges (scipy) are the
   clusters. Memory is one key range (``chunk`` keys, 4M by default: 48 MB) plus a few int64 arrays of
   the snapshot's document count; never a dict of buckets.
3. ``decide`` keeps one document per cluster by a rule on the documents' attributes (not on the order
   of shards or rows, so any processing order gives the same result) and labels the rest with a reason.

Incremental cross-snapshot mode: every snapshot also writes an *index* (its distinct band and text
keys, sorted), and a snapshot is matched against the indexes of the earlier snapshots (by name:
``CC-MAIN-YYYY-WW`` sorts by date) without reading their documents again: a cluster with any member
matching an earlier snapshot is removed whole, since its copy was kept there.
"""

from __future__ import annotations
from dataclasses import dataclass, field
from curation.dedup.minhash import MinHashConfig, MinHasher

KEEP_RULES = ("longest", "first_fetched", "last_fetched", "lowest_id")
REASONS = ("exact_duplicate", "url_duplicate", "minhash_duplicate")
SCOPES = ("snapshot", "incremental")


@dataclass(frozen=True)
class DedupConfig:
    """What counts as a duplicate, which copy is kept, and over what scope.

    keep: ``longest`` (the most text; default - of near-copies, the most complete), ``first_fetched``,
    ``last_fetched`` or ``lowest_id``; ties always go to the lowest id, so the choice is deterministic.
    scope: ``snapshot`` (FineWeb: each snapshot on its own) or ``incremental`` (also against the
    indexes of earlier snapshots).
    """

    minhash: MinHashConfig = field(default_factory=MinHashConfig)
    exact: bool = True
    url: bool = True
    near: bool = True
    keep: str = "longest"
    scope: str = "snapshot"
    min_similarity: float = 0.7  # candidate pairs whose estimated Jaccard is below this are not linked (0: off)

    def __post_init__(self):
        if not 0.0 <= self.min_similarity <= 1.0:
            raise ValueError(f"min_similarity must lie in [0, 1], not {self.min_similarity!r}")
        if self.keep not in KEEP_RULES:
            raise ValueError(f"keep must be one of {KEEP_RULES}, not {self.keep!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, not {self.scope!r}")


_HASHERS: dict[MinHashConfig, MinHasher] = {}


def hasher(config: MinHashConfig) -> MinHasher:
    """One MinHasher per configuration and process (it caches word hashes)."""
    if config not in _HASHERS:
        _HASHERS[config] = MinHasher(config)
    return _HASHERS[config]
