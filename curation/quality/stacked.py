"""The default quality classifier: logistic regression over the signals the quality table already stores
(length, stop words, punctuation, n-gram and line duplication, C4 and FineWeb statistics, the heuristic
verdict), trained on in-domain labelled documents and chosen by cross-validation.

Candidates (``CANDIDATES``): feature set x L2 strength x whether crawl documents that fail the hard
heuristics join the labelled negatives. ``choose`` scores each by repeated k-fold cross-validation on the
labelled *training* rows only (extra negatives are added to the training folds, never to the folds that are
scored) and keeps the best ROC AUC. The keep threshold is the one that maximises the out-of-fold accuracy of
the chosen candidate. The model is a few hundred bytes of JSON: feature names, standardisation, weights.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

import numpy as np

from curation.quality.metrics import roc_auc
from curation.quality.signals import BOOL_SIGNALS, SIGNAL_COLUMNS

LOG_FEATURES = {"chars", "words", "non_symbol_words", "stop_words", "c4_kept_lines", "c4_sentences"}
# signals that never vary on short web documents (empty paragraphs splits, lorem ipsum) carry no information
_CONSTANT = {"c4_lorem_ipsum", "c4_curly_bracket", "dup_para_frac", "dup_para_char_frac"}
FEATURE_SETS = {
    "length": ("chars",),
    "core": ("chars", "words", "stop_words", "alpha_words_ratio", "line_punct_ratio", "short_line_ratio",
             "newline_ratio", "mean_word_length"),
    "all_signals": tuple(c for c in SIGNAL_COLUMNS if c not in _CONSTANT) + ("quality_pass",),
}
L2 = (1.0, 10.0, 30.0)


@dataclass(frozen=True)
class Candidate:
    features: str
    l2: float
    crawl_negatives: bool

    @property
    def name(self) -> str:
        return f"{self.features}, l2={self.l2:g}" + (", + crawl failing heuristics" if self.crawl_negatives else "")


CANDIDATES = tuple(Candidate(f, l2, cn) for f in FEATURE_SETS for l2 in L2 for cn in (False, True))


def feature_matrix(df, names: tuple[str, ...]) -> np.ndarray:
    """Features from a quality-signals table (Polars; ``quality_pass`` from ``curation.quality.decide``)."""
    cols = []
    for n in names:
        v = df[n].cast(float).fill_null(0.0).to_numpy().astype(np.float64) if n not in BOOL_SIGNALS and \
            n != "quality_pass" else df[n].fill_null(False).to_numpy().astype(np.float64)
        cols.append(np.log1p(np.maximum(v, 0)) if n in LOG_FEATURES else np.nan_to_num(v))
    return np.stack(cols, 1) if cols else np.zeros((df.height, 0))


def signal_frame(texts: list[str], languages: list[str | None] | None = None):
    """Signals and the default-threshold heuristic verdict of texts (what the stacked model reads)."""
    import polars as pl

    from curation.quality.filters import decide
    from curation.quality.signals import signals_table

    langs = languages or [None] * len(texts)
    df = signals_table([str(i) for i in range(len(texts))], texts, langs)
    return decide(df.with_columns(pl.Series("language", langs, dtype=pl.String)))


@dataclass
class StackedModel:
    features: tuple[str, ...]
    mean: list[float]
    scale: list[float]
    weights: list[float]
    bias: float
    keep_threshold: float = 0.5

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, features: tuple[str, ...], l2: float) -> "StackedModel":
        from curation.models.scorers import LinearHead

        mu, sd = x.mean(0), x.std(0) + 1e-9
        head = LinearHead.fit((x - mu) / sd, y.astype(np.float64), l2=l2)
        return cls(tuple(features), mu.tolist(), sd.tolist(), head.w.astype(float).tolist(), float(head.b))

    def predict(self, x: np.ndarray) -> np.ndarray:
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return (1 / (1 + np.exp(-(z @ np.asarray(self.weights) + self.bias)))).astype(np.float32)

    def save(self, path: str) -> None:
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "w") as fh:
            json.dump(asdict(self), fh, indent=1)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str) -> "StackedModel":
        with open(path) as fh:
            d = json.load(fh)
        return cls(**{**d, "features": tuple(d["features"])})


@dataclass
class StackedScorer:
    """Probability of "good" from the stored signals (``score_signals``) or from raw texts (``score``)."""

    path: str
    name: str = "stacked"

    @property
    def model(self) -> StackedModel:
        return StackedModel.load(self.path)

    def score_signals(self, df) -> np.ndarray:
        m = self.model
        return m.predict(feature_matrix(df, m.features)) if df.height else np.zeros(0, np.float32)

    def score(self, texts: list[str]) -> np.ndarray:
        return self.score_signals(signal_frame(texts)) if texts else np.zeros(0, np.float32)


def _folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    return np.array_split(np.random.default_rng(seed).permutation(n), k)


def out_of_fold(x: np.ndarray, y: np.ndarray, extra: np.ndarray, cand: Candidate, k: int = 5,
                seed: int = 0) -> np.ndarray:
    """Out-of-fold scores of the labelled rows; ``extra`` (negatives) join every training fold when asked."""
    names = FEATURE_SETS[cand.features]
    out = np.zeros(len(y), np.float32)
    for fold in _folds(len(y), k, seed):
        train = np.setdiff1d(np.arange(len(y)), fold)
        xt, yt = x[train], y[train]
        if cand.crawl_negatives and len(extra):
            xt, yt = np.vstack([xt, extra]), np.concatenate([yt, np.zeros(len(extra), bool)])
        out[fold] = StackedModel.fit(xt, yt, names, cand.l2).predict(x[fold])
    return out


def best_threshold(scores: np.ndarray, y: np.ndarray) -> float:
    """The cut that maximises accuracy (midpoint between neighbouring scores)."""
    s = np.unique(scores)
    cuts = np.concatenate([[0.0], (s[1:] + s[:-1]) / 2, [1.0]]) if len(s) > 1 else np.array([0.5])
    acc = [((scores >= c) == y).mean() for c in cuts]
    return float(cuts[int(np.argmax(acc))])


def choose(frame, y: np.ndarray, extra_frame=None, candidates=CANDIDATES, k: int = 5, repeats: int = 3) -> dict:
    """Cross-validate every candidate on the labelled rows; fit the best on all of them. Returns the model, the
    chosen candidate and the table of cross-validated AUC / accuracy per candidate."""
    y = np.asarray(y, dtype=bool)
    if y.all() or not y.any() or len(y) < 2 * k:
        raise ValueError(f"need at least {2 * k} labelled examples of both classes (got {int(y.sum())} good, "
                         f"{int((~y).sum())} bad)")
    table, best = [], None
    for cand in candidates:
        names = FEATURE_SETS[cand.features]
        x = feature_matrix(frame, names)
        extra = feature_matrix(extra_frame, names) if extra_frame is not None and extra_frame.height else np.zeros((0, len(names)))
        if cand.crawl_negatives and not len(extra):
            continue
        oofs = [out_of_fold(x, y, extra, cand, k, seed) for seed in range(repeats)]
        auc = float(np.mean([roc_auc(o, y) for o in oofs]))
        acc = float(np.mean([((o >= 0.5) == y).mean() for o in oofs]))
        table.append({"candidate": cand.name, "cv_roc_auc": round(auc, 4), "cv_accuracy": round(acc, 4)})
        if best is None or auc > best[0] + 1e-9:
            best = (auc, cand, x, extra, oofs)
    _, cand, x, extra, oofs = best
    xt, yt = x, y
    if cand.crawl_negatives:
        xt, yt = np.vstack([x, extra]), np.concatenate([y, np.zeros(len(extra), bool)])
    model = StackedModel.fit(xt, yt, FEATURE_SETS[cand.features], cand.l2)
    model.keep_threshold = best_threshold(np.concatenate(oofs), np.tile(y, len(oofs)))
    return {"model": model, "candidate": cand, "cv": table, "labelled": int(len(y)), "good": int(y.sum()),
            "extra_negatives": int(len(extra)) if cand.crawl_negatives else 0}
