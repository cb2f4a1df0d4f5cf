"""A per-page time budget, enforced before parsing: pages whose markup would make the HTML parser or main-content
extraction quadratic are counted (``dom_too_deep``, ``too_many_attributes``) instead of being parsed.

Measured on Resiliparse (bench/page_budget.py): main-content extraction costs about 3.7e-8 * depth**2 seconds
(20,000 nested ``<div>`` take 15 s, 100,000 take 283 s), and the parser's "any other end tag" rule walks the
stack of open elements for every unmatched end tag (``<span></x>`` repeated 80,000 times, 800 KB, takes 21 s to
parse). Both costs need a deep stack of open elements, and a page cannot open more elements than it has ``<``
characters: a page with at most ``GATE_TAGS`` of them (nearly every real page) is passed after one
``str.count``; the others are tokenised with a regex and the stack of open elements is estimated from above
(an end tag closes only its own element, a new ``<p>``/``<li>``/``<td>``... closes an open one of its kind;
markup inside scripts counts too, which can only overestimate). The scan is linear in the page's length.
With ``GATE_TAGS`` at 6,000 the worst page let through without a scan costs about 1.3 s of extraction (6,000
``<div>`` nested, or foster-parented inside a ``<table>``: measured 0.63 s). Attributes: see below.
"""

from __future__ import annotations

import re
from functools import lru_cache

GATE_TAGS = 6_000  # pages with fewer "<" cannot be deeper than this: at most ~1.4 s of extraction
MAX_DEPTH = 2_000  # deepest stack of open elements let through (about 0.15 s of main-content extraction)
MAX_WALK = 30_000_000  # open elements walked by unmatched end tags (about 0.2 s of parsing)

_TAG = re.compile(r"<(/?[a-z][a-z0-9:-]*)")
_VOID = frozenset("area base br col embed hr img input keygen link meta param source track wbr basefont bgsound "
                  "frame image isindex nextid command".split())
_SIBLINGS = frozenset("p li dt dd option optgroup tr td th tbody thead tfoot rb rt rp".split())


def _count_lt(raw: bytes) -> int:
    import numpy as np

    return int(np.count_nonzero(np.frombuffer(raw, dtype=np.uint8) == 0x3C))


_ASCII_PROBE = "<>/=\"' !-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_ASCII_PROBE_BYTES = _ASCII_PROBE.encode("ascii")


@lru_cache(maxsize=512)
def ascii_compatible(charset: str | None) -> bool:
    """True when ``charset`` writes ASCII markup as the same ASCII bytes, so that ``<`` bytes count ``<`` characters
    (UTF-8, the ISO-8859 and Windows code pages, Shift_JIS, GBK...); False for EBCDIC code pages (``<`` is 0x4C
    there), UTF-16/32 and anything unknown."""
    if not charset:
        return False
    try:
        return _ASCII_PROBE.encode(charset) == _ASCII_PROBE_BYTES
    except Exception:  # an unknown name, a codec that is no text encoding: not known to be compatible
        return False


def too_deep(html: str, raw: bytes | None = None, charset: str | None = None) -> str | None:
    """None when the page fits the budget, else why not (a one-line reason for the logs).

    ``raw``, the payload ``html`` was decoded from with ``charset``, makes the gate cheaper (counted with numpy, about
    twice as fast as ``bytes.count``); it is counted only when the charset is ``ascii_compatible``: in an EBCDIC page
    the markup's ``<`` is another byte, and a count of 0x3C bytes would let any nesting through.
    """
    counted = _count_lt(raw) if raw is not None and ascii_compatible(charset) else html.count("<")
    if counted <= GATE_TAGS:
        return None
    open_by_name: dict[str, int] = {}
    get = open_by_name.get
    depth = max_depth = walk = 0
    for tag in _TAG.findall(html.lower()):
        if tag[0] != "/":
            if tag in _VOID:
                continue
            n = get(tag, 0)
            if n and tag in _SIBLINGS:
                continue  # <li>a<li>b: the second closes the first
            open_by_name[tag] = n + 1
            depth += 1
            if depth > max_depth:
                max_depth = depth
                if depth > MAX_DEPTH:
                    return f"more than {MAX_DEPTH:,} nested elements"
        else:
            tag = tag[1:]
            n = get(tag, 0)
            if n:
                open_by_name[tag] = n - 1
                depth -= 1
            else:
                walk += depth  # an end tag with no open element of its name: the parser walks the open elements
                if walk > MAX_WALK:
                    return f"unmatched end tags walk more than {MAX_WALK:,} open elements"
    return None


# -- attributes ---------------------------------------------------------------------------------------------------
# Measured on Resiliparse 0.16 (lexbor; docs/robustness.md, "Hostile input, round two"): the parser is quadratic in
# the distinct attributes of one element (one <div> with 20,000: 0.74 s, 40,000: 4.9 s, 200,000: 202 s) and in the
# distinct attribute names of the page (80,000 elements with one new name each: 0.77 s, 160,000: 6.8 s); repeated
# names and attribute bytes cost linear time (one class attribute holding 40,000 classes: 0.01 s).
MAX_ATTRS = 14_000  # distinct attributes of one element (about 0.3 s)
MAX_ATTR_PAIRS = MAX_ATTRS**2  # sum over elements of their distinct attributes squared (about 0.3 s)
MAX_ATTR_NAMES = 40_000  # distinct attribute names of the page (about 0.2 s)
SAFE_ATTRS = MAX_ATTRS  # at most this many attributes in all: within every bound above, however arranged

