"""A per-page time budget, enforced before parsing: pages whose markup would make the HTML parser or main-content
extraction quadratic are counted (``dom_too_deep``) instead of being parsed.

Measured on Resiliparse (bench/page_budget.py): main-content extraction costs about 3.7e-8 * depth**2 seconds
(20,000 nested ``<div>`` take 15 s, 100,000 take 283 s), and the parser's "any other end tag" rule walks the
stack of open elements for every unmatched end tag (``<span></x>`` repeated 80,000 times, 800 KB, takes 21 s to
parse). Both costs need a deep stack of open elements, and a page cannot open more elements than it has ``<``
characters: a page with at most ``GATE_TAGS`` of them (nearly every real page) is passed after one
``str.count``; the others are tokenised with a regex and the stack of open elements is estimated from above
(an end tag closes only its own element, a new ``<p>``/``<li>``/``<td>``... closes an open one of its kind;
markup inside scripts counts too, which can only overestimate). The scan is linear in the page's length.
"""

from __future__ import annotations

import re
from functools import lru_cache

GATE_TAGS = 10_000  # pages with fewer '<' cannot be deeper than this: at most ~3 s of extraction
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
