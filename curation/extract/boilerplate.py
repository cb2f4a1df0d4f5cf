"""Boilerplate removal around Resiliparse's main-content extraction: pure functions, no I/O.

Two stages, both cheap next to the HTML parse:

1. ``SKIP_SELECTORS`` (curation.extract.skip): whole DOM subtrees Resiliparse skips before text extraction. Each
   rule is one Trafilatura applies in ``xpaths.py`` (``OVERALL_DISCARD_XPATH``: footer, author/byline;
   ``DISCARD_IMAGE_ELEMENTS``: captions; ``PRECISION_DISCARD_XPATH``: ``<header>``; ``TEASER_DISCARD_XPATH``:
   teaser, any case) or that Trafilatura's output implies (no page title ``<h1>``, ``*title*`` blocks, "more ..."
   teaser boxes). Since issue 24 the selectors only find candidates: a keyword must sit in a class token that
   is not a WordPress slug (``author-jane``), and ``<body>``/``<main>``/``<article>`` or an element holding most
   of the page's text are never skipped (curation.extract.skip's docstring).
2. ``classify_blocks``: jusText's context-sensitive paragraph classification (Pomikálek 2011, *Removing
   boilerplate and duplicate content from web corpora*, ch. 3; the ``justext`` package's ``core.py``) on the
   blocks of Resiliparse's ``minimal_html`` output (headings, paragraphs, list items, bare lines, links).
   Without a stop-word list (the language is not known yet at this stage), so the classes come from length
   and links, jusText's language-independent mode: a block whose link text exceeds ``MAX_LINK_DENSITY`` of
   its text, or with ``©``, is *bad*; ``<`` ``length_low`` chars is *short*, ``>`` ``length_high`` is *good*,
   in between *near-good*; then short and near-good blocks take the class of their neighbours and headings
   are kept when a good block follows within ``max_heading_distance`` chars. One change: link-dense blocks are
   dropped but do not count as bad neighbours ("Read more: <link>" inside an article must not pull the next
   sub-heading out). Plus C4's line rule (Raffel et al. 2020, ``c4_utils.clean_page``: drop lines with
   "javascript" or a cookie/policy notice), here: blocks under 300 chars that say "javascript" or "cookie",
   and blocks under ``PHRASE_MAX_CHARS`` (120) chars that hold a boilerplate phrase (curation.extract.boilerplate_phrases:
   subscribe/log-in, share/follow, "read more"/related, comment prompts, donate, photo credits, update stamps,
   rights/ads, "click here", "listen to this article"; C4's list widened to Trafilatura's discard vocabulary;
   at line level too: a kept block's first or last ``<br>`` line that is such a notice is cut);
   and C4's terminal-punctuation rule as a hint: a short ``<p>`` of five or more words that ends like a
   sentence is near-good, not short (an article's closing line stays when good text precedes it).
   Orphan headings ("Lesen Sie auch", "Related"), comment-form notices, menus and teaser stubs between bad
   blocks are dropped; short lines between good paragraphs are kept. A table (a run of tab-separated lines:
   Resiliparse writes a row as its cells joined by tabs) is classified as one block, so a data table beside
   the article stays whole instead of losing its short rows one by one.

The thresholds were chosen on the tuning half of the benchmark pages and are reported on the other half, split by
a hash of each page's host (``bench/extraction_quality.py``: ``tune_half`` / ``report_half``). ``clean`` returns,
beside the text, what the emptying guard and the cascade of curation.extract.html decide on.
"""

from __future__ import annotations

import html as _html
import re
from dataclasses import dataclass

from curation.extract.boilerplate_phrases import is_notice, trim_edge_lines
from curation.extract.skip import CANDIDATES as SKIP_SELECTORS  # noqa: F401  (candidates only; re-exported)

# jusText's defaults (justext.core) except LENGTH_HIGH (200 there) and MAX_LINK_DENSITY (0.2 there): tuned on
# the tuning half of the benchmark pages.
LENGTH_LOW = 70
LENGTH_HIGH = 100
MAX_HEADING_DISTANCE = 200
MAX_LINK_DENSITY = 0.3
NOTICE_MAX_CHARS = 300
PHRASE_MAX_CHARS = 120  # blocks shorter than this that hold a boilerplate phrase are bad (tuning half)
_SENTENCE_END = (".", "!", "?", '"', "”", "“", "»", "«", "…")
_TAG = re.compile(r"<(/?)(h[1-6]|p|ul|ol|li|pre|br|a)\b[^>]*>", re.I)


