"""Reading WARC files with FastWARC, robust to the damage real crawls carry.

Yields the HTTP 200 HTML responses of a file as :class:`Page` records (payload bytes, not yet decoded)
and counts every record it skips, with the reason. A corrupt gzip member is skipped by resynchronising
on the next member; a truncated file is detected (FastWARC stops silently there) and counted; a record whose
Content-Length runs past the next record is counted ``length_mismatch`` and reading resumes at that next record
(curation.extract.warc_framing).
"""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator

from fastwarc.warc import ArchiveIterator, WarcRecordType

from curation.extract import warc_framing as framing
HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml+xhtml", "text/xhtml")
_RECORD_TYPES = WarcRecordType.response | WarcRecordType.revisit | WarcRecordType.resource | WarcRecordType.conversion
_MAX_RESYNCS = 1000


@dataclass(frozen=True)
class WarcLimits:
    """Caps that keep one pathological record from stalling or exhausting a worker."""

    max_payload_bytes: int = 4 * 1024 * 1024  # larger HTML payloads are counted as too_large and skipped
    max_decoded_bytes: int = 16 * 1024 * 1024  # cap on Content-Encoding decompression (zip bombs)
    max_member_bytes: int = framing.MAX_MEMBER_BYTES  # cap on inflating one gzip member outside FastWARC

    def __post_init__(self) -> None:
        if self.max_payload_bytes <= 0 or self.max_decoded_bytes <= 0:
            raise ValueError("WARC limits must be positive")


@dataclass
class Page:
    """An HTTP 200 HTML response: where it is, what the server said, and its raw payload."""

    offset: int
    record_id: str | None
    url: str
    warc_date: str | None
    content_type: str | None
    declared_charset: str | None
    body: bytes


@dataclass
class WetDoc:
    """A WET ``conversion`` record: text Common Crawl already extracted."""

    offset: int
    record_id: str | None
    url: str
    warc_date: str | None
    text: str


class TooLargeError(ValueError):
    """A payload that inflates past its cap (a decompression bomb, or just too big): counted as too_large."""


class WarcFormatError(ValueError):
    """A file that cannot be read as WARC at all (no record found in non-empty data)."""


def clean_url(raw: str | None) -> str:
    """WARC-Target-URI without the angle brackets some writers (wget) wrap it in."""
    return (raw or "").strip().strip("<>").strip()