#: a start or end tag up to (not including) its '>', the group its attributes: quoted values may hold '>' and '<',
#: as in the HTML tokenizer
_TAG_BYTES = re.compile(rb"""</?[A-Za-z][^\s/>]*+((?:[^>"']++|"[^"]*+"|'[^']*+'|["'])*+)""")
_VALUE = re.compile(rb"""=\s*+(?:"[^"]*+"|'[^']*+'|[^\s>"']*+)""")
_NAME = re.compile(rb"""[^\s/>"'=\x00]++""")
_SEPARATORS = b" \t\n\r\x0c/\"'"
#: elements whose content the tokenizer reads as text, not markup (and comments)
_RAW_OPEN = re.compile(rb"<(script|style|textarea|title|xmp|iframe|noembed)(?=[\s/>])|<!--", re.I)
_FOREIGN = re.compile(rb"<(svg|math)(?=[\s/>])|</(svg|math)(?=[\s/>])", re.I)
_RAW_CLOSE = {name: re.compile(rb"</" + name + rb"[\s/>]", re.I)
              for name in (b"script", b"style", b"textarea", b"title", b"xmp", b"iframe", b"noembed")}


def _foreign(data: bytes) -> list[tuple[int, int]]:
    """Spans of <svg> and <math> (foreign content: a <script> there is no raw text, its '<' may start tags)."""
    spans, start = [], None
    for m in _FOREIGN.finditer(data):
        if m.group(1) and start is None:
            start = m.start()
        elif m.group(2) and start is not None:
            spans.append((start, m.end()))
            start = None
    return spans + ([(start, len(data))] if start is not None else [])


def _markup(data: bytes) -> bytes:
    """The page without comments and without the content of script, style and the other raw-text elements (their
    start tags kept) outside <svg> and <math>: what the tokenizer reads as tags. One pass: each opening is followed
    by one search."""
    out, pos, foreign = [], 0, _foreign(data)
    while m := _RAW_OPEN.search(data, pos):
        if m.group(1) is not None and any(a <= m.start() < b for a, b in foreign):
            out.append(data[pos:m.end()])  # foreign content: read on as markup
            pos = m.end()
            continue
        if m.group(1) is None:
            out.append(data[pos:m.start()])
            end = data.find(b"-->", m.end())
            pos = len(data) if end == -1 else end + 3
            continue
        end = _TAG_BYTES.match(data, m.start()).end() + 1  # the start tag and its '>'
        out.append(data[pos:end])
        close = _RAW_CLOSE[m.group(1).lower()].search(data, end)
        pos = len(data) if close is None else close.start()
    out.append(data[pos:])
    return b"".join(out)


def _separators(data: bytes) -> int:
    return len(data) - len(data.translate(None, _SEPARATORS))


def attribute_counts(data: bytes, tags: list[bytes] | None = None) -> tuple[int, int, int]:
    """(most distinct attributes in one element, sum over elements of that squared, distinct attribute names) of an
    HTML page's bytes, tokenised as the HTML tokenizer does; linear in the page's length."""
    per, names = [], set()
    for tag in _TAG_BYTES.findall(_markup(data)) if tags is None else tags:
        found = {n.lower() for n in _NAME.findall(_VALUE.sub(b" ", tag))}
        per.append(len(found))  # a repeated name is dropped at once: only distinct ones cost
        names |= found
    return max(per, default=0), sum(n * n for n in per), len(names)


def too_many_attributes(html: str, raw: bytes | None = None, charset: str | None = None) -> str | None:
    """None when the page's attributes fit the budget, else why not (one line). Every attribute follows a space, a
    '/' or a quote, so a page (then: its tags) with at most ``SAFE_ATTRS`` of those is passed after one count (about
    0.2 ms on a 130 KB page); the others are tokenised and counted (about 2 ms; 0.3 s for 4 MB of attributes)."""
    data = raw if raw is not None and ascii_compatible(charset) else html.encode("utf-8", "surrogatepass")
    if _separators(data) <= SAFE_ATTRS:
        return None
    tags = _TAG_BYTES.findall(_markup(data))
    if _separators(_VALUE.sub(b"=", b"".join(tags))) <= SAFE_ATTRS:  # values removed: their spaces start nothing
        return None
    most, pairs, names = attribute_counts(data, tags)
    if most > MAX_ATTRS:
        return f"an element with {most:,} distinct attributes (more than {MAX_ATTRS:,})"
    if pairs > MAX_ATTR_PAIRS:
        return f"distinct attributes per element squared sum to {pairs:,} (more than {MAX_ATTR_PAIRS:,})"
    if names > MAX_ATTR_NAMES:
        return f"{names:,} distinct attribute names (more than {MAX_ATTR_NAMES:,})"
    return None
