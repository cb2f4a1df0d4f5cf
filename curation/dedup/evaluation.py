"""Measuring near-dedup on real text: derived near-copies, true Jaccard similarity of every pair that
shares a shingle, and recall / precision of the clusters against it (tests and bench/dedup_quality.py)."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from curation.dedup.minhash import jaccard, shingle_set

FILLER = ("the", "of", "and", "a", "to", "in", "is", "was", "for", "on", "data", "page", "new", "more", "home")


def edit_words(text: str, fraction: float, rng: random.Random) -> str:
    """Replace, delete or insert words at about ``fraction`` of the positions (lines kept)."""
    lines = text.split("\n")
    out = []
    for line in lines:
        words = line.split(" ")
        new = []
        for w in words:
            r = rng.random()
            if r < fraction / 3:
                new.append(rng.choice(FILLER))  # replace
            elif r < 2 * fraction / 3:
                continue  # delete
            elif r < fraction:
                new.extend([w, rng.choice(FILLER)])  # insert
            else:
                new.append(w)
        out.append(" ".join(new))
    return "\n".join(out)


def change_boilerplate(text: str, other: str, rng: random.Random, lines: int = 6) -> str:
    """Swap the page's navigation: another page's first lines as a header, a new footer."""
    header = [ln for ln in other.split("\n") if ln.strip()][:lines]
    footer = [f"Copyright {rng.randint(2000, 2024)} - All rights reserved", "Privacy policy | Terms of use | Contact"]
    return "\n".join(header + [text] + footer)


def derive(texts: list[str], seed: int = 0, per_kind: int | None = None) -> list[tuple[int, str, str]]:
    """(source index, kind, text) near-copies of real texts: exact and whitespace copies, word edits of
    1-30%, changed boilerplate, truncation to 80% and 50%."""
    rng = random.Random(seed)
    idx = list(range(len(texts)))
    rng.shuffle(idx)
    if per_kind:
        idx = idx[:per_kind]
    out = []
    for i in idx:
        t = texts[i]
        other = texts[rng.randrange(len(texts))]
        out.append((i, "exact_copy", t))
        out.append((i, "whitespace", "  " + t.replace("\n", "\n\n").replace(" ", "  ") + "\n"))
        for f in (0.01, 0.03, 0.05, 0.1, 0.2, 0.3):
            out.append((i, f"edit_{int(f * 100)}pct", edit_words(t, f, rng)))
        out.append((i, "boilerplate", change_boilerplate(t, other, rng)))
        out.append((i, "truncate_80pct", t[: int(len(t) * 0.8)]))
        out.append((i, "truncate_50pct", t[: len(t) // 2]))
    return out


@dataclass
class PairMetrics:
    pairs_high: int  # pairs with Jaccard >= 0.8
    found_high: int  # of those, in the same cluster
    pairs_low: int  # pairs with 0 < Jaccard < 0.5
    merged_low: int  # of those, in the same cluster
    merged_pairs: int  # pairs in the same cluster (any similarity)
    merged_pairs_ge_05: int  # of those, with Jaccard >= 0.5
    by_bin: dict  # Jaccard bin -> (pairs, merged)

    @property
    def recall(self) -> float:
        return self.found_high / self.pairs_high if self.pairs_high else 1.0

    @property
    def precision(self) -> float:
        return self.merged_pairs_ge_05 / self.merged_pairs if self.merged_pairs else 1.0

    @property
    def low_merge_rate(self) -> float:
        return self.merged_low / self.pairs_low if self.pairs_low else 0.0

    def as_dict(self) -> dict:
        return {"recall_at_0.8": round(self.recall, 4), "precision_ge_0.5": round(self.precision, 4),
                "merge_rate_below_0.5": round(self.low_merge_rate, 5), "pairs_ge_0.8": self.pairs_high,
                "pairs_found_ge_0.8": self.found_high, "pairs_0_to_0.5": self.pairs_low,
                "pairs_merged_0_to_0.5": self.merged_low, "pairs_merged": self.merged_pairs,
                "by_jaccard_bin": {k: {"pairs": p, "merged": m, "rate": round(m / p, 4) if p else None}
                                   for k, (p, m) in self.by_bin.items()}}


def true_pairs(texts: list[str], n_grams: int = 5, max_df: int = 200) -> dict[tuple[int, int], float]:
    """Exact Jaccard similarity of every pair of texts sharing at least one shingle that occurs in at most
    ``max_df`` texts (a pair sharing only more common shingles - boilerplate - is far below 0.5 unless
    the texts are tiny)."""
    sets = [shingle_set(t, n_grams) for t in texts]
    index = defaultdict(list)
    for i, s in enumerate(sets):
        for sh in s:
            index[sh].append(i)
    candidates = set()
    for docs in index.values():
        if 1 < len(docs) <= max_df:
            for a in range(len(docs)):
                for b in range(a + 1, len(docs)):
                    candidates.add((docs[a], docs[b]))
    return {(a, b): jaccard(sets[a], sets[b]) for a, b in candidates}


BINS = [(0.0, 0.3), (0.3, 0.5), (0.5, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.0001)]


def pair_metrics(pairs: dict[tuple[int, int], float], cluster_of: np.ndarray) -> PairMetrics:
    """``cluster_of[i]``: the cluster label of text ``i`` (unique labels for singletons)."""
    high = found = low = merged_low = 0
    by_bin = {f"{a:.1f}-{min(b, 1.0):.1f}": [0, 0] for a, b in BINS}
    for (a, b), j in pairs.items():
        same = cluster_of[a] == cluster_of[b]
        for lo, hi in BINS:
            if lo <= j < hi:
                cell = by_bin[f"{lo:.1f}-{min(hi, 1.0):.1f}"]
                cell[0] += 1
                cell[1] += int(same)
        if j >= 0.8:
            high += 1
            found += int(same)
        elif j < 0.5:
            low += 1
            merged_low += int(same)
    # every pair inside a cluster, whether or not it shares a shingle (those have Jaccard 0)
    members = defaultdict(list)
    for i, c in enumerate(cluster_of):
        members[c].append(i)
    merged = merged_ok = 0
    for ids in members.values():
        for x in range(len(ids)):
            for y in range(x + 1, len(ids)):
                merged += 1
                merged_ok += int(pairs.get((ids[x], ids[y]), pairs.get((ids[y], ids[x]), 0.0)) >= 0.5)
    return PairMetrics(high, found, low, merged_low, merged, merged_ok, {k: tuple(v) for k, v in by_bin.items()})
