"""Per-shard Parquet tables on a local disk or S3 (fsspec), written atomically.

Layout: ``<base>/<asset>/<SNAPSHOT>/<SHARD>.parquet``. Not Hive-style (``snapshot=...``): the tables
already carry ``snapshot`` and ``shard`` columns, and a Hive path would clash with them when a whole
asset is scanned (``pl.scan_parquet("<base>/documents/**/*.parquet")``). The input fingerprint a table was computed from is stored in the
Parquet footer, so "is this shard up to date?" needs one footer read and no side file that could
disagree with the data.

Damaged outputs: the footer also holds the length and CRC-32 of every byte before it (and each data page its
Parquet page checksum), so :meth:`ShardStore.info`, which every asset's "is this shard up to date?" test goes
through, reads a local table whole once per process and treats a table whose footer or data does not verify
as absent: it is recomputed, with a warning naming the file. (On S3 the object store's own upload checksums
cover the data and only the footer is read.)
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import posixpath
import struct
import uuid
import zlib

import pyarrow as pa
import pyarrow.parquet as pq

from curation.core.names import safe_relative
from curation.core.remote import bounded_fs

_META_KEY = b"curation"
_DATA_KEY = b"curation_data"  # "<bytes>:<crc32 hex>" of everything the file holds before its footer
log = logging.getLogger("curation.core.storage")
_ACCESS_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EISDIR})
_VERIFIED: set[tuple] = set()  # (path, size, mtime_ns) of local tables whose data this process has verified
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


@contextlib.contextmanager
def naming_full_disk(path: str):
    """A write that runs out of space (disk full, quota, file size limit) fails in one line naming ``path``, the
    file it was writing, instead of a bare ``[Errno 28] No space left on device``."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _FULL_ERRNOS or path in str(exc):
            raise
        raise OSError(exc.errno, f"{exc.strerror or os.strerror(exc.errno)} writing {path}") from exc


class DamagedTableError(ValueError):
    """A stored table whose footer or data does not verify; the message names the file."""


class _ChecksummedSink:
    """A writable file that keeps the length and CRC-32 of what goes through it."""

    def __init__(self, fh):
        self.fh, self.nbytes, self.crc, self.closed = fh, 0, 0, False

    def write(self, data) -> int:
        data = bytes(data)
        self.crc = zlib.crc32(data, self.crc)
        self.nbytes += len(data)
        return self.fh.write(data)

    def flush(self) -> None:
        self.fh.flush()

    def tell(self) -> int:
        return self.nbytes

    def close(self) -> None:
        self.closed = True


def _write_checksummed(table: pa.Table, fh) -> None:
    """Parquet with page checksums, and the CRC of its data pages in the footer (added before the footer is)."""
    sink = _ChecksummedSink(fh)
    with pq.ParquetWriter(sink, table.schema, compression="zstd", write_page_checksum=True) as writer:
        writer.write_table(table)
        writer.add_key_value_metadata({_DATA_KEY: f"{sink.nbytes}:{sink.crc:08x}".encode()})


