"""Reading WARC files with FastWARC, robust to the damage real crawls carry.

Yields the HTTP 200 HTML responses of a file as :class:`Page` records (payload bytes, not yet decoded)
and counts every record it skips, with the reason. A corrupt gzip member is skipped by resynchronising
on the next member; a truncated file is detected (FastWARC stops silently there) and counted.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator

from fastwarc.warc import ArchiveIterator, WarcRecordType

_GZIP_MAGIC = b"\x1f\x8b\x08"
_WARC_MAGIC = b"WARC/"
HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml+xhtml", "text/xhtml")
_RECORD_TYPES = WarcRecordType.response | WarcRecordType.revisit | WarcRecordType.resource | WarcRecordType.conversion
_MAX_RESYNCS = 1000


@dataclass(frozen=True)
class WarcLimits:
    """Caps that keep one pathological record from stalling or exhausting a worker."""

    max_payload_bytes: int = 4 * 1024 * 1024  # larger HTML payloads are counted as too_large and skipped
    max_decoded_bytes: int = 16 * 1024 * 1024  # cap on Content-Encoding decompression (zip bombs)
    max_member_bytes: int = 256 * 1024 * 1024  # cap on inflating one gzip member outside FastWARC (tail, resync)

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


def _inflate_member(read: Callable[[int], bytes], limit: int, head_bytes: int = 0) -> tuple[str, bytes, bytes]:
    """Inflate one gzip member from ``read(n)`` in bounded memory (1 MiB at a time, output discarded).

    Returns (status, the first ``head_bytes`` inflated, bytes read past the member's end). Status is "whole"
    (the member ended), "truncated" (the input ended first, or is not valid gzip) or "too_large" (more than
    ``limit`` inflated bytes: stopped there).
    """
    d, head, total, pending = zlib.decompressobj(31), b"", 0, b""
    try:
        while not d.eof:
            if not pending:
                pending = read(1 << 20)
                if not pending:
                    return "truncated", head, b""
            out = d.decompress(pending, 1 << 20)
            pending = d.unconsumed_tail
            total += len(out)
            if len(head) < head_bytes:
                head += out[: head_bytes - len(head)]
            if total > limit:
                return "too_large", head, b""
    except zlib.error:
        return "truncated", head, b""
    return "whole", head, d.unused_data + pending


class _PushbackReader:
    """A file's ``read`` with bytes pushed back in front (what one gzip member read past its end)."""

    def __init__(self, fh):
        self.fh, self.buf = fh, b""

    def read(self, n: int) -> bytes:
        if self.buf:
            out, self.buf = self.buf, b""
            return out
        return self.fh.read(n)

    def at_end(self) -> bool:
        """True when only NUL padding (or nothing) is left; otherwise the next bytes stay readable."""
        while True:
            chunk = self.read(1 << 20)
            if not chunk:
                return True
            chunk = chunk.lstrip(b"\0")
            if chunk:
                self.buf = chunk
                return False


def file_opener(path: str, buffering: int = 1 << 20) -> Callable[[int], BinaryIO]:
    """The ``open_at`` that iter_records, iter_pages and iter_wet take, for a local file: opened and positioned."""

    def open_at(offset: int) -> BinaryIO:
        fh = open(path, "rb", buffering=buffering)
        fh.seek(offset)
        return fh

    return open_at


def iter_records(
    open_at: Callable[[int], BinaryIO],
    size: int | None,
    counts: Counter,
    compressed: bool,
) -> Iterator:
    """FastWARC records of a file, resuming past corrupt gzip members; checks the end for truncation.

    ``open_at(offset)`` returns the file positioned at ``offset``. Offsets yielded are absolute.
    """
    start = 0
    last_good = -1
    seen_any = False
    for _ in range(_MAX_RESYNCS):
        fh = open_at(start)
        try:
            it = ArchiveIterator(fh, record_types=_RECORD_TYPES | WarcRecordType.request | WarcRecordType.metadata
                                 | WarcRecordType.warcinfo, parse_http=False, quirks_mode=True)
            for rec in it:
                seen_any = True
                last_good = rec.stream_pos
                yield rec
            break
        except OSError:
            counts["corrupt_stream_resyncs"] += 1
            fh.close()
            nxt = _find_resync_point(open_at, max(last_good, start) + 1, compressed)
            if nxt is None:
                break
            start = nxt
            continue
        finally:
            fh.close()
    if not seen_any and size:
        raise WarcFormatError("no WARC record found: not a WARC file, or corrupt from its first byte")
    if seen_any and _tail_truncated(open_at, last_good, compressed):
        counts["truncated_file"] += 1


def _find_resync_point(open_at, after: int, compressed: bool) -> int | None:
    """Offset of the next intact record start: a gzip member that inflates whole to 'WARC/...', or a 'WARC/' line."""
    magic = _GZIP_MAGIC if compressed else b"\r\n" + _WARC_MAGIC
    fh = open_at(after)
    try:
        pos, buf = after, b""
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                return None
            buf += chunk
            i = buf.find(magic)
            while i != -1:
                cand = pos + i + (0 if compressed else 2)
                if not compressed or _member_is_intact_warc(open_at, cand):
                    return cand
                i = buf.find(magic, i + 1)
            keep = len(magic) - 1
            pos += len(buf) - keep
            buf = buf[-keep:]
    finally:
        fh.close()


def _member_is_intact_warc(open_at, offset: int, limit: int = WarcLimits.max_member_bytes) -> bool:
    """True when the gzip member at ``offset`` inflates completely (within ``limit``) and starts a WARC record."""
    fh = open_at(offset)
    try:
        status, head, _ = _inflate_member(fh.read, limit, head_bytes=8)
        return status == "whole" and head.startswith(_WARC_MAGIC)
    finally:
        fh.close()


def _tail_truncated(open_at, last_pos: int, compressed: bool, limit: int = WarcLimits.max_member_bytes) -> bool:
    """True when the file ends inside a record (FastWARC drops such a record without a word).

    Compressed files: each member from the last record on is inflated in bounded memory; a member inflating
    past ``limit`` ends the check (its record is far over the payload cap, counted too_large by the reader).
    """
    fh = open_at(last_pos)
    try:
        if compressed:
            src = _PushbackReader(fh)
            while not src.at_end():
                status, _, rest = _inflate_member(src.read, limit)
                if status != "whole":
                    return status == "truncated"
                src.buf = rest + src.buf
            return False
        head = fh.read(1 << 16)
        fh.seek(0, 2)
        remaining = fh.tell() - last_pos
    finally:
        fh.close()
    head_end = head.find(b"\r\n\r\n")
    if head_end == -1:
        return True
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head[:head_end])
    return bool(m) and remaining < head_end + 4 + int(m.group(1))


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
    """HTTP 200 HTML responses of one WARC file; every other record is counted by reason and skipped."""
    for rec in iter_records(open_at, size, counts, compressed):
        rtype = rec.record_type
        if rtype == WarcRecordType.revisit:
            counts["records_in"] += 1
            counts["revisit_record"] += 1  # a revisit stands for a payload seen before: not a document
            continue
        if rtype != WarcRecordType.response:
            continue
        counts["records_in"] += 1
        if rec.content_length > limits.max_payload_bytes + 65536:
            counts["too_large"] += 1
            continue
        try:
            rec.parse_http(quirks_mode=True)
        except (OSError, ValueError):
            counts["corrupt_record"] += 1
            continue
        http = rec.http_headers
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
            body = rec.reader.read()
            body = _decode_content_encoding(body, _header(http, "Content-Encoding"), limits.max_decoded_bytes)
        except TooLargeError:
            counts["too_large"] += 1
            continue
        except (OSError, ValueError, zlib.error):
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


def iter_wet(open_at, size: int | None, counts: Counter, compressed: bool = True) -> Iterator[WetDoc]:
    """Text documents of a WET file (Common Crawl's ``conversion`` records)."""
    for rec in iter_records(open_at, size, counts, compressed):
        if rec.record_type != WarcRecordType.conversion:
            continue
        counts["records_in"] += 1
        try:
            text = rec.reader.read().decode("utf-8", errors="replace")
        except OSError:
            counts["corrupt_record"] += 1
            continue
        yield WetDoc(rec.stream_pos, _header(rec.headers, "WARC-Record-ID"),
                     clean_url(_header(rec.headers, "WARC-Target-URI")), _header(rec.headers, "WARC-Date"), text)
