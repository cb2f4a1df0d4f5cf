"""Bucket files: a shard's sorted band, text and URL keys with the row each came from, in one
memory-mappable array file (a JSON header, then raw arrays)."""

from __future__ import annotations
import json
import os
import uuid
import numpy as np
import pyarrow as pa


# ------------------------------------------------------------------------------------- raw array files

_MAGIC = b"CURATION-ARRAYS1"
_HEADER = 65536  # bytes reserved for the JSON header


class ArrayFileWriter:
    """Named 1-D numpy arrays in one file, memory-mappable; written to a temporary name, renamed at close."""

    def __init__(self, path: str, meta: dict):
        self.path = path
        self.tmp = f"{path}.tmp-{uuid.uuid4().hex}"
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.fh = open(self.tmp, "wb")
        self.fh.write(b"\0" * _HEADER)
        self.arrays: dict[str, dict] = {}
        self.meta = meta
        self._open: str | None = None

    def add(self, name: str, array: np.ndarray) -> None:
        self.begin(name, array.dtype)
        self.append(array)

    def begin(self, name: str, dtype) -> None:
        self._open = name
        self.arrays[name] = {"dtype": np.dtype(dtype).str, "offset": self.fh.tell(), "length": 0}

    def append(self, array: np.ndarray) -> None:
        entry = self.arrays[self._open]
        array = np.ascontiguousarray(array, dtype=entry["dtype"])
        self.fh.write(array.tobytes())
        entry["length"] += len(array)

    def close(self) -> None:
        header = json.dumps({"meta": self.meta, "arrays": self.arrays}).encode()
        if len(header) + len(_MAGIC) + 8 > _HEADER:
            raise ValueError(f"header of {self.path} too large")
        self.fh.seek(0)
        self.fh.write(_MAGIC + len(header).to_bytes(8, "little") + header)
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.fh.close()
        if os.path.exists(self.tmp):
            os.remove(self.tmp)


class ArrayFile:
    """A file written by ArrayFileWriter: ``meta`` and memory-mapped arrays by name."""

    def __init__(self, path: str):
        self.path = path
        with open(path, "rb") as fh:
            head = fh.read(len(_MAGIC) + 8)
            if len(head) < len(_MAGIC) + 8 or head[:len(_MAGIC)] != _MAGIC:
                raise ValueError(f"{path}: not a curation array file (bad magic)")
            header = json.loads(fh.read(int.from_bytes(head[len(_MAGIC):], "little")))
        self.meta = header["meta"]
        self._arrays = header["arrays"]
        size = os.path.getsize(path)
        for name, a in self._arrays.items():
            end = a["offset"] + a["length"] * np.dtype(a["dtype"]).itemsize
            if end > size:
                raise ValueError(f"{path}: array {name} ends at byte {end} but the file has {size} (truncated)")

    def __getitem__(self, name: str) -> np.ndarray:
        a = self._arrays[name]
        if a["length"] == 0:
            return np.empty(0, dtype=a["dtype"])
        return np.memmap(self.path, dtype=a["dtype"], mode="r", offset=a["offset"], shape=(a["length"],))

    def __contains__(self, name: str) -> bool:
        return name in self._arrays


def kinds(n_bands: int) -> list[str]:
    """The key kinds of a bucket file: one per band, then the exact-text and URL hashes."""
    return [f"band{b:02d}" for b in range(n_bands)] + ["text", "url"]


def write_buckets(path: str, table: pa.Table, n_bands: int, fingerprint: str) -> None:
    """Per key kind, the shard's keys sorted, with their row numbers (documents without words or URL skipped)."""
    n = table.num_rows
    bands = (table.column("bands").combine_chunks().flatten().to_numpy().reshape(n, n_bands)
             if n else np.empty((0, n_bands), np.uint64))
    sigs = table.column("minhash").combine_chunks().flatten().to_numpy() if n else np.empty(0, np.uint32)
    write_bucket_arrays(path, bands, table.column("text_hash").to_numpy(), table.column("url_hash").to_numpy(),
                        table.column("n_shingles").to_numpy() > 0, fingerprint, sigs)


def write_bucket_arrays(path: str, bands: np.ndarray, text_hash: np.ndarray, url_hash: np.ndarray,
                        has_words: np.ndarray, fingerprint: str, signatures: np.ndarray | None = None) -> None:
    """``signatures``: the shard's MinHash values, row after row (rows x hashes, flattened), for the candidate
    check; stored whole, read back only for the rows of candidate pairs."""
    n, n_bands = bands.shape
    w = ArrayFileWriter(path, {"fingerprint": fingerprint, "rows": n, "n_bands": n_bands})
    try:
        if signatures is not None:
            w.add("minhash", np.asarray(signatures, dtype=np.uint32).reshape(-1))
        for k, name in enumerate(kinds(n_bands)):
            if k < n_bands:
                keys, valid = bands[:, k], has_words
            else:
                keys = text_hash if name == "text" else url_hash
                valid = keys != 0
            rows = np.flatnonzero(valid).astype(np.uint32)
            keys = keys[rows]
            order = np.argsort(keys, kind="stable")
            w.add(f"{name}.keys", keys[order])
            w.add(f"{name}.rows", rows[order])
        w.close()
    except BaseException:
        w.abort()
        raise
