"""A cache of generations keyed by (prompt name and version, model id, generation parameters, input text), so
a rerun, a resumed run or a second document containing the same chunk never generates it twice: in memory
(tests) or as Parquet parts in the shard store (rewrites, annotations)."""

from __future__ import annotations

import time
from typing import Protocol

from curation.llm.backends import GenerationParams
from curation.core.fingerprints import digest
from curation.llm.prompts import Prompt


def cache_key(prompt: Prompt, model_id: str, params: GenerationParams, chunk: str) -> str:
    return digest("rewrite-chunk-v1", prompt.name, prompt.version, model_id, params.as_dict(), chunk)


class ChunkCache(Protocol):
    def get(self, key: str) -> dict | None: ...

    def put(self, entries: list[dict]) -> None: ...


class MemoryCache:
    def __init__(self):
        self.entries: dict[str, dict] = {}

    def get(self, key: str) -> dict | None:
        return self.entries.get(key)

    def put(self, entries: list[dict]) -> None:
        for e in entries:
            self.entries[e["key"]] = e



class StoreChunkCache:
    """The chunks generated for one shard, kept as Parquet parts under
    ``<base>/<asset>/<snapshot>/<shard>/`` (``rewrite_cache`` by default) (local or S3). Every flush writes one new part, atomically, so a
    killed run keeps every batch it finished and a rerun generates only what is missing."""

    ASSET = "rewrite_cache"

    def __init__(self, store, snapshot: str, shard: str, asset: str | None = None):
        import pyarrow.parquet as pq

        self.store, self.snapshot, self.shard = store, snapshot, shard
        self.ASSET = asset or self.ASSET  # annotations keep their own cache beside the rewrites' one
        self.entries: dict[str, dict] = {}
        pattern = store.side_path(self.ASSET, snapshot, f"{shard}/part-*.parquet")
        if not store.is_local:
            store.fs.invalidate_cache()
        self.parts = sorted(store.fs.glob(pattern))
        for path in self.parts:
            try:
                with store.fs.open(path, "rb") as fh:
                    rows = pq.read_table(fh).to_pylist()
            except Exception as exc:  # a part is written whole or not at all; say which one is unreadable
                raise ValueError(f"unreadable rewrite cache part {path}: {exc}") from exc
            for r in rows:
                self.entries[r["key"]] = r

    def get(self, key: str) -> dict | None:
        return self.entries.get(key)

    def put(self, entries: list[dict]) -> None:
        import os
        import tempfile
        import uuid

        import pyarrow as pa
        import pyarrow.parquet as pq

        if not entries:
            return
        name = f"{self.shard}/part-{time.time_ns()}-{uuid.uuid4().hex[:8]}.parquet"
        with tempfile.TemporaryDirectory(prefix="curation-rwcache-") as tmp:
            local = os.path.join(tmp, "part.parquet")
            pq.write_table(pa.Table.from_pylist(entries), local)
            self.store.put_side(self.ASSET, self.snapshot, name, local)
        self.parts.append(name)
        for e in entries:
            self.entries[e["key"]] = e
