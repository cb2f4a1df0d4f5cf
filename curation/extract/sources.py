"""Crawl sources: a root laid out like Common Crawl, on a local disk or in S3 (fsspec).

``<root>/crawl-data/<SNAPSHOT>/warc.paths.gz`` lists the snapshot's files relative to the root, as
Common Crawl publishes them. A snapshot folder without a listing is globbed for known file types, so
an already-extracted corpus (WET, JSONL, Parquet) can enter the pipeline by being dropped in a folder.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import posixpath
import re
import zlib
from collections import defaultdict
from dataclasses import dataclass, field

import fsspec

from curation.core.names import safe_relative
from curation.core.remote import bounded_fs, timeout_error
from curation.core.sharding import shard_keys, shard_index

DEFAULT_SNAPSHOT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
SNAPSHOT_RULE = "a snapshot name is ASCII letters, digits, '.', '_' and '-', and starts with a letter or digit"

#: File kinds by name, most specific first. WET must come before WARC.
_KINDS = [
    ("wet", re.compile(r"\.warc\.wet(\.gz)?$")),
    ("wat", re.compile(r"\.warc\.wat(\.gz)?$")),
    ("warc", re.compile(r"\.(warc|arc)(\.gz)?$")),
    ("jsonl", re.compile(r"\.(jsonl|ndjson|json)(\.gz|\.zst)?$")),
    ("parquet", re.compile(r"\.parquet$")),
]
READABLE_KINDS = ("warc", "wet", "jsonl", "parquet")


def file_kind(path: str) -> str | None:
    """The reader a file needs, judged by its name; None for files the pipeline does not read."""
    for kind, pattern in _KINDS:
        if pattern.search(path):
            return kind
    return None


@dataclass(frozen=True)
class InputFile:
    """One input file of a snapshot: path relative to the crawl root, and what identifies its content."""

    path: str
    size: int | None  # None when the listing names a file that does not exist
    version: str  # ETag on S3, size+mtime on a local disk: changes when the file is replaced

    @property
    def kind(self) -> str | None:
        return file_kind(self.path)


def fingerprint(files: list[InputFile]) -> str:
    """Fingerprint of a set of files: changes when one is added, removed or replaced."""
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.path):
        h.update(f"{f.path}\t{f.size}\t{f.version}\n".encode())
    return h.hexdigest()[:32]


@dataclass
class CrawlSource:
    """A crawl root (local path or ``s3://bucket/prefix``) and how to list its snapshots and files."""

    root: str
    listing: str = "warc.paths.gz"  # per-snapshot file list; "wet.paths.gz" reads Common Crawl's WET files
    snapshot_pattern: str = DEFAULT_SNAPSHOT_PATTERN
    storage_options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = self.root.rstrip("/") or "/"
        self._fs, self._root_path = bounded_fs(self.root, self.storage_options)  # S3: timeouts bounded
        self._pattern = re.compile(self.snapshot_pattern)
        self.refused: list[str] = []  # one line per folder the last list_snapshots skipped, naming the rule

    def name_problem(self, name: str) -> str | None:
        """Why ``name`` cannot be a snapshot (None: it can): the first character the default rule refuses, or the
        configured pattern it does not match."""
        if self._pattern.match(name):
            return None
        if self.snapshot_pattern == DEFAULT_SNAPSHOT_PATTERN:
            i = next((i for i, ch in enumerate(name) if not (ch.isascii() and (ch.isalnum() or (i and ch in "._-")))),
                     None)
            where = f"character {name[i]!r} at position {i + 1}" if i is not None else "an empty name"
            return f"{where}: {SNAPSHOT_RULE}"
        return f"it does not match snapshot_pattern {self.snapshot_pattern!r}"

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        return self._fs

    def full_path(self, relative: str) -> str:
        """The path of a file under the root; ``relative`` must stay inside it (UnsafeNameError otherwise)."""
        return posixpath.join(self._root_path, safe_relative(relative, "path under the crawl root"))

    def url(self, relative: str) -> str:
        """A URL a user can paste (``s3://...`` or a local path)."""
        full = self.full_path(relative)
        return full if self.is_local else self._fs.unstrip_protocol(full)

    @property
    def is_local(self) -> bool:
        protocol = self._fs.protocol
        return bool({"file", "local"} & set((protocol,) if isinstance(protocol, str) else protocol))

    def list_snapshots(self) -> list[str]:
        """The snapshot folders under crawl-data/ (``refused`` names those skipped); a TimeoutError naming the crawl
        root when its endpoint does not answer."""
        try:
            return self._list_snapshots()
        except Exception as exc:
            if timeout_error(exc):
                raise TimeoutError(f"crawl root {self.root}: no answer from its endpoint ({exc})") from exc
            raise

    def _list_snapshots(self) -> list[str]:
        # fsspec caches directory listings per filesystem instance (and instances per process): a sensor
        # polling S3 would never see a replaced file's new ETag without dropping that cache first
        self._fs.invalidate_cache()
        base = self.full_path("crawl-data")
        if not self._fs.exists(base):
            raise FileNotFoundError(f"crawl root {self.root!r} has no crawl-data/ folder")
        names = [posixpath.basename(p.rstrip("/")) for p in self._fs.ls(base, detail=False)]
        folders = [n for n in names if self._fs.isdir(posixpath.join(base, n))]
        self.refused = [f"skipped folder {n!r} under {self.url('crawl-data')}: {self.name_problem(n)}"
                        for n in sorted(folders) if not n.startswith(".") and self.name_problem(n)]  # .hidden: quiet
        return sorted(n for n in folders if self._pattern.match(n))

    def list_files(self, snapshot: str) -> list[InputFile]:
        """Every input file of a snapshot, with its size and version (listed afresh, never from a cache)."""
        self._fs.invalidate_cache()
        snap_dir = self.full_path(f"crawl-data/{safe_relative(snapshot, 'snapshot name', single=True)}")
        listing = posixpath.join(snap_dir, self.listing)
        if self._fs.exists(listing):
            with self._fs.open(listing, "rb") as fh:
                raw = fh.read()
            if raw[:2] == b"\x1f\x8b":
                raw = _gunzip(raw, MAX_LISTING_BYTES, self.url(posixpath.relpath(listing, self._root_path)))
            paths = [line.strip() for line in raw.decode("utf-8", errors="replace").splitlines() if line.strip()]
            for lineno, p in enumerate(paths, 1):
                try:
                    safe_relative(p, "listed path")
                except ValueError as exc:
                    raise type(exc)(f"{self.url(posixpath.relpath(listing, self._root_path))} line {lineno}: "
                                    f"{exc}") from None
            return self._describe(paths)
        if not self._fs.isdir(snap_dir):
            raise FileNotFoundError(f"snapshot {snapshot!r} not found under {self.root!r}")
        found = self._fs.find(snap_dir, detail=True)
        root_len = len(self._root_path.rstrip("/")) + 1
        files = []
        for full, info in sorted(found.items()):
            rel = full[root_len:]
            if file_kind(rel) in READABLE_KINDS:
                files.append(InputFile(rel, info.get("size"), _version(info)))
        return files

    def _describe(self, paths: list[str]) -> list[InputFile]:
        """Sizes and versions for listed paths, one directory listing per parent folder (not one HEAD per file)."""
        by_dir: dict[str, list[str]] = defaultdict(list)
        for p in paths:
            by_dir[posixpath.dirname(p)].append(p)
        out = []
        for d, members in by_dir.items():
            try:
                entries = self._fs.ls(self.full_path(d) if d else self._root_path, detail=True)
            except FileNotFoundError:
                entries = []
            infos = {posixpath.basename(e["name"].rstrip("/")): e for e in entries}
            for p in members:
                info = infos.get(posixpath.basename(p))
                out.append(InputFile(p, info.get("size") if info else None, _version(info) if info else "missing"))
        return out

    def files_by_shard(self, snapshot: str, num_shards: int) -> dict[str, list[InputFile]]:
        keys = shard_keys(num_shards)
        out: dict[str, list[InputFile]] = {k: [] for k in keys}
        for f in self.list_files(snapshot):
            out[keys[shard_index(f.path, num_shards)]].append(f)
        return out

    def open(self, relative: str, mode: str = "rb") -> io.IOBase:
        try:
            return self._fs.open(self.full_path(relative), mode)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"input file not found: {self.url(relative)}") from exc

    def local_path(self, relative: str) -> str | None:
        """The file's path on the local disk, when the root is local (native readers are faster on it)."""
        return self.full_path(relative) if self.is_local else None

    def checked_local_path(self, relative: str) -> str | None:
        """``local_path``, refused (ValueError naming the cause) when the file is a symbolic link that leads out of
        the crawl root or into a loop: a listing names files of the crawl, not whatever a link points at."""
        path = self.local_path(relative)
        if path is None:
            return None
        real = os.path.realpath(path)
        if real != os.path.abspath(path) or os.path.islink(path):  # a loop resolves to itself
            try:
                os.stat(path)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise ValueError("a loop of symbolic links") from None
                raise
            root = os.path.realpath(self._root_path)
            if os.path.commonpath([root, real]) != root:
                raise ValueError(f"a symbolic link to {real}, outside the crawl root")
        return path


MAX_LISTING_BYTES = 1 << 30  # a listing inflating past 1 GiB is refused (Common Crawl's are about 10 MB)


def _gunzip(raw: bytes, limit: int, url: str) -> bytes:
    """Inflate a gzip file (all members) in bounded memory; ValueError naming ``url`` past ``limit`` bytes."""
    out, data = [], raw
    total = 0
    while data:
        d = zlib.decompressobj(31)
        chunk = d.decompress(data, limit - total + 1)
        total += len(chunk)
        out.append(chunk)
        if total > limit or d.unconsumed_tail:
            raise ValueError(f"{url} inflates past {limit:,} bytes")
        data = d.unused_data.lstrip(b"\0") if d.eof else b""
    return b"".join(out)


def _version(info: dict | None) -> str:
    if not info:
        return "missing"
    for key in ("ETag", "etag", "md5Hash", "generation"):
        if info.get(key):
            return str(info[key]).strip('"')
    mtime = info.get("mtime") or info.get("LastModified") or info.get("last_modified") or ""
    if hasattr(mtime, "isoformat"):
        mtime = mtime.isoformat()
    return f"{info.get('size')}:{mtime}"
