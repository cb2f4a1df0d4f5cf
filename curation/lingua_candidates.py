"""Lingua as a second opinion among the languages fastText proposes, without loading every lingua model.

A lingua detector built from all 75 languages loads each language's models the first time the
rule-based filter lets it through: 1.1 GB and about 13 s for a process that sees many languages. Here a
detector is built from a few candidates only (fastText's top-k labels and py3langid's label, mapped to
lingua's languages, plus the languages lid.176 cannot name), so a text loads at most those models. Detectors are cached per
candidate set for the process (lingua shares loaded models between detectors). Texts of at least 120
characters use lingua's low-accuracy (trigram) models, 1-2 MB a language; shorter ones the high-accuracy
models, 5-40 MB a language, for at most ``max_models`` languages per process: a short text whose
candidates would pass that budget uses the low-accuracy models too. (Unloading and reloading instead
costs about a second per text once the budget is reached: measured, and dropped.)
"""

from __future__ import annotations

from functools import lru_cache

# lid.176 labels that are not the ISO 639-1 code a user expects, and what we emit instead:
# sh  Serbo-Croatian (a deprecated ISO 639-1 code) -> hbs, its ISO 639-3 macrolanguage code
# als Alemannic (Wikipedia's code; ISO 639-3 als is Tosk Albanian)   -> gsw (ISO 639-3 Swiss German/Alemannic)
# bh  Bihari (a deprecated ISO 639-1 collective code; the model learnt Bhojpuri Wikipedia) -> bho
# no  Norwegian (lid.176 knows nn separately, so this is Bokmal)     -> nb, as lingua says
LABELS = {"sh": "hbs", "als": "gsw", "bh": "bho", "no": "nb"}
# candidates a fastText label stands for: the languages it is confused with, as lingua names them
EXPANSIONS = {"hbs": ("bs", "hr", "sr"), "bs": ("bs", "hr", "sr"), "hr": ("bs", "hr", "sr"), "sr": ("bs", "hr", "sr"),
              "nb": ("nb", "nn"), "nn": ("nb", "nn"), "ms": ("ms", "id"), "id": ("ms", "id")}
# lingua languages lid.176 has no label for: fastText can never propose them, so they are always candidates
NOT_IN_LID176 = ("lg", "mi", "sn", "st", "tn", "ts", "xh", "zu")


def fasttext_label(label: str) -> str:
    return LABELS.get(label, label)


@lru_cache(maxsize=1)
def lingua_codes() -> dict[str, object]:
    from lingua import Language

    return {lang.iso_code_639_1.name.lower(): lang for lang in Language.all()}


def candidates(top_labels: list[str], extra: tuple[str, ...] = NOT_IN_LID176) -> frozenset[str]:
    """Lingua's ISO 639-1 codes for fastText's top labels (already mapped by ``fasttext_label``), plus ``extra``."""
    known = lingua_codes()
    out = set()
    for label in top_labels:
        out.update(c for c in EXPANSIONS.get(label, (label,)) if c in known)
    if out:
        out.update(extra)
    return frozenset(out)


class CandidateDetectors:
    """Lingua detectors per candidate set, for one process; models loaded lazily and bounded in number."""

    def __init__(self, max_models: int = 12, low_accuracy: bool = False):
        self.max_models = max_models
        self.low_accuracy = low_accuracy
        self._detectors: dict[frozenset, object] = {}
        self._languages: set[str] = set()

    def fits(self, codes: frozenset) -> bool:
        """Whether these candidates' models can be resident within ``max_models`` languages (always true for
        low-accuracy models: 1-2 MB a language, all 75 in about 100 MB)."""
        return self.low_accuracy or len(self._languages | codes) <= self.max_models

    def _detector(self, codes: frozenset):
        det = self._detectors.get(codes)
        if det is None:
            from lingua import LanguageDetectorBuilder

            known = lingua_codes()
            builder = LanguageDetectorBuilder.from_languages(*(known[c] for c in sorted(codes)))
            det = self._detectors[codes] = (builder.with_low_accuracy_mode() if self.low_accuracy else builder).build()
            self._languages |= codes
        return det

    def best(self, text: str, codes: frozenset) -> tuple[str, float] | None:
        """Lingua's most likely language among ``codes`` and its confidence, or None when it abstains."""
        if len(codes) < 2:
            return None
        values = self._detector(codes).compute_language_confidence_values(text)
        if not values or values[0].value <= 0:
            return None
        return values[0].language.iso_code_639_1.name.lower(), float(values[0].value)


_SHARED: dict[tuple, CandidateDetectors] = {}


def shared_detectors(max_models: int = 12, low_accuracy: bool = False) -> CandidateDetectors:
    """One set of detectors per process and setting: every shard a worker labels reuses the loaded models."""
    key = (max_models, low_accuracy)
    if key not in _SHARED:
        _SHARED[key] = CandidateDetectors(max_models, low_accuracy)
    return _SHARED[key]