@dataclass(slots=True)
class Block:
    kind: str  # "h" heading, "p" paragraph, "li" list item, "pre", "t" bare text line
    text: str
    cls: str = ""  # context-free class, then the final one: good / bad / short / neargood
    link_chars: int = 0  # characters inside <a> elements


def blocks_from_minimal_html(s: str) -> list[Block]:
    """Split Resiliparse's ``preserve_formatting='minimal_html'`` output into blocks, entities unescaped.

    Resiliparse sometimes leaves an ``<a>`` unclosed: a link ends at the end of its block at the latest.
    """
    out: list[Block] = []
    buf: list[str] = []
    kind, link_chars, in_link = "t", 0, False
    parts = _TAG.split(s + "<br>")  # text, close, tag, text, ...; a sentinel break flushes the tail
    for k in range(0, len(parts) - 1, 3):
        seg, close, tag = parts[k], parts[k + 1], parts[k + 2].lower()
        if kind == "t" and "\n" in seg:  # bare text: each line is a block, as in the plain-text output
            *lines, seg = seg.split("\n")
            for line in lines:
                buf.append(line)
                t = "".join(buf).strip()
                if t:
                    out.append(Block(kind, _html.unescape(t), "", link_chars + (len(line.strip()) if in_link else 0)))
                buf, link_chars, in_link = [], 0, False
        elif kind not in ("t", "pre"):
            seg = seg.replace("\n", " ")
        buf.append(seg)
        if in_link:
            link_chars += len(seg.strip())
        if tag == "a":
            in_link = not close
            continue
        if tag == "br":
            buf.append("\n")
            if k + 3 < len(parts) - 1:
                continue
        t = "".join(buf).strip()
        if t:
            out.append(Block(kind, _html.unescape(t), "", link_chars))
        buf, link_chars, in_link = [], 0, False
        if tag != "br":
            kind = "t" if close or tag in ("ul", "ol") else "h" if tag[0] == "h" else tag
    return out


def _classify(blocks: list[Block], length_low: int, length_high: int, phrase_max_chars: int) -> None:
    for b in blocks:  # jusText classify_paragraphs with stop-word thresholds 0 (language-independent)
        n = len(b.text)
        low = b.text.lower() if n < NOTICE_MAX_CHARS else ""
        if "\xa9" in b.text or "javascript" in low or "cookie" in low or (n < phrase_max_chars and is_notice(low)):
            b.cls = "bad"
        else:
            b.cls = "short" if n < length_low else "good" if n > length_high else "neargood"
            if b.cls == "short" and b.kind == "p" and b.text.endswith(_SENTENCE_END) and b.text.count(" ") >= 4:
                b.cls = "neargood"  # a short paragraph that is a whole sentence (C4: lines ending in punctuation)


