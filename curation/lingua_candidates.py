"""The second opinion on low fastText scores: a vote of three models among the languages they propose.

Candidates are fastText's top labels and py3langid's top labels (mapped to lingua's ISO 639-1 codes,
with the languages they are confused with), plus lingua's own first choice when it is one of the 8
languages lid.176 cannot name (which fastText can never propose; adding all 8 to every vote labelled
Wikimedia navigation pages as Maori). Among them the label is the product of experts
``lingua^1 * fastText^1 * py3langid^2`` (each probability plus a floor of 0.03; a model that cannot name
a candidate gives it the square root of the floor). Weights, floor and
candidate counts were chosen on half "a" of the sentences (``bench/langid_vote_tuning.py``).

Lingua runs in its low-accuracy (trigram) mode over all its languages: about 1-5 MB of models a
language, loaded once per process for the scripts it meets, so no memory budget is needed and nothing
depends on which documents a process saw before. (Its high-accuracy models, 10-90 MB a language, are
an option: up to 1.1 GB.) Lingua sums probabilities in hash-map order, so its values differ in the
last bits between calls; they are rounded to 9 decimals before the vote, and the score to 4, so that a
label is a function of the text and the configuration alone.
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


def lingua_values(text: str, high_accuracy: bool = False) -> dict[str, float]:
    """Lingua's confidence per language (ISO 639-1), rounded to 9 decimals; languages at 0 left out."""
    return {v.language.iso_code_639_1.name.lower(): round(v.value, 9)
            for v in lingua_detector(high_accuracy).compute_language_confidence_values(text) if v.value > 0}


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