def _decode_content_encoding(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo gzip/deflate Content-Encoding when the payload really is compressed.

    Some archives (ClueWeb09) keep the header but store the decoded body, so the magic bytes decide.
    """
    enc = (encoding or "").strip().lower()
    if enc in ("gzip", "x-gzip") and body[:2] == b"\x1f\x8b":
        wbits = 31
    elif enc == "deflate" and body[:1] in (b"\x78",):
        wbits = 15
    else:
        return body
    d = zlib.decompressobj(wbits)
    out = d.decompress(body, limit)
    if d.unconsumed_tail or (not d.eof and d.decompress(b"", 1)):
        raise TooLargeError(f"Content-Encoding {enc} inflates past {limit} bytes")
    return out


def file_opener(path: str, buffering: int = 1 << 20) -> Callable[[int], BinaryIO]:
    """The ``open_at`` that RecordStream, iter_pages and iter_wet take, for a local file: opened and positioned."""

    def open_at(offset: int) -> BinaryIO:
        fh = open(path, "rb", buffering=buffering)
        fh.seek(offset)
        return fh

    return open_at


class RecordStream:
    """FastWARC records of a file, resuming past corrupt gzip members; checks the end for truncation.

    ``open_at(offset)`` returns the file positioned at ``offset``. Offsets yielded are absolute. A consumer that
    finds a record's declared length running past the next record (:meth:`overshoot`) calls :meth:`resync` with
    where that record starts before asking for the next one. Records no consumer reads (request, metadata,
    warcinfo, revisit) are checked here, their blocks being small; a mismatch among them is a
    ``corrupt_stream_resyncs`` note.
    """

    _CHECKED_HERE = WarcRecordType.request | WarcRecordType.metadata | WarcRecordType.warcinfo | WarcRecordType.revisit

    def __init__(self, open_at: Callable[[int], BinaryIO], size: int | None, counts: Counter, compressed: bool,
                 limits: "WarcLimits | None" = None):
        self.open_at, self.size, self.counts, self.compressed = open_at, size, counts, compressed
        self.big = (limits or WarcLimits()).max_payload_bytes + 65536
        self._resync: int | None = None

    def overshoot(self, rec, content_length: int) -> int | None:
        """Where the next record really starts when ``rec``'s declared ``content_length`` (read before
        ``parse_http``, which changes it) runs past it; None when it does not."""
        return framing.overshoot(self.open_at, self.size, rec.stream_pos, content_length, self.compressed)

    def resync(self, offset: int) -> None:
        self._resync = offset

    def _checked_here(self, rec) -> bool:
        """A record of a type no consumer reads whose declared length runs past the next record: resynchronised."""
        if not rec.record_type & self._CHECKED_HERE:
            return False
        if rec.content_length <= self.big and not framing.holds_record_start(rec.reader.read(self.big)):
            return False
        nxt = self.overshoot(rec, rec.content_length)
        if nxt is None:
            return False
        self.counts["corrupt_stream_resyncs"] += 1
        self._resync = nxt
        return True

    def __iter__(self) -> Iterator:
        start, last_good, seen_any, resyncs = 0, -1, False, 0
        open_at, counts, compressed = self.open_at, self.counts, self.compressed
        while resyncs < _MAX_RESYNCS:
            fh = open_at(start)
            restart = None
            try:
                it = ArchiveIterator(fh, record_types=_RECORD_TYPES | self._CHECKED_HERE, parse_http=False,
                                     quirks_mode=True)
                for rec in it:
                    seen_any = True
                    last_good = rec.stream_pos
                    if not self._checked_here(rec):
                        yield rec
                    if self._resync is not None:
                        restart, self._resync = self._resync, None
                        break
            except OSError:
                counts["corrupt_stream_resyncs"] += 1
                resyncs += 1
                restart = framing.find_resync_point(open_at, max(last_good, start) + 1, compressed)
            finally:
                fh.close()
            if restart is None or restart <= start:
                break
            start = restart
        if not seen_any and self.size:
            raise WarcFormatError("no WARC record found: not a WARC file, or corrupt from its first byte")
        if seen_any and framing.tail_truncated(open_at, last_good, compressed):
            counts["truncated_file"] += 1


def _header(headers, name: str) -> str | None:
    value = headers.get(name) if headers is not None else None
    return value if value else None


def iter_pages(
    open_at: Callable[[int], BinaryIO],
    size: int | None,
    counts: Counter,
    limits: WarcLimits = WarcLimits(),
    compressed: bool = True,
) -> Iterator[Page]:
    """HTTP 200 HTML responses of one WARC file; every other record is counted by reason and skipped.

    A record whose declared length runs past the next record (its block holds another record's start, its HTTP
    headers hold WARC headers, or it claims more than the payload cap) is checked against the file; when it does
    run past, it is counted ``length_mismatch`` and reading resumes at the record it would have swallowed.
    """
    stream = RecordStream(open_at, size, counts, compressed, limits)

    def mismatch(rec) -> bool:
        nxt = stream.overshoot(rec, declared)
        if nxt is None:
            return False
        counts["length_mismatch"] += 1
        stream.resync(nxt)
        return True

    for rec in stream:
        rtype = rec.record_type
        if rtype == WarcRecordType.revisit:
            counts["records_in"] += 1
            counts["revisit_record"] += 1  # a revisit stands for a payload seen before: not a document
            continue
        if rtype != WarcRecordType.response:
            continue
        counts["records_in"] += 1
        declared = rec.content_length
        if declared > stream.big:
            if not mismatch(rec):
                counts["too_large"] += 1
            continue
        try:
            rec.parse_http(quirks_mode=True)
        except (OSError, ValueError):
            if not mismatch(rec):
                counts["corrupt_record"] += 1
            continue
        http = rec.http_headers
        if http is not None and (http.contains_key("WARC-Type") or http.contains_key("WARC-Record-ID")) \
                and mismatch(rec):
            continue
        try:
            body = rec.reader.read()
        except OSError:
            counts["corrupt_record"] += 1
            continue
        if framing.holds_record_start(body) and mismatch(rec):
            continue
        if http is None or not rec.is_http:
            counts["not_http"] += 1
            continue
        if http.status_code != 200:
            counts["non_200_status"] += 1
            continue
        ctype = (rec.http_content_type or "").lower() or None
        if ctype is None or not ctype.startswith(HTML_TYPES):
            counts["non_html"] += 1
            continue
        try:
            body = _decode_content_encoding(body, _header(http, "Content-Encoding"), limits.max_decoded_bytes)
        except TooLargeError:
            counts["too_large"] += 1
            continue
        except (ValueError, zlib.error):
            counts["corrupt_record"] += 1
            continue
        if not body.strip():
            counts["empty_page"] += 1
            continue
        if len(body) > limits.max_payload_bytes:
            counts["too_large"] += 1
            continue
        if b"\0" in body[:2048]:
            counts["binary_payload"] += 1
            continue
        yield Page(
            offset=rec.stream_pos,
            record_id=_header(rec.headers, "WARC-Record-ID"),
            url=clean_url(_header(rec.headers, "WARC-Target-URI")),
            warc_date=_header(rec.headers, "WARC-Date"),
            content_type=ctype,
            declared_charset=rec.http_charset,
            body=body,
        )


def iter_wet(open_at, size: int | None, counts: Counter, compressed: bool = True,
             limits: WarcLimits = WarcLimits()) -> Iterator[WetDoc]:
    """Text documents of a WET file (Common Crawl's ``conversion`` records); lengths checked as in iter_pages."""
    stream = RecordStream(open_at, size, counts, compressed, limits)
    for rec in stream:
        if rec.record_type != WarcRecordType.conversion:
            continue
        counts["records_in"] += 1
        if rec.content_length > stream.big or framing.holds_record_start(block := rec.reader.read(stream.big + 1)):
            nxt = stream.overshoot(rec, rec.content_length)
            if nxt is not None:
                counts["length_mismatch"] += 1
                stream.resync(nxt)
                continue
            if rec.content_length > stream.big:
                counts["too_large"] += 1
                continue
        try:
            text = block.decode("utf-8", errors="replace")
        except OSError:
            counts["corrupt_record"] += 1
            continue
        yield WetDoc(rec.stream_pos, _header(rec.headers, "WARC-Record-ID"),
                     clean_url(_header(rec.headers, "WARC-Target-URI")), _header(rec.headers, "WARC-Date"), text)
