"""Benchmark contamination labels: which benchmarks a document contains, how many items, and where.

A batch of documents is scanned at once: the word hashes of all documents are laid end to end, the n-gram
hashes (and the hashes of every run as long as a short item) are computed by one chain of numpy steps, and
one ``searchsorted`` against the index's sorted keys finds the candidates; n-grams that straddle two
documents are masked. Only documents with a candidate go on to the per-item scoring in Python:

- a short item (fewer than ``n`` words) is matched when all its words appear in a row;
- a long item is matched when the n-grams the page shares with it cover at least ``threshold`` of its
  IDF-weighted words (``index.py``): verbatim copies score 1.0, a copy with a changed word every dozen words
  about 0.9, most of an item its share, and a page that quotes one sentence of a long item stays below.

The spans are character ranges in the original text: a short item's words; for a long item, its matched n-grams
with gaps of at most n words between them filled (an edited word breaks the n-grams around it) and the item's
words before its first and after its last matched n-gram added (where an edited copy most likely goes on); all
merged. The decision (drop the document, or cut the spans with a margin) is made downstream.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from curation.labels import ngrams
from curation.labels.index import BenchmarkIndex

DECONTAMINATION_VERSION = "contamination-v1"

CONTAMINATION_SCHEMA = pa.schema([
    pa.field("id", pa.string()),
    pa.field("benchmarks", pa.list_(pa.string())),
    pa.field("hits", pa.int32()),
    pa.field("spans", pa.list_(pa.list_(pa.int32()))),
])


@dataclass
class Contamination:
    benchmarks: list[str]
    hits: int                      # matched items
    spans: list[list[int]]         # [start, end) character offsets, merged, sorted
    items: list[int]               # matched item numbers in the index

    @property
    def contaminated(self) -> bool:
        return self.hits > 0


_CLEAN = Contamination([], 0, [], [])


def _merge(ranges: list[tuple[int, int]], gap: int = 0) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1] + gap:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _extend(hits: list[tuple[int, int]], n: int, item_len: int, n_doc: int) -> list[tuple[int, int]]:
    """The doc word ranges of one matched long item: its n-grams (doc position, item position), gaps of at most
    n words between them filled (an edited word breaks the n-grams around it), and the item's words before its
    first and after its last matched n-gram added at the two ends (where the copy most likely goes on)."""
    ranges = _merge([(p, p + n) for p, _ in hits], gap=n)
    first, last = min(hits), max(hits)
    s0 = max(0, first[0] - first[1])
    e0 = min(n_doc, last[0] + item_len - last[1])
    ranges[0] = (min(ranges[0][0], s0), ranges[0][1])
    ranges[-1] = (ranges[-1][0], max(ranges[-1][1], e0))
    return ranges


def _score_doc(index: BenchmarkIndex, text: str, found: list[tuple[int, int, int, int]], offsets_of) -> Contamination:
    """``found``: (word position in the doc, gram length, key number, doc words) of the doc's key hits; ``offsets_of()``
    gives the doc's word start and end character offsets."""
    n = index.params.n
    short_hits: dict[int, list[tuple[int, int]]] = {}
    long_cover: dict[int, set[int]] = {}
    long_ranges: dict[int, list[tuple[int, int]]] = {}
    n_words, post_item, post_pos, offsets = index.n_words, index.post_item, index.post_pos, index.offsets
    n_doc = found[0][3] if found else 0
    for pos, m, k, _ in found:
        for j in range(offsets[k], offsets[k + 1]):
            item = int(post_item[j])
            length = int(n_words[item])
            if length < n:
                if length == m:
                    short_hits.setdefault(item, []).append((pos, pos + m))
            elif m == n:
                ip = int(post_pos[j])
                long_cover.setdefault(item, set()).update(range(ip, ip + n))
                long_ranges.setdefault(item, []).append((pos, ip))
    matched: dict[int, list[tuple[int, int]]] = dict(short_hits)
    threshold = index.params.threshold
    for item, cover in long_cover.items():
        total = float(index.totals[item])
        if total <= 0:
            continue
        w = index.weights[index.w_offsets[item]:index.w_offsets[item + 1]]
        if float(w[sorted(cover)].sum()) >= threshold * total - 1e-6:
            matched[item] = _extend(long_ranges[item], n, int(n_words[item]), n_doc)
    if not matched:
        return _CLEAN
    starts, ends = offsets_of()
    word_ranges = _merge([r for rs in matched.values() for r in rs])
    spans = _merge([(int(starts[s]), int(ends[e - 1])) for s, e in word_ranges])
    names = sorted({index.names[int(index.bench[i])] for i in matched})
    return Contamination(names, len(matched), [[s, e] for s, e in spans], sorted(matched))


