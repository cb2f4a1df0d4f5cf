"""Stage 2 of ``curation.dedup``: clusters of one snapshot from every shard's bucket files, merged one key range
at a time, each kind (band) in its own pool task, with connected components; the cross-snapshot index."""

from __future__ import annotations
import time
from dataclasses import dataclass, field
import numpy as np
from curation.dedup.arrays import ArrayFile, ArrayFileWriter, kinds
from curation.dedup.config import DedupConfig

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


#: a snapshot with fewer documents than this per worker clusters in fewer processes (a worker costs a second)
MIN_DOCS_PER_WORKER = 1_000_000


@dataclass
class _KindPart:
    """One kind's (a band's, the text or URL hashes') edge components, repeated keys and prior matches."""
    kind: str
    nodes: np.ndarray
    labels: np.ndarray
    repeated: list
    prior_hits: list
    prior_exact: list
    edges: int | None
    dropped: int | None
    seconds: float


class _Snapshot:
    """A clustering worker's view of the bucket files (and earlier snapshots' indexes), opened once."""
    def __init__(self, names: list[str], paths: list[str], rows: list[int], config: DedupConfig,
                 prior_paths: list[str], chunk: int):
        self.shards = [ShardInput(n, ArrayFile(p), r) for n, p, r in zip(names, paths, rows)]
        self.prior = [PriorIndex(str(i), ArrayFile(p)) for i, p in enumerate(prior_paths)]
        self.config, self.chunk = config, chunk
        self.offsets = np.concatenate([[0], np.cumsum(rows)]).astype(np.int64)


def _kind_part(snap: _Snapshot, k: int) -> _KindPart:
    """One kind's keys merged from every shard one key range at a time; its edges (after the candidate check,
    for a band) reduced to components. Kinds are independent of each other until the union."""
    t0 = time.perf_counter()
    config, shards, offsets, prior = snap.config, snap.shards, snap.offsets, snap.prior
    n_bands = config.minhash.num_buckets
    kind = kinds(n_bands)[k]
    is_band = k < n_bands
    link = (config.near if is_band else config.exact if kind == "text" else config.url)
    check_prior = bool(prior) and (config.near if is_band else (config.exact and kind == "text"))
    key_arrays = [s.buckets[f"{kind}.keys"] for s in shards]
    row_arrays = [s.buckets[f"{kind}.rows"] for s in shards]
    n_keys = sum(len(a) for a in key_arrays)
    us, vs, repeated, prior_hits, prior_exact = [], [], [], [], []
    for lo, hi in _ranges(n_keys, snap.chunk):
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
            repeated += [gidx[1:][same], gidx[:-1][same]]
        if link:
            us.append(gidx[:-1][same])
            vs.append(gidx[1:][same])
            if is_band and config.min_similarity > 0:  # also each member to its bucket's first: a chain
                first = np.maximum.accumulate(np.where(np.concatenate(([True], ~same)),  # cut by one dissimilar
                                                       np.arange(len(keys)), 0))        # member still links
                star = np.flatnonzero(np.arange(len(keys)) - first >= 2)
                us.append(gidx[first[star]])
                vs.append(gidx[star])
    nodes = labels = np.empty(0, dtype=np.int64)
    n_edges = dropped = None  # set for the kinds with candidate pairs only
    if us:
        u, v = np.concatenate(us), np.concatenate(vs)
        if is_band and config.min_similarity > 0:
            u, v, dropped = check_candidates(shards, offsets, u, v, config)
        n_edges = len(u)
        if len(u):
            nodes, labels = _union(nodes, labels, u, v)
    return _KindPart(kind, nodes, labels, repeated, prior_hits, prior_exact, n_edges, dropped, time.perf_counter() - t0)


def find_clusters(shards: list[ShardInput], config: DedupConfig, prior: list[PriorIndex] = (),
                  chunk: int = 4_000_000, workers: int | None = None) -> Clusters:
    """The snapshot's clusters. Each kind (every band, the text and the URL hashes) is merged on its own, in a
    pool of worker processes (``curation.core.pool``: ``workers``, else the cores this process may use, one per
    MIN_DOCS_PER_WORKER documents at most), each reading the memory-mapped bucket files; the kinds' components
    are joined in kind order as they come. A component's label is its smallest member whatever order the edges
    arrive in, so the clusters are the same whatever the worker count."""
    from curation.core.pool import ShardPool, workers_for

    shards = sorted(shards, key=lambda s: s.shard)
    n_bands = config.minhash.num_buckets
    for s in shards:
        if s.buckets.meta.get("n_bands") != n_bands:
            raise ValueError(f"{s.buckets.path}: {s.buckets.meta.get('n_bands')} bands, the configuration has "
                             f"{n_bands}: recompute the signatures")
    offsets = np.concatenate([[0], np.cumsum([s.rows for s in shards])]).astype(np.int64)
    n_kinds = len(kinds(n_bands))
    n = workers_for(n_kinds, int(offsets[-1]), MIN_DOCS_PER_WORKER, workers)
    setup = ([s.shard for s in shards], [s.buckets.path for s in shards], [s.rows for s in shards], config,
             [p.index.path for p in prior], chunk)
    nodes = labels = np.empty(0, dtype=np.int64)
    repeated = {"text": [], "url": []}
    prior_hits: list[tuple[np.ndarray, int]] = []
    prior_exact = []
    edges, seconds, dropped = {}, {}, {}
    with ShardPool(_Snapshot, setup, n, name="dedup clustering") as pool:
        for part in pool.imap(_kind_part, range(n_kinds)):
            repeated.setdefault(part.kind, []).extend(part.repeated)
            prior_hits += part.prior_hits
            prior_exact += part.prior_exact
            if part.edges is not None:
                edges[part.kind] = part.edges
            if part.dropped is not None:
                dropped[part.kind] = part.dropped
            seconds[part.kind] = part.seconds
            if len(part.nodes):
                nodes, labels = _union(nodes, labels, part.nodes, part.labels)

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
