"""Per-shard dedup keys: normalised text and URL hashes and the LSH band keys of every document
(``signature_table``), stage 1 of ``curation.dedup``."""

from __future__ import annotations
import re
import unicodedata
from urllib.parse import urlsplit, urlunsplit
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash
from curation.core import tables as schema
from curation.dedup.minhash import MinHasher


# ---------------------------------------------------------------------------------------------- hashes

_WS = re.compile(r"\s+")


def text_key(text: str) -> str:
    """What exact dedup compares: NFC text with whitespace runs collapsed and the ends stripped."""
    return _WS.sub(" ", unicodedata.normalize("NFC", text)).strip()


def normalize_url(url: str) -> str:
    """Scheme and host lower-cased, default port, fragment and trailing slash of the path dropped."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((scheme, host, path, parts.query, ""))


def hash64(s: str) -> int:
    h = xxhash.xxh3_64_intdigest(s.encode("utf-8", "surrogatepass"))
    return h or 1  # 0 is reserved for "no value"


#: documents per pool task (whole batches of 512), and the fewest a worker is worth spawning for
ROWS_PER_TASK = 2048
MIN_ROWS_PER_WORKER = 4096


def _signature_rows(h: MinHasher, item) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A pool task: signatures, n-gram counts, URL and text hashes of one slice of a shard."""
    texts, urls, batch_size = item
    sigs, counts = h.signatures(texts, batch_size=batch_size)
    url_hash = np.array([hash64(normalize_url(u)) if u else 0 for u in urls], dtype=np.uint64)
    text_hash = np.array([hash64(k) if (k := text_key(t)) else 0 for t in texts], dtype=np.uint64)
    return sigs, counts, url_hash, text_hash


def signature_table(docs: pa.Table, hasher: MinHasher, batch_size: int = 512, workers: int | None = None) -> pa.Table:
    """One SIGNATURES row per document (columns id, url, text, fetch_date of the documents table).

    Slices of ROWS_PER_TASK documents are hashed in a pool of worker processes (``curation.core.pool``:
    ``workers``, else the cores this process may use); every value depends on its own document only, so the
    table is the same whatever the worker count."""
    from curation.core.pool import ShardPool, row_slices, workers_for

    n = workers_for(len(row_slices(docs.num_rows, ROWS_PER_TASK)), docs.num_rows, MIN_ROWS_PER_WORKER, workers)
    slices = row_slices(docs.num_rows, ROWS_PER_TASK, n)  # small shard: smaller slices
    text_col, url_col = docs.column("text"), docs.column("url")
    with ShardPool(MinHasher, (hasher.config,), n, name="MinHash signatures", local=hasher) as pool:
        parts = pool.map(_signature_rows, slices, prepare=lambda s: (text_col.slice(*s).to_pylist(),
                                                                     url_col.slice(*s).to_pylist(), batch_size))
    n_h, n_bands, n_docs = hasher.config.num_hashes, hasher.config.num_buckets, docs.num_rows
    if parts:
        sigs, counts, url_hash, text_hash = (np.concatenate([p[i] for p in parts]) for i in range(4))
    else:
        sigs, counts = np.empty((0, n_h), np.uint32), np.zeros(0, np.int64)
        url_hash = text_hash = np.zeros(0, np.uint64)
    bands = hasher.band_keys(sigs)
    band_list = pa.ListArray.from_arrays(pa.array(np.arange(0, (n_docs + 1) * n_bands, n_bands, dtype=np.int32)),
                                         pa.array(bands.reshape(-1), type=pa.uint64()))
    table = pa.table({
        "id": docs.column("id"),
        "url_hash": pa.array(url_hash, type=pa.uint64()),
        "text_hash": pa.array(text_hash, type=pa.uint64()),
        "n_shingles": pa.array(counts.astype(np.int32)),
        "text_chars": pc.utf8_length(docs.column("text")).cast(pa.int64()),
        "fetch_date": docs.column("fetch_date"),
        "bands": band_list,
        "minhash": pa.ListArray.from_arrays(
            pa.array(np.arange(0, (n_docs + 1) * n_h, n_h, dtype=np.int32)),
            pa.array(sigs.reshape(-1), type=pa.uint32())),
    })
    return table.cast(schema.SIGNATURES)