def _offsets(enc: ngrams.Encoded, d: int, text: str):
    def get():
        a, b = enc.bounds[d], enc.bounds[d + 1]
        if enc.ascii[d]:
            return enc.start[a:b], enc.end[a:b]
        _, s, e = ngrams.words_with_offsets(text)
        if len(s) != b - a:  # NFKC of the whole text split differently from word by word: clip (spans approximate)
            s = np.resize(s, b - a) if len(s) else np.zeros(b - a, np.int64)
            e = np.resize(e, b - a) if len(e) else np.zeros(b - a, np.int64)
        return s, e
    return get


def scan(index: BenchmarkIndex, texts: list[str], batch: int = 256, batch_chars: int = 4_000_000) -> list[Contamination]:
    """Contamination of each text, in order; batches of at most ``batch`` texts and about ``batch_chars``
    characters (the hashing holds a few 8-byte arrays per byte of a batch)."""
    out: list[Contamination] = []
    start, chars = 0, 0
    for i, t in enumerate(texts):
        chars += len(t or "")
        if i + 1 - start >= batch or chars >= batch_chars or i == len(texts) - 1:
            out.extend(_scan_batch(index, texts[start:i + 1]))
            start, chars = i + 1, 0
    return out


def _scan_batch(index: BenchmarkIndex, texts: list[str]) -> list[Contamination]:
    if len(index.keys) == 0:
        return [_CLEAN] * len(texts)
    enc = ngrams.encode(texts)
    wh, starts = enc.wh, enc.bounds
    lens = np.diff(starts)
    doc_of = np.repeat(np.arange(len(texts)), lens)
    doc_end = starts[1:][doc_of] if len(wh) else np.empty(0, np.int64)
    keys, bits = index.keys, index.prefilter()
    hits_pos, hits_m, hits_k = [], [], []
    for m, h in ngrams.lengths_hashes(wh, index.short_lengths, index.params.n).items():
        if len(h) == 0:
            continue
        pos = np.flatnonzero(bits[h >> index.PREFILTER_SHIFT])
        pos = pos[pos + m <= doc_end[pos]]
        k = np.searchsorted(keys, h[pos])
        k[k == len(keys)] = 0
        ok = keys[k] == h[pos]
        pos, k = pos[ok], k[ok]
        if len(pos):
            hits_pos.append(pos)
            hits_m.append(np.full(len(pos), m))
            hits_k.append(k)
    out = [_CLEAN] * len(texts)
    if not hits_pos:
        return out
    pos = np.concatenate(hits_pos)
    ms = np.concatenate(hits_m)
    ks = np.concatenate(hits_k)
    docs = doc_of[pos]
    order = np.argsort(docs, kind="stable")
    pos, ms, ks, docs = pos[order], ms[order], ks[order], docs[order]
    bounds = np.flatnonzero(np.diff(docs)) + 1
    for grp in np.split(np.arange(len(docs)), bounds):
        d = int(docs[grp[0]])
        n_doc = int(starts[d + 1] - starts[d])
        local = [(int(pos[g] - starts[d]), int(ms[g]), int(ks[g]), n_doc) for g in grp]
        out[d] = _score_doc(index, texts[d], local, _offsets(enc, d, texts[d]))
    return out


def contamination_table(index: BenchmarkIndex, ids, texts) -> tuple[pa.Table, dict]:
    """The per-shard label table (CONTAMINATION_SCHEMA) and counts: documents and items matched per benchmark."""
    texts = [t if isinstance(t, str) else "" for t in (texts.to_pylist() if hasattr(texts, "to_pylist") else texts)]
    ids = ids.to_pylist() if hasattr(ids, "to_pylist") else list(ids)
    res = scan(index, texts)
    docs_per, hits_per = Counter(), Counter()
    for r in res:
        docs_per.update(r.benchmarks)
        hits_per.update(index.names[int(index.bench[i])] for i in r.items)
    table = pa.table({
        "id": pa.array(ids, pa.string()),
        "benchmarks": pa.array([r.benchmarks for r in res], pa.list_(pa.string())),
        "hits": pa.array([r.hits for r in res], pa.int32()),
        "spans": pa.array([r.spans for r in res], pa.list_(pa.list_(pa.int32()))),
    }, schema=CONTAMINATION_SCHEMA)
    counts = {"documents": len(res), "contaminated": sum(1 for r in res if r.hits),
              "documents_per_benchmark": dict(docs_per), "items_per_benchmark": dict(hits_per)}
    return table, counts
