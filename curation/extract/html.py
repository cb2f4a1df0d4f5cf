"""HTML to main text: charset decoding, then Resiliparse + boilerplate removal (default), Resiliparse or Trafilatura.

The default, ``resiliparse+clean``, runs Resiliparse's main-content extraction with Trafilatura-style skip
rules (curation.extract.skip) and then jusText-style block classification (curation.extract.boilerplate). Two
checks send a page to Trafilatura instead (issue 24; docs/stages/extraction.md, "Held-out figures"):

- the emptying guard: the cleaner kept less than ``guard_kept_share`` of a main content of at least
  ``guard_min_chars`` characters, or nothing at all. Decided again on evidence: when most of that text is link
  text (``guard_max_link_density``) the page is a link list and the short output stands; else Trafilatura runs on
  this page and its text is taken when longer. Counted as the note ``extraction_guard``;
- the cascade, an option (off by default): the cleaner dropped more than ``cascade_bad_share`` of the main content
  (it looks like boilerplate): Trafilatura's text is taken (when it has any). Counted as ``extraction_cascade``.

``Extractor.last_note`` says which of the two the last page met (None: neither); ``Extractor.last_route`` names the
extractor whose text the last page got (``trafilatura`` where the guard or the cascade took Trafilatura's text, else
the configured one): the ``documents`` table's ``extractor`` column. Plain ``resiliparse`` is DCLM's
setting; Trafilatura with ``favor_precision=True`` is FineWeb's (datatrove's ``Trafilatura`` extractor).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

EXTRACTORS = ("resiliparse+clean", "resiliparse", "trafilatura")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
#: Characters nobody sees that split the words around them, removed from ``resiliparse+clean``'s text: the soft
#: hyphen (``&shy;``, German and French sites hyphenate long words with it: "Ver\xadwal\xadtung"), zero-width space,
#: word joiner, a byte-order mark inside the text, and C0/C1 control characters other than tab and newlines.
#: Trafilatura drops them too (``utils.remove_control_characters``). Zero-width (non-)joiners and bidi marks stay:
#: Persian, Indic scripts and emoji sequences need them.
INVISIBLE = re.compile("[\u00ad\u200b\u2060\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class ExtractionConfig:
    """Which extractor runs and how; hashed into each shard's fingerprint, so a change re-extracts."""

    extractor: str = "resiliparse+clean"  # Resiliparse, then curation.extract.boilerplate (README, extraction table)
    min_text_chars: int = 1  # shorter extractions are dropped as empty_text (filters judge length later)
    # Resiliparse options (DCLM's choices: main content, keep block structure, no links/alt text/forms).
    resiliparse_main_content: bool = True
    resiliparse_list_bullets: bool = True
    # Trafilatura options (FineWeb / datatrove: favour precision, no comments, deduplicate).
    trafilatura_favor_precision: bool = True
    trafilatura_include_comments: bool = False
    trafilatura_deduplicate: bool = True
    # resiliparse+clean's emptying guard and cascade to Trafilatura (docs/stages/extraction.md, "Held-out figures").
    # The cascade is off by default (1.0): it costs a third of the pages per CPU-second; 0.35 is the threshold
    # chosen on the tuning half of the benchmark pages (bench/extraction_quality.py --sweep). guard=False: no guard.
    guard_min_chars: int = 300  # "a few hundred characters" of main content ...
    guard_kept_share: float = 0.1  # ... of which the cleaner kept less than this share: the guard fires
    guard_max_link_density: float = 0.5  # link text above this share: a link list, the short output stands
    cascade_bad_share: float = 1.0  # the cleaner dropped more than this share: Trafilatura's text instead
    guard: bool = True

    def __post_init__(self) -> None:
        if self.extractor not in EXTRACTORS:
            raise ValueError(f"unknown extractor {self.extractor!r}; choose one of {EXTRACTORS}")
        if self.min_text_chars < 1:
            raise ValueError("min_text_chars must be >= 1")
        for name in ("guard_kept_share", "guard_max_link_density", "cascade_bad_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)!r}")


class UndecodableError(ValueError):
    """No candidate charset decodes the payload."""


#: Text codecs that are not web charsets: their decoders raise UnicodeError on ordinary bytes or turn markup into
#: something else (codecs.lookup accepts them, and bytes-to-bytes codecs such as base64 or rot13, as charsets).
_NOT_CHARSETS = frozenset({"idna", "punycode", "unicode-escape", "raw-unicode-escape", "utf-7", "undefined"})


#: The WHATWG Encoding Standard's label mapping, as browsers decode (encoding.spec.whatwg.org, "Names and labels"):
#: a page labelled ISO-8859-1 or latin1 is decoded as windows-1252, whose 0x80-0x9F bytes are the curly quotes and
#: dashes such pages hold (Python's latin-1 makes them C1 control characters); ISO-8859-9 as windows-1254, TIS-620
#: and ISO-8859-11 as windows-874, GB2312 and GBK as GB18030, EUC-KR as windows-949, Shift_JIS as windows-31J and
#: Big5 with the HKSCS extensions. Each is a superset of the label's own charset.
WHATWG_CHARSETS = {"iso8859-1": "cp1252", "iso8859-9": "cp1254", "iso8859-11": "cp874", "tis-620": "cp874",
                   "gb2312": "gb18030", "gbk": "gb18030", "euc_kr": "cp949", "shift_jis": "cp932", "big5": "big5hkscs"}


