"""Planted contamination for tests and ``bench/decontamination.py``: benchmark text put into real pages, with the
planted character range known, in the variants issue 23 names, and the look-alikes that must not be flagged.

Variants (the item's text, changed, then put at a line break of the host page):

- ``verbatim``: the item as it is;
- ``case_punct_ws``: upper/lower/title case by sentence, punctuation next to a space dropped or swapped,
  punctuation inside a word ("don't", "3.5", "a-b") swapped for a space, hyphen or slash (dropping it would
  write another word: that is an edit), whitespace replaced by runs of spaces, tabs and newlines;
- ``partial``: a contiguous 60-85% of the item's words (an item of 20+ words);
- ``light_edit``: one word in every 12 to 16 replaced, dropped or doubled (an item of 20+ words);
- ``short``: an item of 5 to 11 words, whole (shorter than datatrove's 12-gram: it misses these).

Look-alikes (the page must stay clean): ``near_miss_phrase``, a run of 8 to 12 words of a 40+-word item (a
quotation of one phrase); ``near_miss_short``, the first half of a short item (6-11 words) followed by other words (a page that
shares an item's opening phrase, such as "Which of the following statements").
"""

from __future__ import annotations

import random
import re

import regex

VARIANTS = ("verbatim", "case_punct_ws", "partial", "light_edit", "short")
NEAR_MISSES = ("near_miss_phrase", "near_miss_short")
_TOKEN = re.compile(r"\S+")
# punctuation: not a letter, digit, combining mark (Devanagari's vowel signs are not \w in re) or space
_P, _W = r"[^\w\s\p{M}]", r"[\w\p{M}]"
_PUNCT_EDGE = regex.compile(f"{_P}(?!{_W})|(?<!{_W}){_P}")    # next to a space or an edge: dropped or swapped
_PUNCT_INNER = regex.compile(f"(?<={_W}){_P}(?={_W})")        # inside a word ("don't", "3.5"): another separator
_SWAPS = {".": ";", ",": " -", "?": ".", "!": ".", ":": ",", ";": ",", "'": "", '"': "'", "(": "", ")": ""}


def n_words(text: str) -> int:
    return len(_TOKEN.findall(text))


_NO_SPACE = regex.compile(r"[\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}\p{Han}\p{Hiragana}\p{Katakana}]")


def eligible(variant: str, words: int, text: str = "") -> bool:
    """Whether an item of ``words`` whitespace-separated words can carry ``variant`` (a look-alike made of half
    a short item needs spaces between words: in Thai or Chinese a whitespace "word" is a phrase)."""
    if variant in ("verbatim", "case_punct_ws"):
        return words >= 12
    if variant in ("partial", "light_edit"):
        return words >= 20
    if variant == "short":
        return 5 <= words <= 11
    if variant == "near_miss_phrase":
        return words >= 40
    if variant == "near_miss_short":
        return 6 <= words <= 11 and not _NO_SPACE.search(text)
    raise ValueError(variant)


def _case_punct_ws(text: str, rng: random.Random) -> str:
    parts = []
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        mode = rng.choice(("upper", "lower", "title", "same"))
        sentence = {"upper": str.upper, "lower": str.lower, "title": str.title}.get(mode, str)(sentence)
        sentence = _PUNCT_EDGE.sub(lambda m: "" if rng.random() < 0.5 else _SWAPS.get(m.group(), " "), sentence)
        sentence = _PUNCT_INNER.sub(lambda m: rng.choice((" ", "-", "/")), sentence)
        parts.append(sentence)
    toks = _TOKEN.findall(" ".join(parts))
    return "".join(t + rng.choice(("  ", "\t", "\n", " ", " \n ")) for t in toks).strip()


def _light_edit(toks: list[str], rng: random.Random, filler: list[str]) -> list[str]:
    out, gap = [], rng.randint(6, 12)
    for i, t in enumerate(toks):
        gap -= 1
        if gap > 0 or i == len(toks) - 1:
            out.append(t)
            continue
        gap = rng.randint(12, 16)
        op = rng.choice(("replace", "drop", "double"))
        if op == "replace":
            out.append(rng.choice(filler))
        elif op == "double":
            out.extend((t, t))
    return out


def variant_text(variant: str, text: str, rng: random.Random, filler: list[str]) -> str:
    """The planted text for ``variant`` (``filler``: words to substitute, from the host pages)."""
    toks = _TOKEN.findall(text)
    if variant in ("verbatim", "short"):
        return text
    if variant == "case_punct_ws":
        return _case_punct_ws(text, rng)
    if variant == "partial":
        k = max(1, round(len(toks) * rng.uniform(0.6, 0.85)))
        s = rng.randint(0, len(toks) - k)
        return " ".join(toks[s:s + k])
    if variant == "light_edit":
        return " ".join(_light_edit(toks, rng, filler))
    if variant == "near_miss_phrase":
        k = rng.randint(8, 12)
        s = rng.randint(0, len(toks) - k)
        return " ".join(toks[s:s + k])
    if variant == "near_miss_short":
        keep = len(toks) // 2
        return " ".join(toks[:keep] + [rng.choice(filler) for _ in range(len(toks) - keep)])
    raise ValueError(variant)


def plant(host: str, piece: str, rng: random.Random) -> tuple[str, tuple[int, int]]:
    """``host`` with ``piece`` put in at a line break (or the end); the piece's character range."""
    breaks = [m.end() for m in re.finditer(r"\n", host)] or [len(host)]
    at = rng.choice(breaks)
    before, after = host[:at], host[at:]
    if before and not before.endswith("\n"):
        before += "\n"
    start = len(before)
    return before + piece + "\n" + after, (start, start + len(piece))