class ShardStore:
    """Read and write the per-shard tables of every asset under one base URL."""

    def __init__(self, base: str, storage_options: dict | None = None):
        self.base = base.rstrip("/")
        self.fs, self._base_path = bounded_fs(self.base, storage_options)
        protocol = self.fs.protocol
        self.is_local = bool({"file", "local"} & set((protocol,) if isinstance(protocol, str) else protocol))

    def path(self, asset: str, snapshot: str, shard: str) -> str:
        """Where a shard's table lives; every part is checked to stay inside the base (UnsafeNameError)."""
        return posixpath.join(self._base_path, safe_relative(asset, "asset name", single=True),
                              safe_relative(snapshot, "snapshot name", single=True),
                              f"{safe_relative(shard, 'shard name', single=True)}.parquet")

    def url(self, asset: str, snapshot: str, shard: str) -> str:
        p = self.path(asset, snapshot, shard)
        return p if self.is_local else self.fs.unstrip_protocol(p)

    def asset_url(self, asset: str) -> str:
        p = posixpath.join(self._base_path, safe_relative(asset, "asset name", single=True))
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
                with naming_full_disk(target), open(tmp, "wb") as fh:
                    _write_checksummed(table, fh)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
            return os.path.getsize(target)
        with naming_full_disk(self.url(asset, snapshot, shard)), self.fs.open(target, "wb") as fh:
            _write_checksummed(table, fh)
        return int(self.fs.info(target)["size"])

    def info(self, asset: str, snapshot: str, shard: str) -> dict | None:
        """The ``info`` stored with a shard's table, or None if there is no table or it is damaged.

        A damaged table (unreadable footer, data whose CRC differs from the one in the footer) is logged as a
        warning naming the file and reported as absent, so every "is it up to date?" test recomputes it.
        """
        try:
            return self.verified_info(asset, snapshot, shard)
        except DamagedTableError as exc:
            log.warning("%s; it will be recomputed", exc)
            return None

    def verified_info(self, asset: str, snapshot: str, shard: str) -> dict | None:
        """``info`` of a table (None when there is none); DamagedTableError, naming the file, when it does not verify."""
        target = self.path(asset, snapshot, shard)
        url = self.url(asset, snapshot, shard)
        try:
            with self.fs.open(target, "rb") as fh:
                kv = pq.ParquetFile(fh).metadata.metadata or {}
                if self.is_local:
                    self._verify_data(fh, kv, url)
            raw = kv.get(_META_KEY)
            return json.loads(raw) if raw else None
        except FileNotFoundError:
            return None
        except DamagedTableError:
            raise
        except OSError as exc:
            if exc.errno in _ACCESS_ERRNOS:
                raise  # a folder that cannot be read is not a damaged table
            raise DamagedTableError(f"damaged {asset} table {url}: {str(exc).splitlines()[0] if str(exc) else exc!r}") from exc
        except (ValueError, pa.ArrowException) as exc:
            raise DamagedTableError(f"damaged {asset} table {url}: {str(exc).splitlines()[0] if str(exc) else exc!r}") from exc

    def _verify_data(self, fh, kv: dict, url: str) -> None:
        """Check the length and CRC of the bytes before the footer against those the footer holds (once per file
        version and process: the cache key holds the file's size and mtime, so a rewritten file is checked again)."""
        recorded = kv.get(_DATA_KEY)
        if not recorded:
            return  # written before data checksums: only its footer is checked
        st = os.stat(url)
        key = (url, st.st_size, st.st_mtime_ns)
        if key in _VERIFIED:
            return
        fh.seek(st.st_size - 8)
        footer_len = struct.unpack("<I", fh.read(4))[0]
        data_len = st.st_size - 8 - footer_len
        n, crc = recorded.decode().split(":")
        if int(n) != data_len:
            raise DamagedTableError(f"damaged table {url}: {data_len} data bytes, the footer says {n}")
        fh.seek(0)
        value, left = 0, data_len
        while left:
            chunk = fh.read(min(left, 1 << 22))
            if not chunk:
                break
            value, left = zlib.crc32(chunk, value), left - len(chunk)
        if left or f"{value:08x}" != crc:
            raise DamagedTableError(f"damaged table {url}: its data does not match the checksum in its footer")
        _VERIFIED.add(key)

    def require_info(self, asset: str, snapshot: str, shard: str) -> dict:
        """``info`` of an upstream table that must exist; the error names it and says what to materialise."""
        info = self.info(asset, snapshot, shard)
        if info is None:
            raise FileNotFoundError(f"no readable {asset} table for snapshot {snapshot} shard {shard} at "
                                    f"{self.url(asset, snapshot, shard)} (missing or damaged): materialise {asset} "
                                    f"for it first")
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
                return pq.read_table(fh, columns=columns, filters=filters, page_checksum_verification=True)
        except FileNotFoundError as exc:
            raise FileNotFoundError(
                f"no {asset} table for snapshot {snapshot} shard {shard} at {self.url(asset, snapshot, shard)}: "
                f"materialise {asset} for this partition first"
            ) from exc
        except (OSError, pa.ArrowException) as exc:
            raise DamagedTableError(f"cannot read {asset} table {self.url(asset, snapshot, shard)}: "
                                    f"{str(exc).splitlines()[0] if str(exc) else exc!r}") from exc

    # Side files: binary files beside a snapshot's tables (dedup bucket files and indexes).

    def side_path(self, asset: str, snapshot: str, name: str) -> str:
        """A side file's path (``snapshot`` is a snapshot, a mixture name...; ``name`` "" is their folder); checked
        to stay inside the base."""
        folder = posixpath.join(self._base_path, safe_relative(asset, "asset name", single=True),
                                safe_relative(snapshot, "snapshot or mixture name", single=True))
        return posixpath.join(folder, safe_relative(name, "side file name")) if name else folder

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
            with naming_full_disk(target):
                write(target)
            return os.path.getsize(target)
        import tempfile

        with tempfile.TemporaryDirectory(prefix="curation-side-") as tmp:
            local = os.path.join(tmp, name)
            with naming_full_disk(local):
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
        root = posixpath.join(self._base_path, safe_relative(asset, "asset name", single=True))
        try:
            return sorted(posixpath.basename(p.rstrip("/")) for p in self.fs.ls(root, detail=False)
                          if self.fs.isdir(p))
        except FileNotFoundError:
            return []
