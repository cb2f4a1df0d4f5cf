"""The mixture plan from aggregates, and each document's selection as a pure function of (id, seed, plan).

Two phases, neither holding the corpus:

1. **Statistics.** Every unit (a crawl snapshot x shard, or a registered corpus) contributes, per weighted group,
   its documents and tokens, split by rehydration class (the copies FineWeb2 rehydration gives a document for the
   size of the cluster it was kept from), with a histogram of tokens over the document's hash draw
   ``u = xxh3(seed:group:id) / 2^64``. Memory: groups x classes x ``BINS`` integers, whatever the corpus size.
2. **Plan.** Per group: the repetition factor ``f = min(max_repeats, target / natural tokens)``, so each
   document gets ``r = min(c * f, max_repeats)`` copies in expectation (c: its rehydration copies): ``floor(r)``
   whole copies, plus one more when its priority ``v = u / frac(r)`` lies below the group's threshold
   ``tau``. ``tau`` is found on the histograms so that the group's tokens meet its target; the few documents
   near the threshold (one window of ``v``, tens to thousands of documents per group) are read in a second narrow
   pass and filled greedily in ``v`` order, skipping any that would overshoot the tolerance, so small groups meet
   their target as tightly as large ones.

A document's copies then depend only on its id, group, cluster size, the seed and the plan: the same whatever the
sharding or the order of the input, so each shard's selection can be written by independent, parallel work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BINS = 16_384  # histogram bins over u in [0, 1): the window between bins is read exactly in a second pass
WINDOW_DOCS = 32  # documents' worth of tokens on each side of the threshold read into the window


def draws(ids: list[str], groups: list[str], seed: int) -> np.ndarray:
    """``u`` in [0, 1) per document: xxh3-64 of ``seed:group:id`` (stable across runs, machines and versions)."""
    import xxhash

    h = xxhash.xxh3_64_intdigest
    return np.fromiter((h(f"{seed}:{g}:{i}".encode()) for i, g in zip(ids, groups)), dtype=np.uint64,
                       count=len(ids)).astype(np.float64) / 2.0 ** 64


def shuffle_keys(ids: list[str], repeats: list[int], seed: int) -> np.ndarray:
    """The order of rows within an output part: xxh3-64 of ``seed:shuffle:id#repeat``."""
    import xxhash

    h = xxhash.xxh3_64_intdigest
    return np.fromiter((h(f"{seed}:shuffle:{i}#{r}".encode()) for i, r in zip(ids, repeats)), dtype=np.uint64,
                       count=len(ids))


def rehydration_copies(cluster_sizes: np.ndarray, rehydrate: dict | None) -> np.ndarray:
    """Copies per document for its duplicate-cluster size (FineWeb2 rehydration); 1 when off."""
    sizes = np.asarray(cluster_sizes, dtype=np.int64)
    out = np.ones(len(sizes), dtype=np.float64)
    for k, v in sorted((int(k), float(v)) for k, v in (rehydrate or {}).items()):
        out = np.where(sizes >= k, v, out)  # steps ascending: the largest step a size reaches wins
    return out


@dataclass
class GroupStats:
    documents: int = 0
    tokens: int = 0
    classes: dict = field(default_factory=dict)  # copies c -> [documents, tokens, histogram of tokens over u]


class Statistics:
    """Per weighted group: documents, tokens and per-class token histograms over u (memory: groups, not docs).
    ``weights`` may name groups by pattern (``curation.mixing.weights``): each group's weight is then known once
    every unit is added (``resolved``)."""

    def __init__(self, weights: dict, rehydrate: dict | None, group_by: list[str] | None = None):
        from curation.mixing.weights import Weights

        self.spec = Weights(weights, group_by)
        self.rehydrate = rehydrate
        self.groups: dict[str, GroupStats] = {}

    def resolved(self) -> dict[str, tuple[float, str]]:
        """group -> (weight, the key of ``weights`` it comes from), for every group with a positive weight."""
        return self.spec.resolve({g: st.tokens for g, st in self.groups.items()})

    def add(self, group: np.ndarray, tokens: np.ndarray, copies: np.ndarray, u: np.ndarray) -> None:
        group = np.asarray(group, dtype=object)
        bins = np.minimum((u * BINS).astype(np.int64), BINS - 1)
        for g in sorted(g for g in set(group.tolist()) if self.spec.weighted(g)):
            m = group == g
            st = self.groups.setdefault(g, GroupStats())
            st.documents += int(m.sum())
            st.tokens += int(tokens[m].sum())
            for c in np.unique(copies[m]).tolist():
                mc = m & (copies == c)
                cls = st.classes.setdefault(float(c), [0, 0, np.zeros(BINS, dtype=np.int64)])
                cls[0] += int(mc.sum())
                cls[1] += int(tokens[mc].sum())
                cls[2] += np.bincount(bins[mc], weights=tokens[mc], minlength=BINS).astype(np.int64)


