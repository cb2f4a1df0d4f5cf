"""WARC framing checked against the file: gzip members, resynchronisation, truncation, and declared lengths.

A record's ``Content-Length`` is a claim. FastWARC trusts it: a length 500 bytes too large makes the record's
block swallow the next record's headers (that record vanishes, its headers end up in the page's text), and a
length of 10**12 makes the reader skip the rest of the file. :func:`overshoot` checks a suspicious record against
the real next record boundary, the end of its gzip member in a Common Crawl style ``.warc.gz`` (one record a
member), or in a plain ``.warc`` the ``WARC/`` line the declared length should end on, and returns where the next
record really starts; the reader resynchronises there and counts the record ``length_mismatch``.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable

GZIP_MAGIC = b"\x1f\x8b\x08"
WARC_MAGIC = b"WARC/"
MAX_MEMBER_BYTES = 256 * 1024 * 1024  # cap on inflating one gzip member outside FastWARC (tail, resync, framing)

#: a WARC version line followed by a header line: where a record's own bytes hold the start of another record
_INNER_RECORD = re.compile(rb"WARC/1\.[01]\r?\n[A-Za-z][A-Za-z0-9-]{0,60}:")
#: what may follow a record's block when its declared length is right: the CRLFs, then the next record (or the end)
_BLOCK_END = re.compile(rb"[\r\n]{0,4}(WARC/|\0*$)")


def holds_record_start(block: bytes) -> bool:
    """True when ``block`` contains what looks like a WARC record's version line and first header (cheap: a
    ``bytes.find`` per occurrence of ``WARC/1.``); the file then decides (:func:`overshoot`)."""
    i = block.find(b"WARC/1.")
    while i != -1:
        if _INNER_RECORD.match(block, i):
            return True
        i = block.find(b"WARC/1.", i + 1)
    return False


def inflate_member(read: Callable[[int], bytes], limit: int, head_bytes: int = 0) -> tuple[str, bytes, bytes, int]:
    """Inflate one gzip member from ``read(n)`` in bounded memory (1 MiB at a time, output discarded).

    Returns (status, the first ``head_bytes`` inflated, bytes read past the member's end, bytes inflated). Status
    is "whole" (the member ended), "truncated" (the input ended first, or is not valid gzip) or "too_large" (more
    than ``limit`` inflated bytes: stopped there).
    """
    d, head, total, pending = zlib.decompressobj(31), b"", 0, b""
    try:
        while not d.eof:
            if not pending:
                pending = read(1 << 20)
                if not pending:
                    return "truncated", head, b"", total
            out = d.decompress(pending, 1 << 20)
            pending = d.unconsumed_tail
            total += len(out)
            if len(head) < head_bytes:
                head += out[: head_bytes - len(head)]
            if total > limit:
                return "too_large", head, b"", total
    except zlib.error:
        return "truncated", head, b"", total
    return "whole", head, d.unused_data, total  # at the end, unconsumed_tail repeats what unused_data holds


class PushbackReader:
    """A file's ``read`` with bytes pushed back in front (what one gzip member read past its end)."""

    def __init__(self, fh):
        self.fh, self.buf, self.consumed = fh, b"", 0

    def read(self, n: int) -> bytes:
        if self.buf:
            out, self.buf = self.buf, b""
        else:
            out = self.fh.read(n)
        self.consumed += len(out)
        return out

    def push(self, data: bytes) -> None:
        self.buf = data + self.buf
        self.consumed -= len(data)

    def at_end(self) -> bool:
        """True when only NUL padding (or nothing) is left; otherwise the next bytes stay readable."""
        while True:
            chunk = self.read(1 << 20)
            if not chunk:
                return True
            stripped = chunk.lstrip(b"\0")
            if stripped:
                self.push(stripped)
                return False


def overshoot(open_at, size: int | None, offset: int, content_length: int, compressed: bool) -> int | None:
    """Where the record after the one at ``offset`` really starts, when the record's declared ``content_length``
    runs past it; None when the declared length ends on a record boundary (or the file cannot tell: a member
    inflating past the cap, a file truncated inside its last record)."""
    fh = open_at(offset)
    try:
        if compressed:
            src = PushbackReader(fh)
            limit = min(MAX_MEMBER_BYTES, content_length + (1 << 16) + 8)
            status, head, rest, inflated = inflate_member(src.read, limit, head_bytes=1 << 16)
            end = head.find(b"\r\n\r\n")
            if status != "whole" or end == -1 or inflated >= end + 4 + content_length:
                return None
            return offset + src.consumed - len(rest)  # the member ended before the declared length did
        head = fh.read(1 << 16)
        end = head.find(b"\r\n\r\n")
        if end == -1:
            return None
        block = offset + end + 4
        if size is None or block + content_length <= size:
            fh.seek(block + content_length)
            if _BLOCK_END.match(fh.read(16)):
                return None
    finally:
        fh.close()
    return find_resync_point(open_at, block - 2, False)


def find_resync_point(open_at, after: int, compressed: bool) -> int | None:
    """Offset of the next intact record start: a gzip member that inflates whole to 'WARC/...', or a 'WARC/' line."""
    magic = GZIP_MAGIC if compressed else b"\r\n" + WARC_MAGIC
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
                if not compressed or member_is_intact_warc(open_at, cand):
                    return cand
                i = buf.find(magic, i + 1)
            keep = len(magic) - 1
            pos += len(buf) - keep
            buf = buf[-keep:]
    finally:
        fh.close()


def member_is_intact_warc(open_at, offset: int, limit: int = MAX_MEMBER_BYTES) -> bool:
    """True when the gzip member at ``offset`` inflates completely (within ``limit``) and starts a WARC record."""
    fh = open_at(offset)
    try:
        status, head, _, _ = inflate_member(fh.read, limit, head_bytes=8)
        return status == "whole" and head.startswith(WARC_MAGIC)
    finally:
        fh.close()


def tail_truncated(open_at, last_pos: int, compressed: bool, limit: int = MAX_MEMBER_BYTES) -> bool:
    """True when the file ends inside a record (FastWARC drops such a record without a word).

    Compressed files: each member from the last record on is inflated in bounded memory; a member inflating
    past ``limit`` ends the check (its record is far over the payload cap, counted too_large by the reader).
    """
    fh = open_at(last_pos)
    try:
        if compressed:
            src = PushbackReader(fh)
            while not src.at_end():
                status, _, rest, _ = inflate_member(src.read, limit)
                if status != "whole":
                    return status == "truncated"
                src.push(rest)
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
