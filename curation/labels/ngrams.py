"""Words, their character offsets and word n-gram hashes, shared by the benchmark index and the scan.

Normalisation: NFKC, then case folding; a word is a maximal run of Unicode letters, digits and combining marks (``_`` and
every other character separate words, so punctuation and whitespace changes vanish); a character of a script written
without spaces (Han, kana, Thai, Lao, Khmer, Myanmar, Tibetan) is a word of its own. Digits are kept: a GSM8K
item differs from its neighbour by its numbers. ASCII text (most of a crawl) takes a fast path, ``lower()`` and
one ``findall``, which gives the same words as the general path.

Hashes: a batch of texts is normalised (ASCII: ``lower()``; else its words joined by spaces), encoded to UTF-8
and laid end to end; a word's hash is a polynomial hash of its bytes computed from prefix sums (numpy, no Python
step per word), then the splitmix64 finaliser. The hash of the m words starting at ``i`` mixes the m word
hashes left to right (multiply-add, then the finaliser), so the m-gram array is built from the (m-1)-gram array
by one vector step and every length up to n costs one numpy pass over the batch. The same functions hash
benchmark items and documents, so a whole short item and the same words inside a page hash alike.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import regex

_NO_SPACE = ("\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf"
             "\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f")
# letters, digits and combining marks (Python's re leaves Devanagari's vowel signs out of \w: regex has \p{M})
WORD_RE = regex.compile(f"([{_NO_SPACE}]|[[\\p{{L}}\\p{{N}}\\p{{M}}]--[{_NO_SPACE}]]+)", regex.V1)
# the same words where a text has no combining mark: re's class runs about twice as fast as regex's
_WORD_RE_FAST = re.compile(f"([{_NO_SPACE}]|[^\\W_{_NO_SPACE}]+)")
_MAYBE_MARKS = re.compile("[\u0300-\u036f\u0483-\u0489\u0591-\u1cff\u1dc0-\u1dff\u20d0-\u20ff\ua66f-\uabff"
                          "\ufe20-\ufe2f\u3099\u309a\U00010000-\U0001ffff\U000e0100-\U000e01ef]")


def _word_re(norm: str):
    return WORD_RE if _MAYBE_MARKS.search(norm) else _WORD_RE_FAST
_ASCII_WORD_RE = re.compile(r"([a-z0-9]+)")  # one group: findall gives the words, split keeps them

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)

_CACHE_LIMIT = 2_000_000


def words(text: str) -> list[str]:
    """The normalised words of ``text`` (see the module docstring)."""
    if text.isascii():
        return _ASCII_WORD_RE.findall(text.lower())
    norm = unicodedata.normalize("NFKC", text).casefold()
    return _word_re(norm).findall(norm)


_SPACES = re.compile("[\xa0\u2000-\u200a\u202f\u205f\u3000]")  # NFKC makes each one space
_TOKEN_RE = re.compile(r"\S+")
_LINE_OR_TOKEN = re.compile(r"[^\n]+")


def words_with_offsets(text: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The words of :func:`words` with the character span of each in ``text``. Where NFKC or case folding
    changes the length, each line is normalised on its own, and in a line whose length changes each
    whitespace-separated token: a word keeps its offsets inside a piece whose length is unchanged, else the
    piece's own span (spans only: which words there are does not change)."""
    if text.isascii():
        norm = text.lower()
        return _spans(_ASCII_WORD_RE, norm, None)
    folded = unicodedata.normalize("NFKC", _SPACES.sub(" ", text)).casefold()
    if len(folded) == len(text):  # no character expanded or composed (or, rarely, as many of each: spans shift)
        return _spans(_word_re(folded), folded, None)
    pieces, orig_start, orig_len, norm_start = [], [], [], []
    at = 0
    for m in _LINE_OR_TOKEN.finditer(text):  # lines whose length NFKC keeps, else each token of the line alone
        chunk = m.group()
        got = chunk.lower() if chunk.isascii() else unicodedata.normalize("NFKC", _SPACES.sub(" ", chunk)).casefold()
        parts = [(m.start(), chunk, got)]
        if len(got) != len(chunk):
            parts = [(m.start() + t.start(), t.group(), unicodedata.normalize("NFKC", t.group()).casefold())
                     for t in _TOKEN_RE.finditer(chunk)]
        for start, raw, norm in parts:
            pieces.append(norm)
            orig_start.append(start)
            orig_len.append(len(raw))
            norm_start.append(at)
            at += len(norm) + 1
    joined = " ".join(pieces)
    table = (np.asarray(orig_start, np.int64), np.asarray(orig_len, np.int64), np.asarray(norm_start, np.int64),
             np.asarray([len(x) for x in pieces], np.int64))
    return _spans(_word_re(joined), joined, table)


def _spans(pattern, norm: str, table):
    parts = pattern.split(norm)  # separator, word, separator, word, ..., separator (split runs in C)
    lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    ends_all = np.cumsum(lengths)
    e = ends_all[1::2]
    s = e - lengths[1::2]
    out = parts[1::2]
    if table is not None and len(s):
        o_start, o_len, n_start, n_len = table
        piece = np.searchsorted(n_start, s, side="right") - 1
        same = o_len[piece] == n_len[piece]
        s, e = (np.where(same, o_start[piece] + s - n_start[piece], o_start[piece]),
                np.where(same, o_start[piece] + e - n_start[piece], o_start[piece] + o_len[piece]))
    return out, s, e


