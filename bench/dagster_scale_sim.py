"""Helpers of bench/dagster_scale.py: a simulated Common Crawl root (an fsspec filesystem) and the UI's GraphQL.

``SimCrawlFS`` (protocol ``simcrawl://``) answers what ``curation.sources.CrawlSource`` asks of S3: the
``crawl-data/`` folder, each snapshot's gzipped ``warc.paths.gz`` (paths laid out like Common Crawl's:
100 segments of 900 WARC files for 90,000 files) and, per segment folder, one listing with each file's size
and ETag, as s3fs returns them from one ListObjectsV2 call. Nothing is stored: names, sizes and ETags are
derived from the path, so a listing costs CPU only (no network). ``replace(path)`` gives one file a new ETag,
as an upload of a new copy of it would.

``ui_query(name)`` returns the GraphQL document the installed dagster-webserver's UI sends for ``name``
(read from its JavaScript bundle, fragments included), so the bench times the UI's own queries.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import io
import json
import os
import re
import zlib
from typing import ClassVar

from fsspec import AbstractFileSystem, register_implementation

SEGMENTS = 100
ROOT = "cc"  # the bench's crawl root is simcrawl://cc


def snapshot_names(n: int) -> list[str]:
    """n Common-Crawl-like snapshot names, four a year from 2013 (CC-MAIN-2013-05 ...)."""
    return [f"CC-MAIN-{2013 + i // 4}-{5 + 13 * (i % 4):02d}" for i in range(n)]


class SimCrawlFS(AbstractFileSystem):
    protocol = "simcrawl"
    snapshots: ClassVar[list[str]] = []
    files_per_snapshot = 90_000
    generation: ClassVar[dict[str, int]] = {}  # path -> replacement count (its ETag changes with it)
    calls: ClassVar[dict[str, int]] = {"list": 0, "get": 0}  # S3 requests a real bucket would have served

    @classmethod
    def _strip_protocol(cls, path):
        path = (path.removeprefix("simcrawl://")).strip("/")
        return path[len(ROOT):].strip("/") if path == ROOT or path.startswith(ROOT + "/") else path

    def _segments(self, snap: str) -> list[str]:
        return [f"crawl-data/{snap}/segments/17{zlib.crc32(snap.encode()) % 10**6:06d}{i:02d}.{i:02d}"
                for i in range(min(SEGMENTS, self.files_per_snapshot))]

    def _files(self, segment: str) -> list[str]:
        snap = segment.split("/")[1]
        per = -(-self.files_per_snapshot // SEGMENTS)
        i0 = int(segment[-2:]) * per
        return [f"{segment}/warc/{snap}-2025{i:08d}-{i:05d}.warc.gz"
                for i in range(i0, min(i0 + per, self.files_per_snapshot))]

    def _info(self, path: str) -> dict:
        h = hashlib.md5(f"{path}#{self.generation.get(path, 0)}".encode()).hexdigest()
        return {"name": path, "type": "file", "size": 1_000_000_000 + int(h[:6], 16), "ETag": f'"{h}"'}

    def ls(self, path, detail=True, **kwargs):
        path = self._strip_protocol(path)
        self.calls["list"] += 1
        parts = path.split("/")
        if path == "crawl-data":
            out = [{"name": f"crawl-data/{s}", "type": "directory", "size": 0} for s in self.snapshots]
        elif len(parts) == 5 and parts[2] == "segments" and parts[4] == "warc":
            out = [self._info(p) for p in self._files("/".join(parts[:4]))]
        else:
            raise FileNotFoundError(path)
        return out if detail else [e["name"] for e in out]

    def isdir(self, path):
        parts = self._strip_protocol(path).split("/")
        return parts == ["crawl-data"] or (len(parts) == 2 and parts[1] in self.snapshots)

    def exists(self, path, **kwargs):
        path = self._strip_protocol(path)
        return self.isdir(path) or (path.endswith("/warc.paths.gz") and path.split("/")[1] in self.snapshots)

    def _open(self, path, mode="rb", **kwargs):
        path = self._strip_protocol(path)
        self.calls["get"] += 1
        snap = path.split("/")[1]
        lines = [p for seg in self._segments(snap) for p in self._files(seg)]
        return io.BytesIO(gzip.compress("\n".join(lines).encode(), compresslevel=1))

    def replace(self, path: str) -> None:
        self.generation[path] = self.generation.get(path, 0) + 1

    def some_file(self, snap: str) -> str:
        return self._files(self._segments(snap)[0])[0]


register_implementation("simcrawl", SimCrawlFS, clobber=True)


def _ui_definitions() -> dict:
    import dagster_webserver

    build = os.path.join(os.path.dirname(dagster_webserver.__file__), "webapp/build/_next/static/chunks")
    defs: dict = {}
    literal = re.compile(r'"((?:[^"\\]|\\.)*?(?:query|fragment|mutation) [A-Za-z]+(?:[^"\\]|\\.)*)"')
    for f in sorted(glob.glob(os.path.join(build, "*.js"))):
        with open(f, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        for m in literal.finditer(text):
            try:
                s = json.loads(f'"{m.group(1)}"')
            except ValueError:
                continue
            for d in re.finditer(r"\b(query|fragment|mutation) ([A-Za-z0-9_]+)", s):
                i, depth = s.find("{", d.end()), 0
                for j in range(i, len(s)):
                    depth += (s[j] == "{") - (s[j] == "}")
                    if depth == 0:
                        defs.setdefault((d.group(1), d.group(2)), s[d.start():j + 1])
                        break
    return defs


_UI: dict = {}


def ui_query(name: str, kind: str = "query") -> str:
    """The UI's GraphQL document ``name`` with every fragment it uses."""
    if not _UI:
        _UI.update(_ui_definitions())
    if (kind, name) not in _UI:
        raise KeyError(f"{kind} {name} not found in dagster-webserver's UI bundle")
    out, need, seen = [_UI[(kind, name)]], set(re.findall(r"\.\.\.([A-Za-z0-9_]+)", _UI[(kind, name)])), set()
    while need:
        n = need.pop()
        if n not in seen:
            seen.add(n)
            out.append(_UI[("fragment", n)])
            need |= set(re.findall(r"\.\.\.([A-Za-z0-9_]+)", _UI[("fragment", n)]))
    return "\n".join(out)
