"""The second opinion on low fastText scores: a vote of three models among the languages they propose.

Candidates are fastText's top labels and py3langid's top labels (mapped to lingua's ISO 639-1 codes,
with the languages they are confused with), plus lingua's own first choice when it is one of the 8
languages lid.176 cannot name (which fastText can never propose; adding all 8 to every vote labelled
Wikimedia navigation pages as Maori). Among them the label is the product of experts
``lingua^1 * fastText^1 * py3langid^2`` (each probability plus a floor of 0.03; a model that cannot name
a candidate gives it the square root of the floor). Weights, floor and
candidate counts were chosen on half "a" of the sentences (``bench/langid_vote_tuning.py``).

Lingua runs in its low-accuracy (trigram) mode over the candidates only, plus the 8 languages lid.176
cannot name (so that it can still propose them): a detector per candidate set, built in about 0.1 ms and
cached, all of them sharing one copy of each language's models (about 1-5 MB a language, loaded once per
process for the languages met), so no memory budget is needed and nothing depends on which documents a
process saw before. Lingua's first choice is added to the candidates only when it is one of those 8 over
all its languages (asked only when one of them leads the small set). Asking lingua about 5-15 languages
instead of all 75 costs a third of the CPU and gives the same accuracy (``bench/langid_accuracy.py``: sentences 0.965, UDHR 0.924, word pairs 0.826,
against 0.965 / 0.922 / 0.827 over all languages). (Its high-accuracy models, 10-90 MB a language, are
an option.) Lingua sums probabilities in hash-map order, so its values differ in the last bits between
calls; they are rounded to 9 decimals before the vote, and the score to 4, so that a label is a
function of the text and the configuration alone.
"""

from __future__ import annotations

import math
from functools import lru_cache

# lid.176 labels that are not the ISO 639-1 code a user expects, and what we emit instead:
# sh  Serbo-Croatian (a deprecated ISO 639-1 code) -> hbs, its ISO 639-3 macrolanguage code
# als Alemannic (Wikipedia's code; ISO 639-3 als is Tosk Albanian)   -> gsw (ISO 639-3 Swiss German/Alemannic)
# bh  Bihari (a deprecated ISO 639-1 collective code; the model learnt Bhojpuri Wikipedia) -> bho
# no  Norwegian (lid.176 knows nn separately, so this is Bokmal)     -> nb, as lingua says
LABELS = {"sh": "hbs", "als": "gsw", "bh": "bho", "no": "nb"}
PY3LANGID_LABELS = {"iw": "he", "jw": "jv"}  # py3langid's old codes (its "no" goes through LABELS)
# candidates a fastText label stands for: the languages it is confused with, as lingua names them
EXPANSIONS = {"hbs": ("bs", "hr", "sr"), "bs": ("bs", "hr", "sr"), "hr": ("bs", "hr", "sr"), "sr": ("bs", "hr", "sr"),
              "nb": ("nb", "nn"), "nn": ("nb", "nn"), "ms": ("ms", "id"), "id": ("ms", "id")}
# lingua languages lid.176 has no label for: fastText can never propose them, so lingua proposes them
NOT_IN_LID176 = ("lg", "mi", "sn", "st", "tn", "ts", "xh", "zu")
FASTTEXT_VOTE_K = 20  # fastText probabilities read for the vote (a candidate outside these has probability 0)


def fasttext_label(label: str) -> str:
    return LABELS.get(label, label)


def py3langid_label(label: str) -> str:
    return fasttext_label(PY3LANGID_LABELS.get(label, label))


@lru_cache(maxsize=1)
def lingua_codes() -> dict[str, object]:
    from lingua import Language

    return {lang.iso_code_639_1.name.lower(): lang for lang in Language.all()}


def candidates(top_labels: list[str], extra: tuple[str, ...] = ()) -> frozenset[str]:
    """Lingua's ISO 639-1 codes for the proposed labels (already mapped by ``fasttext_label``), plus ``extra``."""
    known = lingua_codes()
    out = set()
    for label in top_labels:
        out.update(c for c in EXPANSIONS.get(label, (label,)) if c in known)
    if out:
        out.update(extra)
    return frozenset(out)


def lingua_proposal(values: dict[str, float]) -> tuple[str, ...]:
    """Lingua's first choice when it is a language lid.176 cannot name, as an extra candidate; else none."""
    top = max(sorted(values), key=values.get) if values else None
    return (top,) if top in NOT_IN_LID176 else ()


@lru_cache(maxsize=2)
def lingua_detector(high_accuracy: bool = False):
    """One lingua detector over all its languages per process and mode; models load lazily, per script met."""
    from lingua import LanguageDetectorBuilder

    builder = LanguageDetectorBuilder.from_all_languages()
    return (builder if high_accuracy else builder.with_low_accuracy_mode()).build()


def lingua_values(text: str, high_accuracy: bool = False, among: frozenset[str] | None = None) -> dict[str, float]:
    """Lingua's confidence per language (ISO 639-1), rounded to 9 decimals; languages at 0 left out. ``among``: only
    these languages (lingua's codes) and the 8 lid.176 cannot name are compared (the values sum to 1 over them)."""
    detector = lingua_detector(high_accuracy) if among is None else _detector_among(among, high_accuracy)
    return {v.language.iso_code_639_1.name.lower(): round(v.value, 9)
            for v in detector.compute_language_confidence_values(text) if v.value > 0}


def lingua_opinion(text: str, pool: frozenset[str], high_accuracy: bool = False) -> tuple[dict[str, float], tuple[str, ...]]:
    """Lingua's values over ``pool`` (and the languages lid.176 cannot name), and its proposal: one of those 8 when it
    is lingua's first choice over all its languages. Only when it leads the small set are all languages asked (a
    rare language that leads 8-15 languages often loses to one outside them: "Category:Wikimedia resources" is
    Tswana among them, English among all)."""
    values = lingua_values(text, high_accuracy, among=pool)
    proposal = lingua_proposal(values)
    if proposal:
        proposal = lingua_proposal(lingua_values(text, high_accuracy))
    return values, proposal


@lru_cache(maxsize=2048)
def _detector_among(codes: frozenset[str], high_accuracy: bool):
    """A detector over ``codes`` and ``NOT_IN_LID176``; lingua keeps one copy of each language's models per process,
    shared by all detectors, so a detector is a small object (about 0.1 ms to build)."""
    from lingua import LanguageDetectorBuilder

    known = lingua_codes()
    builder = LanguageDetectorBuilder.from_languages(*(known[c] for c in sorted(set(codes) | set(NOT_IN_LID176))))
    return (builder if high_accuracy else builder.with_low_accuracy_mode()).build()


def vote(codes: frozenset[str], experts: list[tuple[float, dict[str, float], frozenset[str]]],
         floor: float) -> tuple[str, float] | None:
    """The candidate with the highest weighted sum of log(probability + floor) over the experts, each given
    as (weight, probabilities, languages it can name), and its share of the product over the candidates.
    None for fewer than two candidates (the first opinion stands)."""
    if len(codes) < 2:
        return None
    half = 0.5 * math.log(floor)
    scores = {c: sum(w * (math.log(p.get(c, 0.0) + floor) if c in names else half) for w, p, names in experts)
              for c in sorted(codes)}
    best = max(scores, key=scores.get)  # ties: the first code in sorted order
    total = sum(math.exp(s - scores[best]) for s in scores.values())
    return best, round(1.0 / total, 4)