def _nearest(classes: list[str], accept: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """For each block, the class of the nearest block before / after it whose class is in ``accept`` ("bad" at
    the edges): justext.core's get_prev_neighbour / get_next_neighbour in two linear passes."""
    prev, nxt, last = [], [""] * len(classes), "bad"
    for c in classes:
        prev.append(last)
        last = c if c in accept else last
    last = "bad"
    for i in range(len(classes) - 1, -1, -1):
        nxt[i] = last
        last = classes[i] if classes[i] in accept else last
    return prev, nxt


def _good_follows(blocks: list[Block], i: int, max_distance: int) -> bool:
    dist, j = 0, i + 1
    while j < len(blocks) and dist <= max_distance:
        if blocks[j].cls == "good":
            return True
        dist += len(blocks[j].text)
        j += 1
    return False


def _tables(blocks: list[Block]) -> tuple[list[Block], list[tuple[Block, list[Block]]]]:
    """Runs of two or more tab-separated bare lines (Resiliparse writes a table row as its cells joined by tabs)
    merged into one block each, so a table is kept or dropped whole, as jusText classifies a paragraph whole:
    (the blocks with each table merged, [(merged block, the rows it stands for)])."""
    if not any("\t" in b.text for b in blocks):
        return blocks, []
    out: list[Block] = []
    merged: list[tuple[Block, list[Block]]] = []
    i = 0
    while i < len(blocks):
        j = i
        while j < len(blocks) and blocks[j].kind == "t" and "\t" in blocks[j].text:
            j += 1
        if j - i >= 2:
            rows = blocks[i:j]
            merged.append((Block("t", "\n".join(r.text for r in rows), "", sum(r.link_chars for r in rows)), rows))
            out.append(merged[-1][0])
            i = j
        else:
            out.append(blocks[i])
            i += 1
    return out, merged


def classify_blocks(blocks: list[Block], length_low: int = LENGTH_LOW, length_high: int = LENGTH_HIGH,
                    max_heading_distance: int = MAX_HEADING_DISTANCE,
                    max_link_density: float = MAX_LINK_DENSITY, phrase_max_chars: int | None = None,
                    tables: bool = True) -> list[Block]:
    """jusText's context-free then context-sensitive classification (justext.core.revise_paragraph_classification).

    Sets each block's ``cls`` to good or bad; link-dense blocks are bad and invisible to their neighbours; the
    rows of a table share one class (``tables=False``: each row is classified alone, as before issue 16's second
    pass; ``phrase_max_chars=0`` turns the phrase rule off).
    """
    units, merged = _tables(blocks) if tables else (blocks, [])
    rest = []
    for b in units:
        if b.link_chars > max_link_density * len(b.text):
            b.cls = "bad"
        else:
            rest.append(b)
    _revise(rest, length_low, length_high, max_heading_distance,
            PHRASE_MAX_CHARS if phrase_max_chars is None else phrase_max_chars)
    for b, rows in merged:
        for r in rows:
            r.cls = b.cls
    return blocks


def _revise(blocks: list[Block], length_low: int, length_high: int, max_heading_distance: int,
            phrase_max_chars: int) -> None:
    _classify(blocks, length_low, length_high, phrase_max_chars)
    cf = [b.cls for b in blocks]
    for i, b in enumerate(blocks):  # short headings just before good text become near-good
        if b.kind == "h" and b.cls == "short" and _good_follows(blocks, i, max_heading_distance):
            b.cls = "neargood"
    cls = [b.cls for b in blocks]
    prev_gb, next_gb = _nearest(cls, ("good", "bad"))
    prev_any, next_any = _nearest(cls, ("good", "bad", "neargood"))
    for i, b in enumerate(blocks):  # short blocks take the class of their good/bad neighbours
        if cls[i] != "short":
            continue
        prev, nxt = prev_gb[i], next_gb[i]
        if prev == nxt:
            b.cls = prev
        elif (prev == "bad" and prev_any[i] == "neargood") or (nxt == "bad" and next_any[i] == "neargood"):
            b.cls = "good"
        else:
            b.cls = "bad"
    _, next_gb = _nearest([b.cls for b in blocks], ("good", "bad"))
    last = "bad"
    for i, b in enumerate(blocks):  # near-good blocks are bad only between two bad ones (in order, as jusText)
        if b.cls == "neargood":
            b.cls = "bad" if last == "bad" and next_gb[i] == "bad" else "good"
        if b.cls in ("good", "bad"):
            last = b.cls
    for i, b in enumerate(blocks):  # more good headings
        if b.kind == "h" and b.cls == "bad" and cf[i] != "bad" and _good_follows(blocks, i, max_heading_distance):
            b.cls = "good"


def render(blocks: list[Block]) -> str:
    """Plain text: blocks separated by blank lines, list items prefixed with a bullet as Resiliparse does."""
    return "\n\n".join(("• " + b.text) if b.kind == "li" else b.text for b in blocks)


@dataclass(slots=True)
class Cleaned:
    text: str
    chars: int  # characters of all blocks: Resiliparse's main content after the skip rules
    kept: int  # characters of the blocks kept
    link_chars: int  # characters inside links, over all blocks


def clean(s: str, **params) -> Cleaned:
    """The blocks jusText's classification keeps, from Resiliparse ``minimal_html`` output, with the counts."""
    blocks = classify_blocks(blocks_from_minimal_html(s), **params)
    chars = sum(len(b.text) for b in blocks)
    kept = [b for b in blocks if b.cls == "good"]
    limit = params.get("phrase_max_chars")
    for b in kept:
        b.text = trim_edge_lines(b.text, PHRASE_MAX_CHARS if limit is None else limit)
    return Cleaned(render(kept), chars, sum(len(b.text) for b in kept), sum(b.link_chars for b in blocks))


def clean_minimal_html(s: str, **params) -> str:
    """The text of the blocks jusText's classification keeps, from Resiliparse ``minimal_html`` output."""
    return clean(s, **params).text
