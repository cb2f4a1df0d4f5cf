"""The default quality recipe and its agreement with people.

Training data: labelled documents in the user's domain (default: the *training half* of DCLM's human labels in
``sample_data/quality``, both labels), optionally LLM grades (``curation.llm.annotate``), and crawl documents
that fail the hard heuristics as extra negatives (cross-validation decides whether they help). The model is
``curation.quality.stacked``'s logistic regression over the quality table's signals.

Agreement: every trained classifier is measured on the *held-back half* of a labelled file (ROC AUC, and the
accuracy of its keep decision), next to document length alone and the heuristic verdict. The split is
``split_of(text, 0.5)``: the held-back half is never read for training (tested).
"""

from __future__ import annotations

import numpy as np

from curation.quality.classifier import read_examples, split_of
from curation.quality.metrics import roc_auc

HALF = 0.5  # labelled files are split 50/50 by text hash: "train" trains, "holdout" measures
GOOD_GRADE = 3  # an LLM grade >= 3 of 5 counts as good (FineWeb-Edu's threshold)


def labelled_rows(paths: list[str], default_label: bool, half: str = "train") -> tuple[list[str], list[bool]]:
    """(texts, labels) of example files: rows with a ``label`` field keep their label but only from ``half``;
    rows without one are plain examples and get ``default_label`` (bring your own target examples)."""
    texts, labels = [], []
    for p in paths:
        for row in read_examples(p):
            text = row.get("text") or ""
            if not text.strip():
                continue
            if "label" in row:
                if split_of(text, HALF) != half:
                    continue
                texts.append(text)
                labels.append(int(row["label"]) == 1)
            else:
                texts.append(text)
                labels.append(default_label)
    return texts, labels


def graded_rows(rows: list[dict], good_grade: int = GOOD_GRADE) -> tuple[list[str], list[bool]]:
    """(texts, labels) from LLM annotations (``text``, ``grade``; unparsed grades are left out)."""
    kept = [r for r in rows if r.get("grade") is not None and (r.get("text") or "").strip()]
    return [r["text"] for r in kept], [int(r["grade"]) >= good_grade for r in kept]


def heldback(path: str) -> tuple[list[str], list[bool], list[bool]]:
    """(texts, labels, unanimous) of the held-back half of a labelled file."""
    rows = [r for r in read_examples(path) if "label" in r and split_of(r.get("text") or "", HALF) == "holdout"]
    return [r["text"] for r in rows], [int(r["label"]) == 1 for r in rows], \
        [bool(r.get("annotators_unanimous")) for r in rows]


def _acc(pred: np.ndarray, y: np.ndarray) -> float:
    return round(float((pred == y).mean()), 4) if len(y) else float("nan")


def agreement(scores: np.ndarray, threshold: float, path: str, texts_scored: list[str] | None = None) -> dict:
    """How a classifier's held-back scores agree with the human labels of ``path``, beside document length
    alone (its cut chosen on the file's training half) and the heuristic verdict (default thresholds)."""
    from curation.quality.stacked import best_threshold, signal_frame

    texts, labels, unanimous = heldback(path)
    if texts_scored is not None and texts_scored != texts:
        raise ValueError("scores must be given for heldback(path)'s texts, in order")
    y = np.asarray(labels, bool)
    s = np.asarray(scores, np.float64)
    frame = signal_frame(texts)
    length = np.log1p(frame["chars"].to_numpy().astype(np.float64))
    tr_texts, tr_y = labelled_rows([path], True, "train")
    tr_len = np.log1p(np.array([len(t) for t in tr_texts], np.float64))
    cut = best_threshold(tr_len, np.asarray(tr_y, bool)) if tr_texts else float(np.median(length))
    u = np.asarray(unanimous, bool)
    out = {
        "examples": len(texts), "good": int(y.sum()), "unanimous": int(u.sum()),
        "roc_auc": round(roc_auc(s, y), 4), "accuracy": _acc(s >= threshold, y), "threshold": round(threshold, 4),
        "roc_auc_unanimous": round(roc_auc(s[u], y[u]), 4) if u.any() else None,
        "length": {"roc_auc": round(roc_auc(length, y), 4), "accuracy": _acc(length >= cut, y)},
        "heuristics": {"accuracy": _acc(frame["quality_pass"].to_numpy(), y)},
    }
    out["beats_length"] = bool(out["roc_auc"] > out["length"]["roc_auc"])
    return out


def train_stacked(texts: list[str], labels: list[bool], crawl: list[str], out_path: str) -> dict:
    """Choose and fit the stacked model (``curation.quality.stacked.choose``) on labelled texts, with the crawl
    documents that fail the hard heuristics as candidate extra negatives; save it to ``out_path``."""
    from curation.quality.stacked import choose, signal_frame

    frame = signal_frame(texts)
    crawl_frame = signal_frame(crawl) if crawl else None
    extra = crawl_frame.filter(~crawl_frame["quality_pass"]) if crawl_frame is not None else None
    chosen = choose(frame, np.asarray(labels, bool), extra)
    chosen["model"].save(out_path)
    return {"candidate": chosen["candidate"].name, "cv": chosen["cv"], "keep_threshold": chosen["model"].keep_threshold,
            "train": {"labelled": chosen["labelled"], "good": chosen["good"],
                      "crawl_negatives": chosen["extra_negatives"]}}
