"""One check for every name that becomes part of a path: partition keys, mixture names, listing entries.

Snapshot and shard keys come from a crawl listing or a user (dynamic partitions), mixture names from a YAML
file, listing lines from a file on the crawl's server: none of them may lead outside the crawl root or the
output base. :func:`safe_relative` refuses, with a one-line error, anything that is not a plain relative path.
"""

from __future__ import annotations

import re

_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


class UnsafeNameError(ValueError):
    """A name or path that would lead outside its folder (or is not a plain name)."""


def safe_relative(path: str, what: str, single: bool = False) -> str:
    """``path`` unchanged when it is a relative path that stays inside its folder, else UnsafeNameError.

    Refused: empty, absolute (``/x``, ``C:``, ``s3://``), a ``..`` or ``.`` segment, an empty segment (``a//b``),
    backslashes and control characters; with ``single``, any ``/`` (a partition key or mixture name is one
    folder name).
    """
    if not isinstance(path, str) or not path:
        raise UnsafeNameError(f"{what} must be a non-empty name, got {path!r}")
    if _BAD_CHARS.search(path):
        raise UnsafeNameError(f"{what} {path!r} holds a backslash or a control character")
    if path.startswith("/") or _SCHEME.match(path):
        raise UnsafeNameError(f"{what} {path!r} is absolute: it must be relative to its folder")
    parts = path.split("/")
    if single and len(parts) > 1:
        raise UnsafeNameError(f"{what} {path!r} must be a single name without '/'")
    if any(p in ("", ".", "..") for p in parts):
        raise UnsafeNameError(f"{what} {path!r} has an empty, '.' or '..' segment: it could leave its folder")
    return path
