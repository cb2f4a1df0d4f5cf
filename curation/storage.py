"""Per-shard Parquet tables on a local disk or S3 (fsspec), written atomically.

Layout: ``<base>/<asset>/<SNAPSHOT>/<SHARD>.parquet``. Not Hive-style (``snapshot=...``): the tables
already carry ``snapshot`` and ``shard`` columns, and a Hive path would clash with them when a whole
asset is scanned (``pl.scan_parquet("<base>/documents/**/*.parquet")``). The input fingerprint a table was computed from is stored in the
Parquet footer, so "is this shard up to date?" needs one footer read and no side file that could
disagree with the data.
"""

from __future__ import annotations

import json
import os
import posixpath
import uuid

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

_META_KEY = b"curation"


class ShardStore:
    """Read and write the per-shard tables of every asset under one base URL."""

    def __init__(self, base: str, storage_options: dict | None = None):
        self.base = base.rstrip("/")
        self.fs, self._base_path = fsspec.core.url_to_fs(self.base, **(storage_options or {}))
        protocol = self.fs.protocol
        self.is_local = bool({"file", "local"} & set((protocol,) if isinstance(protocol, str) else protocol))

    def path(self, asset: str, snapshot: str, shard: str) -> str:
        return posixpath.join(self._base_path, asset, snapshot, f"{shard}.parquet")

    def url(self, asset: str, snapshot: str, shard: str) -> str:
        p = self.path(asset, snapshot, shard)
        return p if self.is_local else self.fs.unstrip_protocol(p)

    def asset_url(self, asset: str) -> str:
        p = posixpath.join(self._base_path, asset)
        return p if self.is_local else self.fs.unstrip_protocol(p)

    def write(self, asset: str, snapshot: str, shard: str, table: pa.Table, info: dict) -> int:
        """Write a shard's table with ``info`` (fingerprint, counts) in its footer; returns bytes written.

        Local: write a temporary file beside the target, fsync, rename over it. S3: an object appears
        only when its upload completes, so a killed run never leaves half a file under the final name.
        """
        meta = dict(table.schema.metadata or {})
        meta[_META_KEY] = json.dumps(info, sort_keys=True).encode()
        table = table.replace_schema_metadata(meta)
        target = self.path(asset, snapshot, shard)
        if self.is_local:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            tmp = f"{target}.tmp-{uuid.uuid4().hex}"
            try:
                pq.write_table(table, tmp, compression="zstd")
                with open(tmp, "rb+") as fh:
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
            return os.path.getsize(target)
        with self.fs.open(target, "wb") as fh:
            pq.write_table(table, fh, compression="zstd")
        return int(self.fs.info(target)["size"])

    def info(self, asset: str, snapshot: str, shard: str) -> dict | None:
        """The ``info`` stored with a shard's table (footer read only), or None if there is no table."""
        target = self.path(asset, snapshot, shard)
        try:
            with self.fs.open(target, "rb") as fh:
                meta = pq.read_schema(fh).metadata or {}
        except FileNotFoundError:
            return None
        raw = meta.get(_META_KEY)
        return json.loads(raw) if raw else None

    def require_info(self, asset: str, snapshot: str, shard: str) -> dict:
        """``info`` of an upstream table that must exist; the error names it and says what to materialise."""
        info = self.info(asset, snapshot, shard)
        if info is None:
            raise FileNotFoundError(f"no {asset} table for snapshot {snapshot} shard {shard} at "
                                    f"{self.url(asset, snapshot, shard)}: materialise {asset} for it first")
        return info

    def schema(self, asset: str, snapshot: str, shard: str) -> pa.Schema:
        with self.fs.open(self.path(asset, snapshot, shard), "rb") as fh:
            return pq.read_schema(fh)

    def size(self, asset: str, snapshot: str, shard: str) -> int:
        return int(self.fs.size(self.path(asset, snapshot, shard)))

    def read(self, asset: str, snapshot: str, shard: str, columns: list[str] | None = None,
             filters=None) -> pa.Table:
        target = self.path(asset, snapshot, shard)
        try:
            with self.fs.open(target, "rb") as fh:
                return pq.read_table(fh, columns=columns, filters=filters)
        except FileNotFoundError as exc:
            raise FileNotFoundError(
                f"no {asset} table for snapshot {snapshot} shard {shard} at {self.url(asset, snapshot, shard)}: "
                f"materialise {asset} for this partition first"
            ) from exc

    # Side files: binary files beside a snapshot's tables (dedup bucket files and indexes).

    def side_path(self, asset: str, snapshot: str, name: str) -> str:
        return posixpath.join(self._base_path, asset, snapshot, name)

    def side_url(self, asset: str, snapshot: str, name: str) -> str:
        p = self.side_path(asset, snapshot, name)
        return p if self.is_local else self.fs.unstrip_protocol(p)

    def side_exists(self, asset: str, snapshot: str, name: str) -> bool:
        return bool(self.fs.exists(self.side_path(asset, snapshot, name)))

    def write_side(self, asset: str, snapshot: str, name: str, write) -> int:
        """``write(local_path)`` makes the file (atomically, locally); remote stores get it uploaded whole."""
        target = self.side_path(asset, snapshot, name)
        if self.is_local:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            write(target)
            return os.path.getsize(target)
        import tempfile

        with tempfile.TemporaryDirectory(prefix="curation-side-") as tmp:
            local = os.path.join(tmp, name)
            write(local)
            self.fs.put(local, target)
            return os.path.getsize(local)

    def put_side(self, asset: str, snapshot: str, name: str, local_path: str) -> int:
        """Store an existing local file as a side file (copied atomically, or uploaded whole)."""
        import shutil

        def copy(target: str) -> None:
            tmp = f"{target}.tmp-{uuid.uuid4().hex}"
            shutil.copyfile(local_path, tmp)
            os.replace(tmp, target)

        if not self.is_local:
            self.fs.put(local_path, self.side_path(asset, snapshot, name))
            return os.path.getsize(local_path)
        return self.write_side(asset, snapshot, name, copy)

    def local_side(self, asset: str, snapshot: str, name: str, workdir: str) -> str:
        """A local path to a side file (downloaded into ``workdir`` from remote stores), for memory-mapping."""
        target = self.side_path(asset, snapshot, name)
        if self.is_local:
            if not os.path.exists(target):
                raise FileNotFoundError(f"no {name} for snapshot {snapshot} at {target}")
            return target
        local = os.path.join(workdir, f"{asset}-{snapshot}-{name}")
        try:
            self.fs.get(target, local)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"no {name} for snapshot {snapshot} at {self.side_url(asset, snapshot, name)}") from exc
        return local

    def snapshots(self, asset: str) -> list[str]:
        """Snapshots with at least one file of ``asset``."""
        root = posixpath.join(self._base_path, asset)
        try:
            return sorted(posixpath.basename(p.rstrip("/")) for p in self.fs.ls(root, detail=False)
                          if self.fs.isdir(p))
        except FileNotFoundError:
            return []
