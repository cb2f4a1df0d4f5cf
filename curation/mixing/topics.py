"""Topic groups for mixing: k-means over sentence embeddings (CLIMB-style clusters), seeded."""

from __future__ import annotations
import numpy as np


def kmeans(x: np.ndarray, k: int, seed: int = 0, iterations: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """k-means with k-means++ seeding (deterministic for a seed); returns (labels, centroids). Clusters are
    numbered by decreasing size, so labels do not depend on the seeding order."""
    n = len(x)
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    centroids = [x[rng.integers(n)]]
    d2 = ((x - centroids[0]) ** 2).sum(1)
    for _ in range(1, k):
        p = d2 / d2.sum() if d2.sum() > 0 else np.full(n, 1 / n)
        centroids.append(x[rng.choice(n, p=p)])
        d2 = np.minimum(d2, ((x - centroids[-1]) ** 2).sum(1))
    c = np.array(centroids)
    labels = np.zeros(n, dtype=int)
    for _ in range(iterations):
        dist = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)
        new = dist.argmin(1)
        for j in range(k):
            if (new == j).any():
                c[j] = x[new == j].mean(0)
        if (new == labels).all() and _ > 0:
            break
        labels = new
    order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")
    rank = np.empty(k, dtype=int)
    rank[order] = np.arange(k)
    return rank[labels], c[order]


def topic_labels(texts: list[str], k: int, seed: int = 0) -> list[str]:
    """CLIMB-style topic clusters: k-means over all-MiniLM-L6-v2 embeddings of the documents."""
    from curation.models.scorers import Embedder

    if not texts:
        return []
    labels, _ = kmeans(Embedder().embed(texts).astype(np.float64), k, seed)
    return [f"topic-{int(t):02d}" for t in labels]
