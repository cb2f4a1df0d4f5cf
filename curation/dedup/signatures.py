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


def signature_table(docs: pa.Table, hasher: MinHasher, batch_size: int = 512) -> pa.Table:
    """One SIGNATURES row per document (columns id, url, text, fetch_date of the documents table)."""
    texts = docs.column("text").to_pylist()
    urls = docs.column("url").to_pylist()
    sigs, counts = hasher.signatures(texts, batch_size=batch_size)
    bands = hasher.band_keys(sigs)
    n_bands = hasher.config.num_buckets
    band_list = pa.ListArray.from_arrays(pa.array(np.arange(0, (len(texts) + 1) * n_bands, n_bands, dtype=np.int32)),
                                         pa.array(bands.reshape(-1), type=pa.uint64()))
    table = pa.table({
        "id": docs.column("id"),
        "url_hash": pa.array([hash64(normalize_url(u)) if u else 0 for u in urls], type=pa.uint64()),
        "text_hash": pa.array([hash64(k) if (k := text_key(t)) else 0 for t in texts], type=pa.uint64()),
        "n_shingles": pa.array(counts.astype(np.int32)),
        "text_chars": pc.utf8_length(docs.column("text")).cast(pa.int64()),
        "fetch_date": docs.column("fetch_date"),
        "bands": band_list,
        "minhash": pa.ListArray.from_arrays(
            pa.array(np.arange(0, (len(texts) + 1) * sigs.shape[1], sigs.shape[1], dtype=np.int32)),
            pa.array(sigs.reshape(-1), type=pa.uint32())),
    })
    return table.cast(schema.SIGNATURES)
