"""Records of JSONL (plain, ``.gz``, ``.zst``) and Parquet corpora, read in bounded memory.

JSONL is inflated as a stream and cut into lines as it comes: memory is bounded by ``max_line_bytes`` (the WARC
payload cap), whatever the file inflates to. A longer line is counted ``too_large`` and skipped without being held;
a line nested too deeply for the JSON parser is counted ``json_too_deep``; a file cut short (a truncated download)
keeps its whole lines before the cut and is noted ``truncated_file``. Parquet is read one row group at a time, only
the columns used; a row group whose declared uncompressed size exceeds ``max_group_bytes`` is counted ``too_large``
(all its rows) without being inflated, and so is a text longer than the payload cap. A file that is not what its
name says raises ValueError with the cause (the caller counts it ``unreadable_file`` and names it).
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from collections.abc import Iterator
from typing import BinaryIO

_CHUNK = 1 << 20
_ZSTD_INPUT = 2048  # zstd cannot bound one call's output: 2 KiB of input inflate to at most ~64 MiB


def _gunzip(fh: BinaryIO) -> Iterator[bytes]:
    """Inflated chunks of a gzip stream (all members, NUL padding between them allowed), at most 1 MiB each;
    EOFError after the last whole chunk when the stream ends inside a member, zlib.error where it is damaged."""
    d, pending, in_member = None, b"", False
    while True:
        if not pending:
            pending = fh.read(_CHUNK)
            if not pending:
                if in_member:
                    raise EOFError("compressed file ended before the end-of-stream marker was reached")
                return
        if not in_member:
            pending = pending.lstrip(b"\0")
            if not pending:
                continue
            d, in_member = zlib.decompressobj(31), True
        out = d.decompress(pending, _CHUNK)
        pending = d.unconsumed_tail
        if d.eof:  # the next member's bytes (unconsumed_tail then repeats them: not added twice)
            pending, in_member = d.unused_data, False
        if out:
            yield out


def _unzstd(fh: BinaryIO) -> Iterator[bytes]:
    """Inflated chunks of a zstd stream (all frames); EOFError when it ends inside a frame or is damaged."""
    import zstandard

    d, in_frame = zstandard.ZstdDecompressor().decompressobj(), False
    while True:
        data = fh.read(_ZSTD_INPUT)
        if not data:
            if in_frame:
                raise EOFError("zstd stream ended inside a frame")
            return
        while data:
            in_frame = True
            try:
                out = d.decompress(data)
            except zstandard.ZstdError as exc:
                raise EOFError(f"damaged zstd stream: {exc}") from None
            data = b""
            if d.eof:
                data, in_frame = d.unused_data, False
                d = zstandard.ZstdDecompressor().decompressobj()
            if out:
                yield out


def _lines(chunks: Iterator[bytes], max_line_bytes: int, counts: Counter) -> Iterator[tuple[int, bytes | None]]:
    """(line number from 0, the line without its end; None for a line longer than ``max_line_bytes``)."""
    lineno, buf, skipping = 0, b"", False
    try:
        for chunk in chunks:
            start = 0
            while True:
                nl = chunk.find(b"\n", start)
                if nl == -1:
                    if not skipping:
                        buf += chunk[start:]
                        if len(buf) > max_line_bytes:
                            buf, skipping = b"", True
                    break
                if not skipping and len(buf) + nl - start <= max_line_bytes:
                    yield lineno, (buf + chunk[start:nl]).rstrip(b"\r")
                else:
                    yield lineno, None
                lineno, buf, skipping, start = lineno + 1, b"", False, nl + 1
    except (EOFError, zlib.error):
        if lineno == 0 and not buf:
            raise  # nothing readable: not a compressed file at all
        counts["truncated_file"] += 1  # the whole lines before the cut are kept; the cut one is not a record
        return
    if skipping:
        yield lineno, None
    elif buf.strip():
        yield lineno, buf.rstrip(b"\r")


def iter_jsonl(fh: BinaryIO, path: str, counts: Counter, max_line_bytes: int) -> Iterator[tuple[int, dict]]:
    """(line number, object) of each JSON line; every other non-blank line is counted by reason."""
    chunks = _gunzip(fh) if path.endswith(".gz") else _unzstd(fh) if path.endswith(".zst") else iter(
        lambda: fh.read(_CHUNK), b"")
    for lineno, line in _lines(chunks, max_line_bytes, counts):
        if line is not None and not line.strip():
            continue
        counts["records_in"] += 1
        if line is None:
            counts["too_large"] += 1
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            counts["bad_json_line"] += 1
            continue
        except RecursionError:  # thousands of nested [ or {: the parser's stack, not the file, gives out
            counts["json_too_deep"] += 1
            continue
        yield lineno, rec if isinstance(rec, dict) else {}


def iter_parquet(data: bytes, counts: Counter, text_column: str, columns: list[str], max_group_bytes: int,
                 max_text_chars: int) -> Iterator[tuple[int, dict]]:
    """(row number, row) of a Parquet file's bytes, one row group at a time; a text longer than ``max_text_chars`` is
    counted ``too_large`` (as a JSONL line or a WARC payload past the cap). ValueError naming the cause when the file
    is not readable Parquet or has no ``text_column``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:  # the bytes are in memory: no error here is the network's
        raise ValueError(f"not a readable Parquet file ({str(exc).splitlines()[0] if str(exc) else exc!r})") from None
    names = pf.schema_arrow.names
    if text_column not in names:
        raise ValueError(f"no text column {text_column!r} (columns: {names[:20]})")
    wanted = [c for c in dict.fromkeys([text_column, *columns]) if c in names]
    index = [names.index(c) for c in wanted]
    row = 0
    for g in range(pf.num_row_groups):
        meta = pf.metadata.row_group(g)
        declared = sum(meta.column(i).total_uncompressed_size for i in index if i < meta.num_columns)
        if declared > max_group_bytes:
            counts["records_in"] += meta.num_rows
            counts["too_large"] += meta.num_rows
            row += meta.num_rows
            continue
        try:
            rows = pf.read_row_group(g, columns=wanted).to_pylist()
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(f"row group {g} unreadable ({str(exc).splitlines()[0] if str(exc) else exc!r})") from None
        for rec in rows:
            counts["records_in"] += 1
            text = rec.get(text_column)
            if isinstance(text, str) and len(text) > max_text_chars:
                counts["too_large"] += 1
            else:
                yield row, rec
            row += 1
