"""Exact, URL and MinHash near-duplicate detection with bounded memory, in three stages that fit the partitions.

1. ``signature_table`` (per shard): text and URL hashes and the LSH band keys of every document, and a
   *bucket file* beside it: for each band (and for the text and URL hashes) the shard's keys sorted,
   with the row each came from. Only a changed shard recomputes this.
2. ``find_clusters`` (per snapshot): for each band, the shards' sorted keys are merged from disk one
   key range at a time (memory-mapped files, a binary search per shard for each range's bounds), and
   documents with equal keys become edges; connected components over the edges (scipy) are the
   clusters. Memory is one key range (``chunk`` keys, 4M by default: 48 MB) plus a few int64 arrays of
   the snapshot's document count; never a dict of buckets.
3. ``decide`` keeps one document per cluster by a rule on the documents' attributes (not on the order
   of shards or rows, so any processing order gives the same result) and labels the rest with a reason.

Incremental cross-snapshot mode: every snapshot also writes an *index* (its distinct band and text
keys, sorted), and a snapshot is matched against the indexes of the earlier snapshots (by name:
``CC-MAIN-YYYY-WW`` sorts by date) without reading their documents again: a cluster with any member
matching an earlier snapshot is removed whole, since its copy was kept there.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from curation import schema
from curation.minhash import MinHashConfig, MinHasher

KEEP_RULES = ("longest", "first_fetched", "last_fetched", "lowest_id")
REASONS = ("exact_duplicate", "url_duplicate", "minhash_duplicate")
SCOPES = ("snapshot", "incremental")


@dataclass(frozen=True)
class DedupConfig:
    """What counts as a duplicate, which copy is kept, and over what scope.

    keep: ``longest`` (the most text; default - of near-copies, the most complete), ``first_fetched``,
    ``last_fetched`` or ``lowest_id``; ties always go to the lowest id, so the choice is deterministic.
    scope: ``snapshot`` (FineWeb: each snapshot on its own) or ``incremental`` (also against the
    indexes of earlier snapshots).
    """

    minhash: MinHashConfig = field(default_factory=MinHashConfig)
    exact: bool = True
    url: bool = True
    near: bool = True
    keep: str = "longest"
    scope: str = "snapshot"
    min_similarity: float = 0.7  # candidate pairs whose estimated Jaccard is below this are not linked (0: off)

    def __post_init__(self):
        if not 0.0 <= self.min_similarity <= 1.0:
            raise ValueError(f"min_similarity must lie in [0, 1], not {self.min_similarity!r}")
        if self.keep not in KEEP_RULES:
            raise ValueError(f"keep must be one of {KEEP_RULES}, not {self.keep!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, not {self.scope!r}")


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


# ----------------------------------------------------------------------------------------- clustering

@dataclass
class ShardInput:
    shard: str
    buckets: ArrayFile
    rows: int


@dataclass
class PriorIndex:
    snapshot: str
    index: ArrayFile


@dataclass
class Clusters:
    """The clusters of one snapshot, held only for documents that have a duplicate edge or flag.

    Documents are numbered globally (shards by key, then rows). ``nodes`` (sorted) are the documents in
    some edge and ``node_labels`` their component label (the smallest member). Flags are sorted index
    arrays: text / URL occurring twice, and matches against earlier snapshots (``prior_idx`` with the
    position in ``prior`` of the snapshot matched). Memory is proportional to duplicated documents, not to
    the snapshot.
    """

    shards: list[str]
    offsets: np.ndarray
    nodes: np.ndarray
    node_labels: np.ndarray
    text_repeated: np.ndarray
    url_repeated: np.ndarray
    prior_idx: np.ndarray
    prior_of: np.ndarray
    prior_exact: np.ndarray
    prior: list[str]
    edges: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    dropped: dict = field(default_factory=dict)  # candidate pairs per band dropped by the check

    @property
    def documents(self) -> int:
        return int(self.offsets[-1])

    def labels_of(self, idx: np.ndarray) -> np.ndarray:
        """Component label of each global index (a document in no edge is its own component)."""
        idx = np.asarray(idx, dtype=np.int64)
        if len(self.nodes) == 0:
            return idx.copy()
        pos = np.searchsorted(self.nodes, idx)
        pos[pos == len(self.nodes)] = 0
        hit = self.nodes[pos] == idx
        return np.where(hit, self.node_labels[pos], idx)


def _ranges(total: int, chunk: int) -> list[tuple[int, int | None]]:
    """Key ranges over uint64 [lo, hi) (hi None: to the end), about ``chunk`` keys each for uniform keys."""
    r = max(1, -(-total // chunk))
    bounds = [int(i * (2**64) // r) for i in range(r)]
    return [(bounds[i], bounds[i + 1] if i + 1 < r else None) for i in range(r)]


def _slice(keys: np.ndarray, lo: int, hi: int | None) -> tuple[int, int]:
    i0 = int(np.searchsorted(keys, np.uint64(lo), side="left")) if lo else 0
    i1 = int(np.searchsorted(keys, np.uint64(hi), side="left")) if hi is not None else len(keys)
    return i0, i1


def sorted_unique(a: np.ndarray) -> np.ndarray:
    """Distinct values, sorted (numpy 2's hash-based ``np.unique`` is several times slower on uint64 keys)."""
    a = np.sort(a)
    if len(a) < 2:
        return a
    keep = np.empty(len(a), dtype=bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


def _union(nodes: np.ndarray, labels: np.ndarray, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Components after adding edges (u, v) to the components given as (sorted nodes, label per node)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    new_nodes = sorted_unique(np.concatenate([nodes, u, v]))
    k = len(new_nodes)
    src = np.searchsorted(new_nodes, np.concatenate([u, nodes]))
    dst = np.searchsorted(new_nodes, np.concatenate([v, labels]))
    graph = coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(k, k))
    _, comp = connected_components(graph, directed=False)
    rep = np.full(comp.max() + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(rep, comp, new_nodes)
    return new_nodes, rep[comp]


def find_clusters(shards: list[ShardInput], config: DedupConfig, prior: list[PriorIndex] = (),
                  chunk: int = 4_000_000) -> Clusters:
    import time

    shards = sorted(shards, key=lambda s: s.shard)
    n_bands = config.minhash.num_buckets
    for s in shards:
        if s.buckets.meta.get("n_bands") != n_bands:
            raise ValueError(f"{s.buckets.path}: {s.buckets.meta.get('n_bands')} bands, the configuration has "
                             f"{n_bands}: recompute the signatures")
    offsets = np.concatenate([[0], np.cumsum([s.rows for s in shards])]).astype(np.int64)
    nodes = np.empty(0, dtype=np.int64)
    labels = np.empty(0, dtype=np.int64)
    repeated = {"text": [], "url": []}
    prior_hits: list[tuple[np.ndarray, int]] = []
    prior_exact = []
    edges, seconds, dropped = {}, {}, {}
    for k, kind in enumerate(kinds(n_bands)):
        t0 = time.perf_counter()
        is_band = k < n_bands
        link = (config.near if is_band else config.exact if kind == "text" else config.url)
        check_prior = bool(prior) and (config.near if is_band else (config.exact and kind == "text"))
        key_arrays = [s.buckets[f"{kind}.keys"] for s in shards]
        row_arrays = [s.buckets[f"{kind}.rows"] for s in shards]
        n_keys = sum(len(a) for a in key_arrays)
        us, vs = [], []
        for lo, hi in _ranges(n_keys, chunk):
            parts_k, parts_g = [], []
            for i, (ka, ra) in enumerate(zip(key_arrays, row_arrays)):
                i0, i1 = _slice(ka, lo, hi)
                if i1 > i0:
                    parts_k.append(np.asarray(ka[i0:i1]))
                    parts_g.append(np.asarray(ra[i0:i1]).astype(np.int64) + offsets[i])
            if not parts_k:
                continue
            keys = np.concatenate(parts_k)
            gidx = np.concatenate(parts_g)
            if check_prior:
                for p, pi in enumerate(prior):
                    name = f"{kind}.keys"
                    pk = pi.index[name] if name in pi.index else np.empty(0, np.uint64)
                    if len(pk) == 0:
                        continue
                    pos = np.searchsorted(pk, keys)
                    pos[pos == len(pk)] = 0
                    hit = pk[pos] == keys
                    if hit.any():
                        prior_hits.append((gidx[hit], p))
                        if kind == "text":
                            prior_exact.append(gidx[hit])
            order = np.argsort(keys, kind="stable")
            keys, gidx = keys[order], gidx[order]
            same = keys[1:] == keys[:-1]
            if not same.any():
                continue
            if not is_band:
                repeated[kind].append(gidx[1:][same])
                repeated[kind].append(gidx[:-1][same])
            if link:
                us.append(gidx[:-1][same])
                vs.append(gidx[1:][same])
                if is_band and config.min_similarity > 0:  # also each member to its bucket's first: a chain
                    first = np.maximum.accumulate(np.where(np.concatenate(([True], ~same)),  # cut by one dissimilar
                                                           np.arange(len(keys)), 0))        # member still links
                    star = np.flatnonzero(np.arange(len(keys)) - first >= 2)
                    us.append(gidx[first[star]])
                    vs.append(gidx[star])
        if us:
            u, v = np.concatenate(us), np.concatenate(vs)
            if is_band and config.min_similarity > 0:
                u, v, dropped[kind] = check_candidates(shards, offsets, u, v, config)
            edges[kind] = len(u)
            if len(u):
                nodes, labels = _union(nodes, labels, u, v)
        seconds[kind] = time.perf_counter() - t0

    def flags(parts):
        return sorted_unique(np.concatenate(parts)) if parts else np.empty(0, np.int64)

    if prior_hits:  # the latest earlier snapshot matched, per document
        idx = np.concatenate([h for h, _ in prior_hits])
        snap = np.concatenate([np.full(len(h), p, dtype=np.int32) for h, p in prior_hits])
        order = np.lexsort((-snap, idx))
        idx, snap = idx[order], snap[order]
        first = np.concatenate(([True], idx[1:] != idx[:-1]))
        prior_idx, prior_of = idx[first], snap[first]
    else:
        prior_idx, prior_of = np.empty(0, np.int64), np.empty(0, np.int32)
    return Clusters([s.shard for s in shards], offsets, nodes, labels, flags(repeated["text"]),
                    flags(repeated["url"]), prior_idx, prior_of, flags(prior_exact), [p.snapshot for p in prior],
                    edges, seconds, dropped)


def check_candidates(shards: list[ShardInput], offsets: np.ndarray, u: np.ndarray, v: np.ndarray,
                     config: DedupConfig, step: int = 65536) -> tuple[np.ndarray, np.ndarray, int]:
    """The candidate pairs (u, v) whose estimated Jaccard (share of equal MinHash values) reaches
    ``config.min_similarity``, and how many were dropped. Signatures are read from the bucket files'
    memory maps for the pairs' rows only, ``step`` pairs at a time (2 x 448 bytes each at 112 hashes)."""
    h = config.minhash.num_hashes
    sigs = []
    for s in shards:
        if "minhash" not in s.buckets:
            raise ValueError(f"{s.buckets.path}: no MinHash signatures stored (written before the candidate check "
                             f"existed): rematerialise minhash_signatures for shard {s.shard}")
        sigs.append(s.buckets["minhash"].reshape(-1, h) if s.rows else np.empty((0, h), np.uint32))

    def gather(idx: np.ndarray) -> np.ndarray:
        out = np.empty((len(idx), h), dtype=np.uint32)
        shard = np.searchsorted(offsets, idx, side="right") - 1
        for i in np.unique(shard):
            sel = shard == i
            rows = idx[sel] - offsets[i]
            order = np.argsort(rows)  # ascending rows: sequential reads of the memory map
            out[np.flatnonzero(sel)[order]] = sigs[i][rows[order]]
        return out

    keep = np.empty(len(u), dtype=bool)
    for lo in range(0, len(u), step):
        same = gather(u[lo:lo + step]) == gather(v[lo:lo + step])
        keep[lo:lo + step] = same.sum(axis=1) >= config.min_similarity * h
    return u[keep], v[keep], int(len(u) - keep.sum())


def write_index(path: str, shards: list[ShardInput], n_bands: int, fingerprint: str, snapshot: str,
                chunk: int = 4_000_000) -> None:
    """The snapshot's distinct band and text keys, sorted, for later snapshots in incremental mode."""
    w = ArrayFileWriter(path, {"fingerprint": fingerprint, "snapshot": snapshot, "n_bands": n_bands})
    try:
        for kind in kinds(n_bands)[:-1]:  # bands and text; a URL seen again later may carry new content
            key_arrays = [s.buckets[f"{kind}.keys"] for s in shards]
            w.begin(f"{kind}.keys", np.uint64)
            for lo, hi in _ranges(sum(len(a) for a in key_arrays), chunk):
                parts = [np.asarray(ka[slice(*_slice(ka, lo, hi))]) for ka in key_arrays]
                if parts:
                    w.append(sorted_unique(np.concatenate(parts)))
        w.close()
    except BaseException:
        w.abort()
        raise


# ------------------------------------------------------------------------------------------- decisions

def decide(clusters: Clusters, attributes, config: DedupConfig) -> pa.Table:
    """CLUSTER_MEMBERS rows for every document in a cluster of two or more or matching an earlier snapshot.

    ``attributes(shard)`` (or ``attributes[shard]``) gives the shard's id, text_chars and fetch_date
    columns; it is asked for one shard at a time, only for shards with cluster members, and only the
    members' rows are kept.
    """
    import polars as pl

    members = sorted_unique(np.concatenate([clusters.nodes, clusters.prior_idx]))
    if len(members) == 0:
        return schema.empty(schema.CLUSTER_MEMBERS)
    labels = clusters.labels_of(members)
    by_label = np.sort(clusters.node_labels)
    sizes = np.maximum(np.searchsorted(by_label, labels, side="right") - np.searchsorted(by_label, labels), 1)
    prior_of = np.full(len(members), -1, dtype=np.int32)
    if len(clusters.prior_idx):  # a cluster with a member seen in an earlier snapshot goes whole
        flagged_labels = clusters.labels_of(clusters.prior_idx)
        order = np.lexsort((-clusters.prior_of, flagged_labels))
        fl, fp = flagged_labels[order], clusters.prior_of[order]
        first = np.concatenate(([True], fl[1:] != fl[:-1]))
        fl, fp = fl[first], fp[first]
        pos = np.clip(np.searchsorted(fl, labels), 0, len(fl) - 1)
        prior_of = np.where(fl[pos] == labels, fp[pos], -1).astype(np.int32)

    def flag(sorted_idx: np.ndarray, idx: np.ndarray) -> np.ndarray:
        if len(sorted_idx) == 0:
            return np.zeros(len(idx), dtype=bool)
        pos = np.clip(np.searchsorted(sorted_idx, idx), 0, len(sorted_idx) - 1)
        return sorted_idx[pos] == idx

    frames = []
    for i, shard in enumerate(clusters.shards):
        lo, hi = clusters.offsets[i], clusters.offsets[i + 1]
        sel = members[(members >= lo) & (members < hi)]
        if len(sel) == 0:
            continue
        table = attributes(shard) if callable(attributes) else attributes[shard]
        t = table.select(["id", "text_chars", "fetch_date"]).take(pa.array(sel - lo))
        del table
        frames.append(pl.from_arrow(t).with_columns(pl.lit(shard).alias("shard"),
                                                    pl.Series("g", sel, dtype=pl.Int64)))
    df = pl.concat(frames)
    g = df["g"].to_numpy()
    at = np.searchsorted(members, g)  # frames follow the order of ``members``, but be explicit
    df = df.with_columns(
        pl.Series("label", labels[at], dtype=pl.Int64),
        pl.Series("cluster_size", sizes[at], dtype=pl.Int32),
        pl.Series("prior", prior_of[at], dtype=pl.Int32),
        pl.Series("text_rep", flag(clusters.text_repeated, g)),
        pl.Series("url_rep", flag(clusters.url_repeated, g)),
        pl.Series("prior_exact", flag(clusters.prior_exact, g)),
    )
    order = {"longest": [pl.col("text_chars").neg()], "first_fetched": [pl.col("fetch_date")],
             "last_fetched": [pl.col("fetch_date").dt.epoch("ms").neg()], "lowest_id": []}[config.keep]
    df = df.sort(["label", *order, "id"], nulls_last=True)
    df = df.with_columns(pl.col("id").first().over("label").alias("cluster_id"),
                         (pl.int_range(pl.len()).over("label") == 0).alias("first"))
    keep = pl.col("first") & (pl.col("prior") < 0)
    exact = (pl.col("text_rep") & config.exact) | (pl.col("prior_exact") & (pl.col("prior") >= 0))
    reason = (pl.when(keep).then(None)
              .when(exact).then(pl.lit("exact_duplicate"))
              .when(pl.col("url_rep") & config.url & (pl.col("prior") < 0)).then(pl.lit("url_duplicate"))
              .otherwise(pl.lit("minhash_duplicate")))
    out = df.select(
        "id", "shard", keep.alias("keep"), reason.alias("reason"),
        pl.when(pl.col("cluster_size") > 1).then(pl.col("cluster_id")).alias("cluster_id"),
        "cluster_size",
        pl.col("prior").replace_strict(dict(enumerate(clusters.prior)), default=None,
                                       return_dtype=pl.String).alias("matched_snapshot"),
    ).sort(["shard", "id"])
    return out.to_arrow().cast(schema.CLUSTER_MEMBERS)


def shard_decisions(ids: pa.Array | pa.ChunkedArray, members: pa.Table) -> pa.Table:
    """A shard's full DEDUP table: every document kept with cluster size 1 unless ``members`` says otherwise."""
    import polars as pl

    base = pl.DataFrame({"id": pl.Series(ids.to_pylist() if not isinstance(ids, pl.Series) else ids,
                                         dtype=pl.String)})
    m = pl.from_arrow(members.select(["id", "keep", "reason", "cluster_id", "cluster_size", "matched_snapshot"]))
    if m.height == 0:
        m = pl.DataFrame(schema={"id": pl.String, "keep": pl.Boolean, "reason": pl.String,
                                 "cluster_id": pl.String, "cluster_size": pl.Int32, "matched_snapshot": pl.String})
    out = base.join(m, on="id", how="left", maintain_order="left").with_columns(
        pl.col("keep").fill_null(True), pl.col("cluster_size").fill_null(1).cast(pl.Int32))
    return out.to_arrow().cast(schema.DEDUP)


def cluster_histogram(members: pa.Table) -> dict[str, int]:
    """Clusters by size bucket (2, 3-4, 5-9, 10-99, 100+), counting each cluster once."""
    import polars as pl

    df = pl.from_arrow(members.select(["cluster_id", "cluster_size"])).drop_nulls("cluster_id").unique("cluster_id")
    edges = [(2, 2, "2"), (3, 4, "3-4"), (5, 9, "5-9"), (10, 99, "10-99"), (100, 2**31, "100+")]
    sizes = df["cluster_size"].to_numpy() if df.height else np.zeros(0)
    return {name: int(((sizes >= a) & (sizes <= b)).sum()) for a, b, name in edges}


_HASHERS: dict[MinHashConfig, MinHasher] = {}


def hasher(config: MinHashConfig) -> MinHasher:
    """One MinHasher per configuration and process (it caches word hashes)."""
    if config not in _HASHERS:
        _HASHERS[config] = MinHasher(config)
    return _HASHERS[config]


def run_local(shard_docs: dict[str, pa.Table], config: DedupConfig, workdir: str, prior: list[PriorIndex] = (),
              chunk: int = 4_000_000) -> tuple[pa.Table, Clusters, list[ShardInput]]:
    """The three stages on in-memory documents tables (id, url, text, fetch_date) with files in ``workdir``:
    for tests, benchmarks and notebooks. Returns the CLUSTER_MEMBERS table, the clusters and the inputs."""
    h = hasher(config.minhash)
    inputs, attrs = [], {}
    for shard, docs in shard_docs.items():
        table = signature_table(docs, h)
        path = os.path.join(workdir, f"{shard}.buckets")
        write_buckets(path, table, config.minhash.num_buckets, "local")
        inputs.append(ShardInput(shard, ArrayFile(path), table.num_rows))
        attrs[shard] = table
    clusters = find_clusters(inputs, config, prior, chunk=chunk)
    return decide(clusters, attrs, config), clusters, inputs
