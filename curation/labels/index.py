"""The benchmark index: word n-gram hashes of every benchmark item, with postings, IDF token weights and a digest.

Long items (at least ``n`` words) are indexed by their word n-grams; an n-gram found in more than ``max_df``
items is a common phrase of the benchmark set ("which of the following is", a shared code preamble) and is not
indexed, so a page that shares only such phrases is never flagged. Short items (``min_words`` to ``n - 1``
words) are indexed by the hash of the whole item and match only when all their words appear in a row.

Each word of a long item weighs its inverse document frequency over the items, ``log(1 + N / df)``, so a
match over "the" and "of" counts for little; a word that only common n-grams cover weighs 0. A page is
contaminated by a long item when the matched n-grams cover at least ``threshold`` of the item's weight (see
``decontaminate.py``).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from curation.labels import ngrams

INDEX_VERSION = "benchmark-index-v1"


@dataclass(frozen=True)
class IndexParams:
    n: int = 8               # word n-gram length (see docs/stages/labels.md: between decon's 5 tokens and GPT-3's 13)
    min_words: int = 5       # items shorter than this are not indexed (answers such as "True" or "42")
    max_df: int = 10         # an n-gram in more items than this (and more than 0.1% of them) is a common phrase
    threshold: float = 0.4   # weighted share of a long item's words that matched n-grams must cover


@dataclass
class BenchmarkIndex:
    params: IndexParams
    names: list[str]                 # benchmark names; items[i] belongs to names[bench[i]]
    item_ids: list[str]
    bench: np.ndarray                # int32 per item
    n_words: np.ndarray              # int32 per item
    keys: np.ndarray                 # sorted unique uint64
    offsets: np.ndarray              # int64, len(keys) + 1: postings of keys[k] are post_*[offsets[k]:offsets[k+1]]
    post_item: np.ndarray            # int32
    post_pos: np.ndarray             # int32: word position of the n-gram in the item
    w_offsets: np.ndarray            # int64, items + 1: token weights of item i are weights[w_offsets[i]:...]
    weights: np.ndarray              # float32
    totals: np.ndarray               # float32 per item
    stats: dict = field(default_factory=dict)
    short_lengths: frozenset = frozenset()

    def __post_init__(self):
        self.short_lengths = frozenset(int(m) for m in np.unique(self.n_words) if m < self.params.n)

    PREFILTER_SHIFT = np.uint64(41)  # the top 23 bits of a key pick its slot in an 8 MB table

    def prefilter(self) -> np.ndarray:
        """A bool per 23-bit key prefix: most of a page's n-grams miss the index and stop at this lookup."""
        if getattr(self, "_bits", None) is None:
            bits = np.zeros(1 << 23, dtype=bool)
            bits[self.keys >> self.PREFILTER_SHIFT] = True
            self._bits = bits
        return self._bits

    def __len__(self) -> int:
        return len(self.item_ids)

    def digest(self) -> str:
        h = hashlib.blake2b(digest_size=16)
        h.update(json.dumps([INDEX_VERSION, self.params.__dict__, self.names, self.item_ids]).encode())
        for a in (self.bench, self.n_words, self.keys, self.offsets, self.post_item, self.post_pos, self.weights):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()

    def to_bytes(self) -> bytes:
        meta = json.dumps({"version": INDEX_VERSION, "params": self.params.__dict__, "names": self.names,
                           "item_ids": self.item_ids, "stats": self.stats})
        buf = io.BytesIO()
        np.savez(buf, meta=np.frombuffer(meta.encode(), dtype=np.uint8), bench=self.bench, n_words=self.n_words,
                 keys=self.keys, offsets=self.offsets, post_item=self.post_item, post_pos=self.post_pos,
                 w_offsets=self.w_offsets, weights=self.weights, totals=self.totals)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "index") -> "BenchmarkIndex":
        try:
            z = np.load(io.BytesIO(data))
            meta = json.loads(z["meta"].tobytes().decode())
        except Exception as e:  # noqa: BLE001 - any damage to the file is one error naming it
            raise ValueError(f"{source}: not a benchmark index ({type(e).__name__}: {e})") from None
        if meta.get("version") != INDEX_VERSION:
            raise ValueError(f"{source}: benchmark index version {meta.get('version')!r}, expected {INDEX_VERSION}")
        return cls(IndexParams(**meta["params"]), meta["names"], meta["item_ids"], z["bench"], z["n_words"], z["keys"],
                   z["offsets"], z["post_item"], z["post_pos"], z["w_offsets"], z["weights"], z["totals"], meta["stats"])

    def per_benchmark(self) -> dict[str, int]:
        counts = Counter(self.bench.tolist())
        return {name: counts.get(i, 0) for i, name in enumerate(self.names)}