def _normalise_charset(name: str | None) -> str | None:
    """The codec name for a declared charset, or None when it names no text codec a web page can use. Labels are
    mapped as the WHATWG Encoding Standard maps them (``WHATWG_CHARSETS``)."""
    codec = _codec_name(name)
    return WHATWG_CHARSETS.get(codec, codec) if codec else None


def _codec_name(name: str | None) -> str | None:
    if not name:
        return None
    try:
        info = codecs.lookup(name.strip().strip("\"'"))
    except (LookupError, ValueError, TypeError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None  # base64, hex, zlib, bz2, uu, quopri, rot13...: bytes-to-bytes or str-to-str, not a charset
    return info.name


def _with_own(names: list[str]) -> list[str]:
    """``names`` followed by the label's own charset where windows-1252 stands for latin-1: windows-1252 leaves five
    bytes undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D), and latin-1 decodes every byte (as before the mapping)."""
    return names + ["iso8859-1"] if "cp1252" in names and "iso8859-1" not in names else names


def _decode(body: bytes, enc: str, errors: str = "strict") -> str | None:
    """``body`` decoded with ``enc``, or None when it does not decode (whatever the codec raises)."""
    try:
        return body.decode(enc, errors)
    except Exception:  # UnicodeError, and anything an exotic codec may raise: a page can never stop the shard
        return None


def _plausible(body: bytes, text: str) -> bool:
    """False when a charset turned visible ASCII markup into something else (utf-16 on ASCII bytes gives CJK).

    An HTML page whose first 4 KB hold a ``<`` byte must decode to text holding ``<``: every ASCII-compatible
    charset keeps it, real UTF-16/32 pages hold it as ``<\\0`` which decodes to ``<`` too.
    """
    return b"<" not in body[:4096] or "<" in text[:8192]


MAX_REPLACED_SHARE = 0.01  # a page may lose up to 1% of its characters to invalid bytes, no more


def decode_html(body: bytes, declared: str | None) -> tuple[str, str, str | None]:
    """Decode an HTML payload: the HTTP charset, else the <meta> charset, else uchardet's guess, else UTF-8. A payload
    that is valid UTF-8 with non-ASCII bytes is UTF-8 whatever it is labelled (note ``charset_fallback`` unless the
    page's ``<meta>`` says so).

    A stated charset (HTTP header, then <meta>) that decodes strictly to plausible text wins. Real pages often
    mix encodings (a UTF-8 page with a stray Latin-1 byte): then the stated charset is kept with replacement
    characters if they are at most 1% of the text, rather than a detector's guess that would garble every
    non-ASCII letter. Never raises anything but UndecodableError, whatever the page declares.

    Returns (text, charset used, note) with note None, "charset_fallback" (the declared charset is no text
    codec, unknown, or does not decode), "charset_implausible" (it decodes, but to text that lost the page's
    markup, e.g. utf-16 declared on ASCII bytes) or "charset_lossy"; raises UndecodableError when nothing decodes.
    WHATWG's ``x-user-defined`` is a codec too (curation.extract.charsets): it always decodes.
    """
    from resiliparse.parse.encoding import detect_encoding

    from curation.extract import charsets  # noqa: F401  (registers x-user-defined)

    declared_norm = _normalise_charset(declared)
    stated: list[str] = [declared_norm] if declared_norm else []
    m = _META_CHARSET.search(body[:4096])
    meta_raw = m.group(1).decode("ascii", "ignore") if m else None
    meta = _normalise_charset(meta_raw)
    if meta and meta not in stated:
        stated.append(meta)
    stated = _with_own(stated)
    strict = stated
    if stated and stated[0] != "utf-8" and not body.isascii():
        # Valid UTF-8 with multi-byte sequences is UTF-8, whatever the label says: legacy text is almost never valid
        # UTF-8, while a UTF-8 page behind a server's default "charset=ISO-8859-1" is common, and windows-1252,
        # GB18030, windows-949 and windows-31J all decode UTF-8 bytes into mojibake without an error.
        text = _decode(body, "utf-8")
        if text is not None and _plausible(body, text):
            return text.lstrip("\ufeff"), "utf-8", None if "utf-8" in stated else "charset_fallback"
        strict = [e for e in stated if e != "utf-8"]  # UTF-8 was just tried strictly
    implausible = False
    for enc in strict:  # what the server or the page says, strictly
        text = _decode(body, enc)
        if text is None:
            continue
        if not _plausible(body, text):
            implausible = True
            continue
        return text.lstrip("\ufeff"), enc, None if enc == declared_norm or not declared else "charset_fallback"
    for enc in stated:  # ... or with a few bad bytes replaced: better than a wrong guess that garbles all text
        text = _decode(body, enc, "replace")
        if text is not None and _plausible(body, text) and text.count("\ufffd") <= MAX_REPLACED_SHARE * max(len(text), 1):
            return text.lstrip("\ufeff"), enc, "charset_lossy"
    note = "charset_implausible" if implausible else ("charset_fallback" if declared or meta_raw else None)
    guesses = [g for g in (_normalise_charset(_detect(detect_encoding, body)), "utf-8")
               if g and g not in stated]
    for enc in guesses:
        text = _decode(body, enc)
        if text is not None and _plausible(body, text):
            return text.lstrip("\ufeff"), enc, note
    raise UndecodableError(f"no charset decodes the payload (tried {stated + guesses})")


def _detect(detect_encoding, body: bytes) -> str | None:
    try:
        return detect_encoding(body)
    except Exception:
        return None


class Extractor:
    """Main-text extraction with the configured library; imported lazily, built once per process."""

    def __init__(self, config: ExtractionConfig = ExtractionConfig()):
        self.config = config
        self.name = config.extractor
        self.last_note: str | None = None  # "extraction_guard" / "extraction_cascade": what the last page met
        self.last_route: str = self.name  # whose text the last page got: the configured extractor or "trafilatura"
        self._trafilatura = None
        if self.name.startswith("resiliparse"):
            from resiliparse.extract.html2text import extract_plain_text
            from resiliparse.parse.html import HTMLTree

            self._extract_plain_text, self._tree = extract_plain_text, HTMLTree
            if self.name == "resiliparse+clean":
                from curation.extract import boilerplate, skip

                self._boilerplate, self._skip = boilerplate, skip
        else:
            import trafilatura

            self._trafilatura = trafilatura

    def _traf(self, html: str) -> str:
        """Trafilatura's text for one page. Its ``deduplicate`` gets a cache of this page alone: with ``True`` it uses
        one cache per process, so a paragraph, or a whole page, seen on an earlier page of the same worker is dropped
        and a page's text depends on which pages its worker read before (a rerun or another shard count would write
        other text; FineWeb's datatrove runs it that way). Repeats within the page are still removed."""
        if self._trafilatura is None:
            import trafilatura

            self._trafilatura = trafilatura
        c = self.config
        dedup = False
        if c.trafilatura_deduplicate:
            from trafilatura.deduplication import LRUCache
            from trafilatura.settings import LRU_SIZE

            dedup = LRUCache(maxsize=LRU_SIZE)  # imports above: modules already loaded with trafilatura, a lookup
        return (self._trafilatura.extract(html, favor_precision=c.trafilatura_favor_precision,
                                          include_comments=c.trafilatura_include_comments,
                                          deduplicate=dedup) or "").strip()

    def cleaned(self, html: str):
        """Resiliparse with the skip rules, then the cleaner: a curation.extract.boilerplate.Cleaned."""
        tree = self._tree.parse(html)
        self._skip.mark_skipped(tree)
        return self._boilerplate.clean(self._extract_plain_text(
            tree,
            main_content=True,
            preserve_formatting="minimal_html",
            list_bullets=False,
            alt_texts=False,
            links=True,  # marks link text for the link density; no URLs end up in the text
            form_fields=False,
            noscript=False,
            comments=False,
            skip_elements=self._skip.SKIP,
        ))

    def _clean_route(self, html: str) -> str:
        c, r = self.config, self.cleaned(html)
        text = r.text.strip()
        if c.guard and (not text or (r.chars >= c.guard_min_chars and r.kept < c.guard_kept_share * r.chars)):
            self.last_note = "extraction_guard"
            if not text or r.link_chars <= c.guard_max_link_density * r.chars:  # not a link list: ask Trafilatura
                other = self._second_look(html)
                return self._took(other) if len(other) > len(text) else text
            return text
        if r.chars and r.kept < (1.0 - c.cascade_bad_share) * r.chars:
            self.last_note = "extraction_cascade"
            other = self._second_look(html)
            return self._took(other) if other else text
        return text

    def _took(self, text: str) -> str:
        """Trafilatura's text replaces the cleaner's: the page's route says so."""
        self.last_route = "trafilatura"
        return text

    def _second_look(self, html: str) -> str:
        """Trafilatura's text for the guard or the cascade; "" where it fails (the cleaner's text then stands)."""
        try:
            return self._traf(html)
        except Exception:  # lxml or Trafilatura on a hostile page: the page keeps what the cleaner found
            return ""

    def __call__(self, html: str) -> str:
        c = self.config
        self.last_note, self.last_route = None, self.name
        if self.name == "resiliparse+clean":
            text = INVISIBLE.sub("", self._clean_route(html))
        elif self.name == "resiliparse":
            tree = self._tree.parse(html)
            text = self._extract_plain_text(
                tree,
                main_content=c.resiliparse_main_content,
                preserve_formatting=True,
                list_bullets=c.resiliparse_list_bullets,
                alt_texts=False,
                links=False,
                form_fields=False,
                noscript=False,
            )
        else:
            text = self._traf(html)
        return text.strip()