_P = np.uint64(0x9E3779B97F4A7C15)
_PINV = np.uint64(pow(0x9E3779B97F4A7C15, -1, 1 << 64))
_WORD_BYTE = np.zeros(256, dtype=bool)
_WORD_BYTE[list(b"abcdefghijklmnopqrstuvwxyz0123456789")] = True
_WORD_BYTE[128:] = True


_POWERS: list[np.ndarray] = []


def _powers(length: int) -> tuple[np.ndarray, np.ndarray]:
    """P^(j+1) and P^-(j+1) for j < length (computed once, grown by doubling)."""
    if length > (1 << 24):  # one huge text: its own tables, not kept
        return (np.cumprod(np.full(length, _P, dtype=np.uint64)), np.cumprod(np.full(length, _PINV, dtype=np.uint64)))
    if not _POWERS or len(_POWERS[0]) < length:
        size = max(1 << 16, 1 << (length - 1).bit_length())
        _POWERS[:] = [np.cumprod(np.full(size, _P, dtype=np.uint64)), np.cumprod(np.full(size, _PINV, dtype=np.uint64))]
    return _POWERS[0][:length], _POWERS[1][:length]


@dataclass
class Encoded:
    """Words of a batch of texts: ``wh`` (uint64 hash per word, all texts end to end), ``bounds`` (text ``t``'s
    words are ``bounds[t]:bounds[t + 1]``), ``start``/``end`` (each word's offsets in its text's normalised form:
    the original text's character offsets when ``ascii[t]``)."""
    wh: np.ndarray
    bounds: np.ndarray
    start: np.ndarray
    end: np.ndarray
    ascii: np.ndarray


def normalised(text: str) -> str:
    return text.lower() if text.isascii() else " ".join(words(text))


def encode(texts) -> Encoded:
    norm = [normalised(t or "") for t in texts]
    raw = [x.encode() for x in norm]
    lens = np.fromiter((len(b) + 1 for b in raw), dtype=np.int64, count=len(raw))
    doc_start = np.zeros(len(raw) + 1, dtype=np.int64)
    np.cumsum(lens, out=doc_start[1:])
    buf = np.frombuffer(b" ".join(raw) + b" ", dtype=np.uint8)
    mask = _WORD_BYTE[buf]
    edges = np.flatnonzero(np.diff(np.concatenate(([False], mask, [False])).view(np.int8)))
    ws, we = edges[0::2], edges[1::2]
    pw, pinv = _powers(len(buf))
    with np.errstate(over="ignore"):
        prefix = np.zeros(len(buf) + 1, dtype=np.uint64)
        np.cumsum(buf.astype(np.uint64) * pw, out=prefix[1:])
        wh = _finalise((prefix[we] - prefix[ws]) * pinv[ws] + (we - ws).astype(np.uint64) * _MIX)
    bounds = np.searchsorted(ws, doc_start)
    doc = np.repeat(np.arange(len(raw)), np.diff(bounds))
    local = doc_start[doc]
    return Encoded(wh, bounds, ws - local, we - local, np.array([t.isascii() for t in norm], dtype=bool) &
                   np.array([(t or "").isascii() for t in texts], dtype=bool))


def word_hashes(ws: list[str]) -> np.ndarray:
    """The hash of each word (as :func:`encode` hashes it)."""
    return encode([" ".join(ws)]).wh


def _finalise(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


def extend(prev: np.ndarray, wh: np.ndarray, m: int) -> np.ndarray:
    """From the hashes of the (m-1)-grams (``len(wh) - m + 2`` of them) to those of the m-grams."""
    with np.errstate(over="ignore"):
        return _finalise(prev[:-1] * _MIX + wh[m - 1:])


def first(wh: np.ndarray) -> np.ndarray:
    """The 1-gram hashes (the start of :func:`extend`'s chain)."""
    with np.errstate(over="ignore"):
        return _finalise(wh ^ _MIX)


def gram_hashes(wh: np.ndarray, m: int) -> np.ndarray:
    """Hashes of every run of ``m`` consecutive words (empty when there are fewer than ``m`` words)."""
    if len(wh) < m or m < 1:
        return np.empty(0, dtype=np.uint64)
    h = first(wh)
    for k in range(2, m + 1):
        h = extend(h, wh, k)
    return h


def lengths_hashes(wh: np.ndarray, lengths: set[int], n: int) -> dict[int, np.ndarray]:
    """``{m: gram_hashes(wh, m)}`` for ``m`` in ``lengths`` and for ``n``, in one chain of ``n`` vector steps."""
    want = set(lengths) | {n}
    out: dict[int, np.ndarray] = {}
    if len(wh) == 0:
        return {m: np.empty(0, dtype=np.uint64) for m in want}
    h = first(wh)
    for m in range(1, max(want) + 1):
        if m > 1:
            if len(h) <= 1:
                h = np.empty(0, dtype=np.uint64)
            else:
                h = extend(h, wh, m)
        if m in want:
            out[m] = h
    return out
