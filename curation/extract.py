"""HTML to main text: charset decoding, then Resiliparse (default) or Trafilatura.

Resiliparse is the default because it is about 20x faster at a small loss of extraction F1 on
the bundled benchmarks (see docs/extraction.md); DCLM uses it for the same reason. Trafilatura with
``favor_precision=True`` is FineWeb's setting (datatrove's ``Trafilatura`` extractor).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

EXTRACTORS = ("resiliparse", "trafilatura")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)


@dataclass(frozen=True)
class ExtractionConfig:
    """Which extractor runs and how; hashed into each shard's fingerprint, so a change re-extracts."""

    extractor: str = "resiliparse"
    min_text_chars: int = 1  # shorter extractions are dropped as empty_text (filters judge length later)
    # Resiliparse options (DCLM's choices: main content, keep block structure, no links/alt text/forms).
    resiliparse_main_content: bool = True
    resiliparse_list_bullets: bool = True
    # Trafilatura options (FineWeb / datatrove: favour precision, no comments, deduplicate).
    trafilatura_favor_precision: bool = True
    trafilatura_include_comments: bool = False
    trafilatura_deduplicate: bool = True

    def __post_init__(self) -> None:
        if self.extractor not in EXTRACTORS:
            raise ValueError(f"unknown extractor {self.extractor!r}; choose one of {EXTRACTORS}")
        if self.min_text_chars < 1:
            raise ValueError("min_text_chars must be >= 1")


class UndecodableError(ValueError):
    """No candidate charset decodes the payload."""


def _normalise_charset(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None


MAX_REPLACED_SHARE = 0.01  # a page may lose up to 1% of its characters to invalid bytes, no more


def decode_html(body: bytes, declared: str | None) -> tuple[str, str, str | None]:
    """Decode an HTML payload: the HTTP charset, else the <meta> charset, else uchardet's guess, else UTF-8.

    The first candidate that decodes strictly wins. Real pages often mix encodings (a UTF-8 page with a
    stray Latin-1 byte); then the first candidate decodes with replacement characters if they are at most
    1% of the text. Returns (text, charset used, note) where note is None, "charset_fallback" (the declared
    charset was unusable) or "charset_lossy"; raises UndecodableError otherwise.
    """
    from resiliparse.parse.encoding import detect_encoding

    declared_norm = _normalise_charset(declared)
    candidates: list[str] = []
    if declared_norm:
        candidates.append(declared_norm)
    m = _META_CHARSET.search(body[:4096])
    meta = _normalise_charset(m.group(1).decode("ascii", "ignore")) if m else None
    if meta and meta not in candidates:
        candidates.append(meta)
    for guess in (detect_encoding(body), "utf-8"):
        norm = _normalise_charset(guess)
        if norm and norm not in candidates:
            candidates.append(norm)
    for enc in candidates:
        try:
            text = body.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
        note = "charset_fallback" if declared and enc != declared_norm else None
        return text.lstrip("\ufeff"), enc, note
    enc = candidates[0]
    text = body.decode(enc, errors="replace")
    if text.count("\ufffd") <= MAX_REPLACED_SHARE * max(len(text), 1):
        return text.lstrip("\ufeff"), enc, "charset_lossy"
    raise UndecodableError(f"no charset decodes the payload (tried {candidates})")


class Extractor:
    """Main-text extraction with the configured library; imported lazily, built once per process."""

    def __init__(self, config: ExtractionConfig = ExtractionConfig()):
        self.config = config
        self.name = config.extractor
        if self.name == "resiliparse":
            from resiliparse.extract.html2text import extract_plain_text
            from resiliparse.parse.html import HTMLTree

            self._extract_plain_text, self._tree = extract_plain_text, HTMLTree
        else:
            import trafilatura

            self._trafilatura = trafilatura

    def __call__(self, html: str) -> str:
        c = self.config
        if self.name == "resiliparse":
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
            text = self._trafilatura.extract(
                html,
                favor_precision=c.trafilatura_favor_precision,
                include_comments=c.trafilatura_include_comments,
                deduplicate=c.trafilatura_deduplicate,
            ) or ""
        return text.strip()