@dataclass
class GroupPlan:
    group: str
    target: int
    documents_available: int
    tokens_available: int
    factor: float = 0.0
    reps: dict = field(default_factory=dict)  # copies c -> expected copies r (capped)
    tau_lo: float = 0.0  # v < tau_lo: one extra copy
    tau_hi: float = 0.0  # tau_lo <= v < tau_hi: the window, decided by ``chosen``
    needed: int = 0  # tokens the extra copies must add
    chosen: list = field(default_factory=list)  # ids in the window that get the extra copy
    weight: float = 0.0  # the group's weight (a share of its pattern's, when a pattern gave it)
    weight_from: str = ""  # the key of ``weights`` that gave it: its own name or a pattern

    def as_dict(self) -> dict:
        return {**self.__dict__, "reps": {str(k): v for k, v in self.reps.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> "GroupPlan":
        return cls(**{**d, "reps": {float(k): v for k, v in d["reps"].items()}})


def _cum(hist: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(hist)])


def _below(classes: list, tau: float, upper: bool) -> int:
    """Tokens of documents with v < tau, counting bins partly below as wholly below (upper) or not at all."""
    total = 0
    for frac, cum in classes:
        x = min(1.0, tau * frac) * BINS
        total += int(cum[int(np.ceil(x)) if upper else int(np.floor(x))])
    return total


def _search(classes: list, goal: float, upper: bool, hi: float) -> float:
    """The largest tau (upper) / smallest tau (not upper) with tokens below tau <= / >= goal, by bisection."""
    lo_t, hi_t = 0.0, hi
    for _ in range(60):
        mid = (lo_t + hi_t) / 2
        if (_below(classes, mid, upper) <= goal) if upper else (_below(classes, mid, False) < goal):
            lo_t = mid
        else:
            hi_t = mid
    return lo_t if upper else hi_t


def plan_groups(stats: Statistics, total_tokens: int, max_repeats: float) -> dict[str, GroupPlan]:
    """The plan of every weighted group from the statistics alone."""
    weights = stats.resolved()
    total_w = sum(w for w, _ in weights.values())
    plans = {}
    for g, (w, key) in sorted(weights.items()):
        target = int(round(total_tokens * w / total_w))
        st = stats.groups.get(g, GroupStats())
        p = GroupPlan(g, target, st.documents, st.tokens, weight=w, weight_from=key)
        plans[g] = p
        natural = sum(c * cls[1] for c, cls in st.classes.items())
        if not natural or not target:
            continue
        p.factor = min(max_repeats, target / natural)
        p.reps = {c: min(c * p.factor, max_repeats) for c in st.classes}
        whole = sum(np.floor(r) * st.classes[c][1] for c, r in p.reps.items())
        p.needed = int(target - whole)
        classes = [(r - np.floor(r), _cum(st.classes[c][2])) for c, r in p.reps.items() if r - np.floor(r) > 1e-12]
        if p.needed <= 0 or not classes:
            continue
        top = max(1.0 / f for f, _ in classes) * (1 + 1e-9)
        margin = WINDOW_DOCS * st.tokens / max(1, st.documents)
        p.tau_lo = _search(classes, p.needed - margin, True, top)
        p.tau_hi = _search(classes, p.needed + margin, False, top) if _below(classes, top, False) >= \
            p.needed + margin else top
    return plans


def priorities(plan: GroupPlan, copies: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(whole copies, priority v) per document of one group; v is inf for documents with no fractional copy."""
    r = np.array([plan.reps.get(float(c), 0.0) for c in copies.tolist()], dtype=np.float64)
    whole = np.floor(r)
    frac = r - whole
    with np.errstate(divide="ignore"):
        v = np.where(frac > 1e-12, u / np.where(frac > 1e-12, frac, 1.0), np.inf)
    return whole.astype(np.int64), v


def window(plan: GroupPlan, ids: list[str], tokens: np.ndarray, copies: np.ndarray, u: np.ndarray) \
        -> tuple[list, int]:
    """One group's documents in the plan's window as (v, id, tokens), and the tokens of those below it (v < tau_lo)
    (the second, narrow pass)."""
    _, v = priorities(plan, copies, u)
    m = (v >= plan.tau_lo) & (v < plan.tau_hi)
    return [(float(v[i]), ids[i], int(tokens[i])) for i in np.flatnonzero(m)], int(tokens[v < plan.tau_lo].sum())


def fill_window(plan: GroupPlan, below_tokens: int, rows: list, tolerance: float) -> None:
    """Choose the window's documents: in v order while the group is short of its target, skipping documents that
    would overshoot it by more than half the tolerance. ``below_tokens``: tokens of documents with v < tau_lo."""
    have = below_tokens
    high = plan.needed + tolerance / 2 * plan.target
    chosen = []
    for v, i, t in sorted(rows):
        if have >= plan.needed:
            break
        if have + t <= high:
            chosen.append(i)
            have += t
    plan.chosen = sorted(chosen)


def copies_of(plan: GroupPlan, ids: list[str], copies: np.ndarray, u: np.ndarray, chosen: set | None = None) \
        -> np.ndarray:
    """Copies of each document of one group in the mixture: a pure function of (id, seed, plan)."""
    whole, v = priorities(plan, copies, u)
    chosen = set(plan.chosen) if chosen is None else chosen
    extra = (v < plan.tau_lo) | np.fromiter((i in chosen for i in ids), dtype=bool, count=len(ids))
    return whole + extra.astype(np.int64)
