"""Stable assignment of input files to shards: a file always lands in the same shard."""

from __future__ import annotations

import hashlib


def shard_keys(num_shards: int) -> list[str]:
    """Partition keys of the shard dimension: zero-padded so they sort as numbers do."""
    if num_shards < 1:
        raise ValueError(f"num_shards must be >= 1, got {num_shards}")
    width = max(4, len(str(num_shards - 1)))
    return [str(i).zfill(width) for i in range(num_shards)]


def shard_index(relative_path: str, num_shards: int) -> int:
    """Shard of a file: blake2b of its path relative to the crawl root, modulo the shard count.

    The hash depends on the path only (not on the listing order, the size or the other files),
    so adding or replacing one file changes exactly one shard.
    """
    digest = hashlib.blake2b(relative_path.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % num_shards


def shard_key(relative_path: str, num_shards: int) -> str:
    return shard_keys(num_shards)[shard_index(relative_path, num_shards)]