def build_index(items, params: IndexParams | None = None) -> BenchmarkIndex:
    """``items``: iterable of ``(benchmark, item_id, text)``. Items shorter than ``params.min_words`` words are
    counted in ``stats['too_short']`` and left out; identical items (same words) are indexed once per benchmark."""
    p = params or IndexParams()
    items = list(items)
    enc = ngrams.encode([text or "" for _, _, text in items])
    names: dict[str, int] = {}
    ids, bench, nw, item_wh = [], [], [], []
    seen: set[tuple[int, int]] = set()
    stats = Counter()
    for k, (name, item_id, _) in enumerate(items):
        wh = enc.wh[enc.bounds[k]:enc.bounds[k + 1]]
        if len(wh) < p.min_words:
            stats["too_short"] += 1
            continue
        b = names.setdefault(name, len(names))
        whole = (b, int(ngrams.gram_hashes(wh, len(wh))[0]))
        if whole in seen:
            stats["duplicates"] += 1
            continue
        seen.add(whole)
        ids.append(str(item_id))
        bench.append(b)
        nw.append(len(wh))
        item_wh.append(wh)
    n_items = len(ids)
    keys_l, items_l, pos_l = [], [], []
    for i, wh in enumerate(item_wh):
        g = ngrams.gram_hashes(wh, min(len(wh), p.n))
        keys_l.append(g)
        items_l.append(np.full(len(g), i, dtype=np.int32))
        pos_l.append(np.arange(len(g), dtype=np.int32))
    keys = np.concatenate(keys_l) if keys_l else np.empty(0, np.uint64)
    post_item = np.concatenate(items_l) if items_l else np.empty(0, np.int32)
    post_pos = np.concatenate(pos_l) if pos_l else np.empty(0, np.int32)
    # distinct items per key: drop repeats of a key inside one item first
    order = np.lexsort((post_pos, post_item, keys))
    keys, post_item, post_pos = keys[order], post_item[order], post_pos[order]
    uniq, first_idx = np.unique(keys, return_index=True)
    df = np.zeros(len(uniq), dtype=np.int64)
    if len(keys):
        pair_new = np.ones(len(keys), dtype=bool)
        pair_new[1:] = (keys[1:] != keys[:-1]) | (post_item[1:] != post_item[:-1])
        df = np.add.reduceat(pair_new.astype(np.int64), first_idx)
    max_df = max(p.max_df, math.ceil(0.001 * n_items))
    common_key = df > max_df
    per_entry_common = np.repeat(common_key, np.diff(np.append(first_idx, len(keys))))
    # short items are never cut: their key is their whole text
    short_entry = np.asarray(nw, dtype=np.int32)[post_item] < p.n if len(keys) else np.zeros(0, bool)
    keep = ~per_entry_common | short_entry
    stats["common_ngrams"] = int(common_key.sum())
    keys, post_item, post_pos = keys[keep], post_item[keep], post_pos[keep]
    uniq, first_idx = np.unique(keys, return_index=True)
    offsets = np.append(first_idx, len(keys)).astype(np.int64)
    # token weights: word IDF over items, 0 for words no kept n-gram covers
    all_wh = np.concatenate(item_wh) if item_wh else np.empty(0, np.uint64)
    owner = np.repeat(np.arange(n_items), [len(w) for w in item_wh])
    pairs = np.unique(np.stack([all_wh, owner.astype(np.uint64)], axis=1), axis=0) if len(all_wh) else np.empty((0, 2))
    vocab, word_df = np.unique(pairs[:, 0], return_counts=True) if len(pairs) else (np.empty(0, np.uint64), [])
    idf = np.log1p(n_items / np.asarray(word_df, dtype=np.float64)) if len(vocab) else np.empty(0)
    kept_pos = [[] for _ in range(n_items)]
    for it, ps in zip(post_item.tolist(), post_pos.tolist()):
        kept_pos[it].append(ps)
    w_parts, totals = [], np.zeros(n_items, dtype=np.float32)
    for i, wh in enumerate(item_wh):
        if len(wh) < p.n:
            w_parts.append(np.empty(0, np.float32))
            continue
        covered = np.zeros(len(wh), dtype=bool)
        for ps in kept_pos[i]:
            covered[ps:ps + p.n] = True
        w = (idf[np.searchsorted(vocab, wh)] * covered).astype(np.float32)
        w_parts.append(w)
        totals[i] = float(w.sum())
    w_offsets = np.zeros(n_items + 1, dtype=np.int64)
    w_offsets[1:] = np.cumsum([len(w) for w in w_parts])
    weights = np.concatenate(w_parts) if w_parts else np.empty(0, np.float32)
    stats.update(items=n_items, short_items=int(sum(1 for m in nw if m < p.n)), ngrams=int(len(uniq)))
    return BenchmarkIndex(p, list(names), ids, np.asarray(bench, np.int32), np.asarray(nw, np.int32), uniq,
                          offsets, post_item, post_pos, w_offsets, weights, totals, dict(stats))
