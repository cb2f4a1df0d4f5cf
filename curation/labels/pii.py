"""Personal data in text: e-mail addresses, phone numbers, public IP addresses, payment card numbers and IBANs, as
character spans with a type and a confidence, and their redaction with readable placeholders.

Every number is checked before it counts: cards by IIN and Luhn, IBANs by the country's length and mod-97, IPs by
being public (not private, loopback, link-local, multicast, reserved), phones by the digit counts of their format
(E.164 with +CC or 00CC; national US/NANP, UK, DE, FR). Context rules keep look-alikes out: an identifier keyword
right before the number (ISBN, DOI, order, invoice, version, v, build, section...), a ``#`` right before it, or a
currency sign next to it. Dates, times, year ranges and prices do not fit the formats in the first place.
Offsets are Python string indices (code points). Pure code: no Dagster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

from curation.core.keep import PII_PLACEHOLDERS

from curation.labels import pii_rules as R

PII_TYPES = ("email", "phone", "ip", "credit_card", "iban")
PLACEHOLDERS = PII_PLACEHOLDERS  # defined once in curation.core.keep: the mixture writes them too
PII_VERSION = "pii-1"  # bump when a pattern, a check or a context rule changes
PII_SPAN_TYPE = pa.struct([("type", pa.string()), ("start", pa.int32()), ("end", pa.int32()),
                           ("confidence", pa.float32())])
PII_SCHEMA = pa.schema([("id", pa.string()), ("pii_types", pa.list_(pa.string())),
                        ("pii_spans", pa.list_(PII_SPAN_TYPE))])
# when two candidates overlap, the better-checked type wins
_PRIORITY = {"iban": 5, "credit_card": 4, "email": 3, "ip": 2, "phone": 1}


@dataclass(frozen=True)
class PiiSpan:
    type: str
    start: int
    end: int
    confidence: float


_IDS = (r"isbn(?:-1[03])?|issn|e?doi|lccn|oclc|asin|ean|gtin|upc|barcode|arxiv|pmid|pmcid|control|order|invoice|receipt|tracking|sku"
        r"|serial|item|part|model|ticket|ref|reference|patent|account|customer|booking|confirmation|transaction")
_VERSIONS = r"version|ver|v|build|release|firmware|fw|rev|revision|update|patch|kb|section|chapter|art|rule|step|table"
_SUFFIX = r"(?:\s*(?:no|nr|num|number|id|code|#)\b\.?)?[\s:#.\-=]*$"
_BLOCK_ID = re.compile(rf"\b(?:{_IDS})\b\.?{_SUFFIX}", re.IGNORECASE)  # for cards: identifiers only
_BLOCK_NUM = re.compile(rf"(?:\b(?:{_IDS}|{_VERSIONS})\b\.?{_SUFFIX}|[#§№]\s*:?\s*$)", re.IGNORECASE)  # phones and IPs
_PHONE_LABEL = re.compile(r"\b(?:phone|tel|fax|cell|mobile)\.?\s*(?:#|no\b\.?|number)?\s*:?\s*$", re.IGNORECASE)
_CURRENCY_BEFORE = re.compile(r"(?:[$€£¥₹]|\b(?:usd|eur|gbp|chf|inr|rs)\.?)\s*$", re.IGNORECASE)
_CURRENCY_AFTER = re.compile(r"^\s*(?:[$€£¥₹%]|(?:usd|eur|gbp|chf|dollars?|euros?)\b)", re.IGNORECASE)
_KEYWORDS = {
    "phone": re.compile(r"\b(?:tel|phone|telephone|call|fax|mobile|mob|cell|whatsapp|contact|sms|telefon|telefono"
                        r"|t[ée]l[ée]phone|t[ée]l|handy|mobil|portable|num[ée]ro|rufnummer|hotline)\b", re.IGNORECASE),
    "ip": re.compile(r"\b(?:ip|ipv4|ipv6|address|addr|server|host|dns|ping|client|proxy|gateway)\b", re.IGNORECASE),
    "credit_card": re.compile(r"\b(?:card|visa|mastercard|amex|credit|debit|cc|kreditkarte|carte)\b", re.IGNORECASE),
}
# where numbers with separators can be (the patterns run from 3 characters before, for "+", "(+" or "(")
_CLUSTER = re.compile(r"\d[\d \u00a0().\-/]{5,}\d")
_DIGIT = re.compile(r"\d")
_DOLMA_WORDS = ("isbn", "doi", "#")


class PiiDetector:
    """The detector. ``dolma_window`` > 0 adds Dolma's rule (drop a phone or IP when "isbn", "doi" or "#" occurs
    within that many characters either side); the default leaves it off (see docs/stages/labels.md for why)."""

    def __init__(self, dolma_window: int = 0):
        self.dolma_window = dolma_window

    def find(self, text: str, types=PII_TYPES) -> list[PiiSpan]:
        if not isinstance(text, str):
            raise TypeError(f"find_pii: text must be str, not {type(text).__name__}")
        wanted = set(types)
        unknown = wanted - set(PII_TYPES)
        if unknown:
            raise ValueError(f"find_pii: unknown PII types {sorted(unknown)}; known: {', '.join(PII_TYPES)}")
        cands: list[PiiSpan] = []
        if "email" in wanted and "@" in text:
            cands.extend(self._emails(text))
        if wanted & {"phone", "ip", "credit_card", "iban"} and _DIGIT.search(text):
            shaped = list(R.IBAN.finditer(text))  # IBAN-shaped, valid or not: no phone or card inside one
            if "iban" in wanted:
                cands.extend(self._ibans(text, shaped))
            if wanted & {"phone", "ip", "credit_card"}:
                cands.extend(s for s in self._numbers(text, wanted)
                             if not any(m.start() < s.end and s.start < m.end() for m in shaped))
            if "ip" in wanted and ("::" in text or text.count(":") >= 7 and R.IPV6_HINT.search(text)):
                cands.extend(self._ipv6(text))
        return _resolve(cands)

    # --- per type -----------------------------------------------------------------------------------------------
    def _emails(self, text):
        for m in R.EMAIL.finditer(text):
            if m.group().rsplit(".", 1)[-1].lower() not in R.FILE_TLDS:
                yield PiiSpan("email", m.start(), m.end(), 0.95)

    def _ibans(self, text, shaped):
        for m in shaped:
            end = R.iban_end(text, m.start(), m.end())
            if end is not None:
                yield PiiSpan("iban", m.start(), end, 0.97)

    def _ipv6(self, text):
        for m in R.IPV6.finditer(text):
            value = m.group()
            end = m.end()
            if value.endswith(":") and not value.endswith("::"):
                value, end = value[:-1], end - 1
            if value.count(":") >= 2 and R.public_ip(value) and self._context_ok(text, m.start(), end, "ip"):
                yield PiiSpan("ip", m.start(), end, self._confidence(text, m.start(), "ip", 0.85))

    def _numbers(self, text, wanted):
        seen = set()
        n = len(text)
        for c in _CLUSTER.finditer(text):
            pos, endpos = max(0, c.start() - 3), min(n, c.end() + 16)  # room for "+", "(+" and " ext. 123"
            found = []
            if "ip" in wanted:
                found += [("ip", m.start(), m.end(), 0.85) for m in R.IPV4.finditer(text, pos, endpos)
                          if R.public_ip(m.group())]
            if "credit_card" in wanted:
                found += [("credit_card", m.start(), end, 0.9 if m.lastindex else 0.8)
                          for m in R.CARD.finditer(text, pos, endpos) if (end := R.card_end(text, m)) is not None]
            if "phone" in wanted:
                found += self._phones(text, pos, endpos)
            for key in found:
                if key not in seen:
                    seen.add(key)
                    kind, start, end, conf = key
                    if self._context_ok(text, start, end, kind):
                        yield PiiSpan(kind, start, end, self._confidence(text, start, kind, conf))

    def _phones(self, text, pos, endpos):
        out = []
        for kind, pattern, conf in R.PHONE_PATTERNS:
            for m in pattern.finditer(text, pos, endpos):
                start, end, c = m.start(), m.end(), conf
                end = R.trim_phone(kind, text, start, end) if kind != "raw" else end
                if end is None or kind == "raw" and not R.phone_digits_ok(kind, m.group()):
                    continue
                if kind == "raw" and not _KEYWORDS["phone"].search(text, max(0, start - 40), start):
                    if not R.bare_phone_ok(m.group()):
                        continue
                    c = 0.5  # no phone word: a valid national number, but could be another identifier
                if kind == "nanp" and not R.nanp_plausible(text[start:end]):
                    c = 0.6
                out.append(("phone", start, end, c))
        return out

    # --- context ----------------------------------------------------------------------------------------------
    def _context_ok(self, text: str, start: int, end: int, kind: str) -> bool:
        before = text[max(0, start - 32):start]
        block = _BLOCK_ID if kind == "credit_card" else _BLOCK_NUM
        labelled = kind == "phone" and _PHONE_LABEL.search(before)  # "Phone #: ...", "Tel. No. ..."
        if block.search(before) and not labelled:
            return False
        if _CURRENCY_BEFORE.search(before) or _CURRENCY_AFTER.match(text, end, end + 12):
            return False
        if self.dolma_window and kind in ("phone", "ip"):
            w = self.dolma_window
            around = text[max(0, start - w):end + w].lower()
            if any(word in around for word in _DOLMA_WORDS):
                return False
        return True

    @staticmethod
    def _confidence(text: str, start: int, kind: str, base: float) -> float:
        if _KEYWORDS[kind].search(text, max(0, start - 40), start):
            return min(0.99, base + 0.09)
        return base


def _resolve(cands: list[PiiSpan]) -> list[PiiSpan]:
    """Non-overlapping spans sorted by start: the better-checked type, then the longer span, wins an overlap."""
    if len(cands) < 2:
        return list(cands)
    order = sorted(cands, key=lambda s: (-_PRIORITY[s.type], -(s.end - s.start), s.start))
    kept: list[PiiSpan] = []
    for s in order:
        if all(s.end <= k.start or s.start >= k.end for k in kept):
            kept.append(s)
    return sorted(kept, key=lambda s: s.start)


_DEFAULT = PiiDetector()


def find_pii(text: str, types=PII_TYPES) -> list[PiiSpan]:
    """The personal-data spans of ``text`` of the given types, sorted by start and non-overlapping."""
    return _DEFAULT.find(text, types)


def _span_fields(span) -> tuple[str, int, int]:
    if isinstance(span, dict):
        return span["type"], int(span["start"]), int(span["end"])
    return span.type, int(span.start), int(span.end)


def redact(text: str, spans, types=PII_TYPES) -> str:
    """``text`` with each span whose type is in ``types`` replaced by its placeholder (``PLACEHOLDERS``); every
    other character stays as it was. ``spans`` are PiiSpan objects or dicts with type/start/end (a table row)."""
    wanted = set(types)
    if wanted - set(PII_TYPES):
        raise ValueError(f"redact: unknown PII types {sorted(wanted - set(PII_TYPES))}; known: {', '.join(PII_TYPES)}")
    parts, last = [], 0
    for kind, start, end in sorted((_span_fields(s) for s in spans), key=lambda t: t[1]):
        if kind not in wanted:
            continue
        if start < last or end > len(text) or start > end:
            raise ValueError(f"redact: span {kind} [{start}, {end}) overlaps another or lies outside the text "
                             f"({len(text)} characters)")
        parts.append(text[last:start])
        parts.append(PLACEHOLDERS[kind])
        last = end
    parts.append(text[last:])
    return "".join(parts)


def pii_table(ids, texts, types=PII_TYPES) -> pa.Table:
    """One row per document (``PII_SCHEMA``): its id, the distinct types found (sorted) and the spans. A missing
    text (None) has no spans."""
    ids, texts = list(ids), list(texts)
    if len(ids) != len(texts):
        raise ValueError(f"pii_table: {len(ids)} ids but {len(texts)} texts")
    kinds, spans = [], []
    for doc_id, text in zip(ids, texts):
        if text is not None and not isinstance(text, str):
            raise TypeError(f"pii_table: document {doc_id!r}: text must be str or None, not {type(text).__name__}")
        found = find_pii(text, types) if text else []
        kinds.append(sorted({s.type for s in found}))
        spans.append([{"type": s.type, "start": s.start, "end": s.end, "confidence": s.confidence} for s in found])
    return pa.table({"id": pa.array([None if i is None else str(i) for i in ids], pa.string()),
                     "pii_types": pa.array(kinds, pa.list_(pa.string())),
                     "pii_spans": pa.array(spans, pa.list_(PII_SPAN_TYPE))}, schema=PII_SCHEMA)
