"""Fingerprints of a shard's inputs: a table is up to date when its stored fingerprint equals the current one."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os


def digest(*parts: object) -> str:
    """Stable 32-hex digest of JSON-able parts (dataclasses are hashed field by field)."""
    h = hashlib.sha256()
    for p in parts:
        if dataclasses.is_dataclass(p) and not isinstance(p, type):
            p = {"__type__": type(p).__name__, **dataclasses.asdict(p)}
        h.update(json.dumps(p, sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


def file_identity(path: str) -> str:
    """Identity of a model file (path, size, mtime): a replaced model changes the fingerprint."""
    st = os.stat(path)
    return f"{os.path.abspath(path)}:{st.st_size}:{st.st_mtime_ns}"
