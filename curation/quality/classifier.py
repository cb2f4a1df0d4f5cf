"""Model-based quality scores: one interface, and a fastText classifier trained from target examples.

``Scorer`` is what every model scorer provides: ``name`` and ``score(texts) -> float array``, loaded once per
process and run in batches. ``FastTextScorer`` scores with a fastText supervised model file (DCLM's
``__label__hq`` style: the probability of the positive label). ``train_fasttext`` trains such a model as
DCLM and BETR do: positives are the user's target examples, negatives are documents sampled from the
crawl; a held-back part of the examples measures accuracy.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import tempfile
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from curation.quality.metrics import roc_auc

POSITIVE = "__label__hq"
NEGATIVE = "__label__cc"
_WS = re.compile(r"\s+")


class Scorer(Protocol):
    name: str

    def score(self, texts: list[str]) -> np.ndarray: ...


def fasttext_line(text: str, max_chars: int = 20_000) -> str:
    """One line per document, as fastText reads it: lower case, whitespace collapsed (newlines included)."""
    return _WS.sub(" ", text[:max_chars].lower()).strip()


_MODELS: dict[str, object] = {}


def _load_fasttext(path: str):
    import fasttext

    key = f"{os.path.abspath(path)}:{os.path.getmtime(path)}"
    if key not in _MODELS:
        if not os.path.exists(path):
            raise FileNotFoundError(f"fastText model not found: {path}")
        _MODELS[key] = fasttext.load_model(path)
    return _MODELS[key]


@dataclass
class FastTextScorer:
    """Probability of ``label`` under a fastText supervised model (e.g. DCLM's ``fasttext_oh_eli5.bin``)."""

    path: str
    label: str = POSITIVE
    name: str = "fasttext"

    def score(self, texts: list[str]) -> np.ndarray:
        model = _load_fasttext(self.path)
        if self.label not in model.labels:
            raise ValueError(f"{self.path}: no label {self.label!r} (the model has {model.labels[:5]})")
        lines = [fasttext_line(t) for t in texts]
        labels, probs = model.predict(lines, k=len(model.labels))
        out = np.empty(len(lines), dtype=np.float32)
        for i, (ls, ps) in enumerate(zip(labels, probs)):
            out[i] = dict(zip(ls, ps)).get(self.label, 0.0)
        return out


@dataclass(frozen=True)
class TrainConfig:
    """fastText supervised settings (DCLM's classifier: bigrams, dim 100) and the example split."""

    epoch: int = 25
    lr: float = 0.5
    word_ngrams: int = 2
    dim: int = 100
    min_count: int = 1
    bucket: int = 50_000  # hashed n-gram rows: fastText's 2M default made an 816 MB file (dim 100, float32)
    holdout: float = 0.2
    negatives_per_positive: float = 1.0
    seed: int = 0


def split_of(text: str, holdout: float, salt: str = "") -> str:
    """A stable train/holdout split by a hash of the text (``salt`` makes independent splits)."""
    h = int(hashlib.blake2b((salt + text).encode("utf-8", "surrogatepass"), digest_size=8).hexdigest(), 16)
    return "holdout" if (h % 10_000) < holdout * 10_000 else "train"


def train_fasttext(positives: list[str], negatives: list[str], out_path: str,
                   config: TrainConfig = TrainConfig()) -> dict:
    """Train, save to ``out_path`` (atomically) and return the held-back evaluation."""
    rng = random.Random(config.seed)
    pos = [t for t in positives if t and t.strip()]
    neg = [t for t in negatives if t and t.strip()]
    if not pos or not neg:
        raise ValueError(f"need positive and negative examples (got {len(pos)} and {len(neg)})")
    rng.shuffle(neg)
    neg = neg[: max(1, int(len(pos) * config.negatives_per_positive))]
    rows = [(POSITIVE, t) for t in pos] + [(NEGATIVE, t) for t in neg]
    train = [(lab, t) for lab, t in rows if split_of(t, config.holdout, "classifier") == "train"]
    hold = [(lab, t) for lab, t in rows if split_of(t, config.holdout, "classifier") == "holdout"]
    rng.shuffle(train)
    with tempfile.TemporaryDirectory(prefix="curation-ft-") as tmp:
        data = os.path.join(tmp, "train.txt")
        with open(data, "w") as fh:
            for lab, t in train:
                fh.write(f"{lab} {fasttext_line(t)}\n")
        os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
        tmp_model = out_path + ".tmp"
        # in a fresh interpreter: in a long-lived process (a test session after ~140 other tests, a Dagster worker)
        # fastText 0.9.2 trained a different model from the same file (thread=1, same seed), so the model
        # digest, which is the classifier's data version, was not a function of the examples
        lr = _train_in_fresh_process(data, tmp_model, config)
        os.replace(tmp_model, out_path)
    _MODELS.clear()
    scorer = FastTextScorer(out_path)
    report = {"train": {"positives": sum(lab == POSITIVE for lab, _ in train),
                        "negatives": sum(lab == NEGATIVE for lab, _ in train), "lr": lr},
              "holdout": evaluate(scorer, [t for _, t in hold], [lab == POSITIVE for lab, _ in hold])}
    return report


def _train_in_fresh_process(data: str, out_path: str, config: TrainConfig) -> float:
    """``_train_fasttext_file`` in a new interpreter (``sys.executable -c``: nothing of the caller's ``__main__`` is
    re-run); its one-line error, if any, raised here."""
    import subprocess
    import sys

    # the child imports this very checkout (its root first on sys.path), whatever the environment's PYTHONPATH says
    code = ("import json, sys; sys.path.insert(0, sys.argv[4]); "
            "from curation.quality.classifier import TrainConfig, _train_fasttext_file; "
            "print(json.dumps(_train_fasttext_file(sys.argv[1], sys.argv[2], TrainConfig(**json.loads(sys.argv[3])))))")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run([sys.executable, "-c", code, data, out_path, json.dumps(config.__dict__), root],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"fastText training on {data} failed: {last}")
    return float(proc.stdout.strip().splitlines()[-1])


def _train_fasttext_file(data: str, out_path: str, config: TrainConfig) -> float:
    """Train on a fastText-format file, save the model to ``out_path``; returns the learning rate used."""
    import fasttext

    lr = config.lr
    while True:  # fastText diverges ("Encountered NaN") on some small sets at lr 0.5: halve it and train again
        try:
            model = fasttext.train_supervised(input=data, epoch=config.epoch, lr=lr, wordNgrams=config.word_ngrams,
                                              dim=config.dim, minCount=config.min_count, bucket=config.bucket,
                                              seed=config.seed, thread=1, verbose=0)
            break
        except RuntimeError as exc:
            if "NaN" not in str(exc) or lr < config.lr / 8:
                raise
            lr /= 2
    model.save_model(out_path)
    return lr


def evaluate(scorer: Scorer, texts: list[str], labels: list[bool], threshold: float = 0.5) -> dict:
    """Accuracy, precision, recall and ROC AUC of ``scorer`` on labelled texts."""
    if not texts:
        return {"examples": 0}
    s = scorer.score(texts)
    y = np.asarray(labels, dtype=bool)
    pred = s >= threshold
    tp = int((pred & y).sum())
    return {
        "examples": len(texts), "positives": int(y.sum()),
        "accuracy": round(float((pred == y).mean()), 4),
        "precision": round(tp / max(1, int(pred.sum())), 4),
        "recall": round(tp / max(1, int(y.sum())), 4),
        "roc_auc": round(roc_auc(s, y), 4),
    }


def read_examples(path: str, text_field: str = "text") -> list[dict]:
    """Examples from a JSONL or Parquet file, or a folder of .txt files (one document each)."""
    if os.path.isdir(path):
        out = []
        for name in sorted(os.listdir(path)):
            if name.endswith(".txt"):
                with open(os.path.join(path, name), encoding="utf-8", errors="replace") as fh:
                    out.append({text_field: fh.read()})
        return out
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def deciles(scores: np.ndarray) -> list[float]:
    """The 9 inner decile boundaries of a score distribution (bucket = number of boundaries below a score)."""
    if len(scores) == 0:
        return [float(x) for x in np.linspace(0.1, 0.9, 9)]
    return [float(x) for x in np.quantile(scores, np.linspace(0.1, 0.9, 9))]


def bucket_of(scores: np.ndarray, boundaries: list[float]) -> np.ndarray:
    return np.searchsorted(np.asarray(boundaries), scores, side="right").astype(np.int8)


def labelled_examples(paths: list[str], label: int = 1, half: str = "train") -> list[str]:
    """Texts of example files. Rows with a ``label`` field count only when it equals ``label`` and the text
    falls in ``half`` ("train" or "holdout", split 50/50 by text hash), so a labelled file can train and
    evaluate without overlap. Rows without a label are all taken (plain target examples)."""
    out = []
    for p in paths:
        for row in read_examples(p):
            text = row.get("text") or ""
            if "label" in row:
                if int(row["label"]) != label or split_of(text, 0.5) != half:
                    continue
            out.append(text)
    return out


def train_classifier(kind: str, positives: list[str], negatives: list[str], out_path: str,
                     config: TrainConfig = TrainConfig()) -> dict:
    """Train a ``fasttext`` or ``minilm_linear`` quality classifier; returns its held-back evaluation."""
    if kind == "fasttext":
        return train_fasttext(positives, negatives, out_path, config)
    if kind != "minilm_linear":
        raise ValueError(f"classifier must be fasttext or minilm_linear, not {kind!r}")
    from curation.models.scorers import EmbeddingClassifier, Embedder, LinearHead

    rng = random.Random(config.seed)
    pos = [t for t in positives if t and t.strip()]
    neg = [t for t in negatives if t and t.strip()]
    rng.shuffle(neg)
    neg = neg[: max(1, int(len(pos) * config.negatives_per_positive))]
    rows = [(1, t) for t in pos] + [(0, t) for t in neg]
    train = [(y, t) for y, t in rows if split_of(t, config.holdout, "classifier") == "train"]
    hold = [(y, t) for y, t in rows if split_of(t, config.holdout, "classifier") == "holdout"]
    emb = Embedder()
    x = emb.embed([t for _, t in train])
    head = LinearHead.fit(x, np.array([y for y, _ in train], dtype=float))
    head.save(out_path)
    scorer = EmbeddingClassifier(out_path, emb)
    return {"train": {"positives": sum(y for y, _ in train), "negatives": sum(1 - y for y, _ in train)},
            "holdout": evaluate(scorer, [t for _, t in hold], [bool(y) for y, _ in hold])}


def classifier_scorer(kind: str, path: str) -> Scorer:
    if kind == "fasttext":
        return FastTextScorer(path)
    if kind == "stacked":
        from curation.quality.stacked import StackedScorer

        return StackedScorer(path)
    from curation.models.scorers import EmbeddingClassifier

    return EmbeddingClassifier(path)
