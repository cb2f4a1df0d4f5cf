"""Words and n-grams for the heuristic quality signals: a regex tokenizer close to spaCy's (which
datatrove uses), duplicate counts, and 64-bit n-gram keys for the Gopher repetition statistics."""

from __future__ import annotations
import re
from collections import Counter
import regex

from curation.text.words import MIX, NO_SPACE_QUALITY, PUNCTUATION, splitmix

STOP_WORDS_EN = ("the", "be", "to", "of", "and", "that", "have", "with")

PUNCTUATION_SET = frozenset(PUNCTUATION)
_NO_SPACE = NO_SPACE_QUALITY
# spaCy-like tokens: URLs and e-mail addresses whole, abbreviations ("U.S."), words with inner ' . , (as in
# "don't", "3,500.00"), ellipses and "--" whole, every other symbol a token of its own
# (letters, marks, digits and format characters such as the soft hyphen make up words; the regex module
# knows Unicode categories), scripts without spaces give one token per grapheme cluster
_SPECIAL = r"https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.-]+|(?:\p{L}\.){2,}|\.{2,}|-{2,}"
_W = r"[\p{L}\p{M}\p{N}\p{Cf}]"
_WORD_RE = regex.compile(rf"{_SPECIAL}|(?=[{_NO_SPACE}])\X|(?:(?![{_NO_SPACE}]){_W})+(?:['’.,/](?:(?![{_NO_SPACE}]){_W})+)*"
                         rf"|[^\s]")
_SIMPLE_WORD_RE = regex.compile(rf"{_SPECIAL}|{_W}+(?:['’.,/]{_W}+)*|[^\s]")
_NEEDS_REGEX = regex.compile(r"[\p{M}\p{Cf}_]")
# the same rule with the faster re module, for texts without marks, format characters or underscores
_FAST_WORD_RE = re.compile(r"https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.-]+|(?:[^\W\d_]\.){2,}|\.{2,}|-{2,}"
                           r"|[^\W_]+(?:['’.,/][^\W_]+)*|[^\s]")
HAS_NO_SPACE = re.compile(f"[{_NO_SPACE}]")
PARAGRAPH_RE = re.compile(r"\n{2,}")
LINES_RE = re.compile(r"\n+")
CITATION_RE = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
SENTENCE_END_RE = re.compile(r"[.!?。！？]+[\"'”’)\]]*(?=\s|$)")
C4_END_PUNCTUATION = (".", "?", "!", '"', "'")
C4_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")

# datatrove's TERMINAL_PUNCTUATION (utils/text.py, Apache-2.0): sentence-final marks across scripts, used by
# FineWeb's line punctuation rule
TERMINAL_PUNCTUATION = tuple("!.?\u0589\u061d\u061e\u061f\u06d4\u0700\u0701\u0702\u07f9\u0837\u0839\u083d\u083e\u0964\u0965\u104a\u104b\u1362\u1367\u1368\u166e\u1735\u1736\u17d4\u17d5\u17d6\u17d9\u17da\u1803\u1809\u1944\u1945\u1aa8\u1aa9\u1aaa\u1aab\u1b5a\u1b5b\u1b5e\u1b5f\u1b7d\u1b7e\u1c3b\u1c3c\u1c7e\u1c7f\u203c\u203d\u2047\u2048\u2049\u2e2e\u2e3c\u2e53\u2e54\u3002\ua4ff\ua60e\ua60f\ua6f3\ua6f7\ua876\ua877\ua8ce\ua8cf\ua92f\ua9c8\ua9c9\uaa5d\uaa5e\uaa5f\uaaf0\uaaf1\uabeb\ufe52\ufe56\ufe57\uff01\uff0e\uff1f\uff61\U00010a56\U00010a57\U00010f55\U00010f56\U00010f57\U00010f58\U00010f59\U00010f86\U00010f87\U00010f88\U00010f89\U00011047\U00011048\U000110be\U000110bf\U000110c0\U000110c1\U00011141\U00011142\U00011143\U000111c5\U000111c6\U000111cd\U000111de\U000111df\U00011238\U00011239\U0001123b\U0001123c\U000112a9\U0001144b\U0001144c\U000115c2\U000115c3\U000115c9\U000115ca\U000115cb\U000115cc\U000115cd\U000115ce\U000115cf\U000115d0\U000115d1\U000115d2\U000115d3\U000115d4\U000115d5\U000115d6\U000115d7\U00011641\U00011642\U0001173c\U0001173d\U0001173e\U00011944\U00011946\U00011a42\U00011a43\U00011a9b\U00011a9c\U00011c41\U00011c42\U00011ef7\U00011ef8\U00011f43\U00011f44\U00016a6e\U00016a6f\U00016af5\U00016b37\U00016b38\U00016b44\U00016e98\U0001bc9f\U0001da88")


SYMBOL_WORD = regex.compile("(?m)^[" + "".join(regex.escape(c) for c in sorted(PUNCTUATION_SET)) + "]+$")
ALPHA_WORD = regex.compile(r"(?m)^[^\n]*?\p{L}")  # str.isalpha() is true exactly for category L


def words(text: str) -> list[str]:
    if HAS_NO_SPACE.search(text):
        return _WORD_RE.findall(text)
    if _NEEDS_REGEX.search(text):
        return _SIMPLE_WORD_RE.findall(text)
    return _FAST_WORD_RE.findall(text)


def duplicates(items: list[str]) -> tuple[int, int]:
    """(duplicate elements, characters in them), counting every repeat after the first (Gopher)."""
    seen: set[str] = set()
    n = chars = 0
    for x in items:
        if x in seen:
            n += 1
            chars += len(x)
        else:
            seen.add(x)
    return n, chars


class NGrams:
    """64-bit keys and character lengths of a document's word n-grams (keys mix per-process word hashes with
    numpy, so counting and lookups work on ints instead of tuples of strings)."""

    def __init__(self, ws: list[str]):
        import numpy as np

        self.n_words = len(ws)
        self.ids = np.fromiter((hash(w) for w in ws), dtype=np.int64, count=len(ws)).view(np.uint64)
        lens = np.fromiter(map(len, ws), dtype=np.int64, count=len(ws))
        self.cum = np.concatenate(([0], np.cumsum(lens)))

    def keys(self, n: int) -> tuple[list[int], list[int]]:
        import numpy as np

        m = self.n_words - n + 1
        if m <= 0:
            return [], []
        acc = self.ids[:m].copy()
        with np.errstate(over="ignore"):
            for k in range(1, n):
                acc = splitmix(acc * MIX + self.ids[k:k + m])
        return acc.tolist(), (self.cum[n:] - self.cum[:-n]).tolist()


def top_ngram_chars(grams: NGrams, n: int) -> int:
    """Characters covered by the most frequent n-gram: its length (words joined by spaces) times its count."""
    keys, lengths = grams.keys(n)
    if not keys:
        return 0
    counts = Counter(keys)
    top, c = counts.most_common(1)[0]
    return (lengths[keys.index(top)] + n - 1) * c


def dup_ngram_chars(grams: NGrams, n: int) -> int:
    """Characters in n-grams already seen, skipping past each repeat (Gopher's duplicated n-gram fraction)."""
    keys, lengths = grams.keys(n)
    if len(set(keys)) == len(keys):  # no n-gram occurs twice: nothing to count (most documents, at 5+ words)
        return 0
    seen: set = set()
    chars = i = 0
    last = len(keys)
    while i < last:
        k = keys[i]
        if k in seen:
            chars += lengths[i]
            i += n
        else:
            seen.add(k)
            i += 1
    return chars
