"""Build one shard's documents table from its input files (WARC, WET, JSONL, Parquet).

Every input record either becomes a document or is counted under a drop reason, so
``records_in == documents + sum(dropped)`` holds for every shard (tests check it).
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable
from urllib.parse import urlsplit

import pyarrow as pa

from curation.core import tables as schema
from curation.core.pool import ShardPool, workers_for
from curation.extract.corpus_files import iter_jsonl, iter_parquet
from curation.extract.html import ExtractionConfig, Extractor, UndecodableError, decode_html
from curation.extract.page_budget import too_deep, too_many_attributes
from curation.extract.sources import CrawlSource, InputFile
from curation.extract.warc import WarcFormatError, WarcLimits, iter_pages, iter_wet

#: Counters that are not drop reasons (everything else in ``counts`` is one).
NOTES = frozenset({"records_in", "truncated_file", "corrupt_stream_resyncs", "charset_fallback",
                   "invalid_warc_date", "files", "charset_lossy", "charset_implausible", "unreadable_file",
                   "extraction_guard", "extraction_cascade"})


#: a spawned worker costs about a second (imports, the extractor): a shard with less input than this a worker (about
#: 4 s of extraction at 200 pages/s and ~10 KB of WARC.gz a page) runs in fewer processes
MIN_BYTES_PER_WORKER = 8 << 20


def _read_one(builder: DocumentBuilder, item) -> tuple[pa.Table, Counter, str | None]:
    """A pool task: one file of a shard."""
    return builder.read_file(*item)


@dataclass(frozen=True)
class InputConfig:
    """How non-WARC inputs are read: the text column of JSONL/Parquet corpora and optional id/url columns."""

    text_column: str = "text"
    id_column: str | None = "id"
    url_column: str | None = "url"
    limits: WarcLimits = field(default_factory=WarcLimits)


class InputFileError(RuntimeError):
    """An input file that is missing or unreadable as a whole; the message names the file."""


def document_id(source_file: str, offset: int) -> str:
    """Stable id: the same record of the same file always gets the same id."""
    return hashlib.blake2b(f"{source_file}#{offset}".encode(), digest_size=16).hexdigest()


def parse_warc_date(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    except (ValueError, OverflowError):  # not a date, or one that leaves years 1-9999 in UTC (9999-12-31T23:59-14:00)
        return None


def host_of(url: str) -> str | None:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower() if host else None


def split_counts(counts: Counter) -> tuple[dict, dict]:
    """(drop reasons, notes) from one shard's counter."""
    dropped = {k: v for k, v in sorted(counts.items()) if k not in NOTES and v}
    notes = {k: v for k, v in sorted(counts.items()) if k in NOTES and v}
    return dropped, notes


class DocumentBuilder:
    """Turns the input files of one shard into rows of the documents schema."""

    def __init__(self, source: CrawlSource, extraction: ExtractionConfig = ExtractionConfig(),
                 inputs: InputConfig = InputConfig()):
        self.source = source
        self.extraction = extraction
        self.inputs = inputs
        self._extractor: Extractor | None = None

    @property
    def extractor(self) -> Extractor:
        if self._extractor is None:
            self._extractor = Extractor(self.extraction)
        return self._extractor

    def build(self, snapshot: str, shard: str, files: list[InputFile],
              on_file: Callable[[InputFile, int], None] | None = None,
              on_unreadable: Callable[[InputFile, str], None] | None = None,
              workers: int | None = None) -> tuple[pa.Table, Counter]:
        """The shard's documents and counts. A missing file raises InputFileError; a file that exists but cannot
        be read as what its name says (not a WARC, not gzip, not Parquet) is counted ``unreadable_file``, reported to ``on_unreadable``
        with a one-line reason naming it, and contributes nothing (its partial rows and counts are undone).

        One file per task in a pool of worker processes (``curation.core.pool``: ``workers``, else the cores this
        process may use; fewer for a shard under MIN_BYTES_PER_WORKER a worker); the files' tables are joined in
        path order, so the table is the same whatever the worker count."""
        files = sorted(files, key=lambda f: f.path)
        n = workers_for(len(files), sum(f.size or 0 for f in files), MIN_BYTES_PER_WORKER, workers)
        counts: Counter = Counter()
        tables = []
        with ShardPool(DocumentBuilder, (self.source, self.extraction, self.inputs), n,
                       name=f"documents of {snapshot} shard {shard}", local=self) as pool:
            parts = pool.imap(_read_one, [(f, snapshot, shard) for f in files], cost=[f.size or 0 for f in files])
            for f, (table, file_counts, unreadable) in zip(files, parts):
                counts.update(file_counts)
                if unreadable is not None:
                    if on_unreadable:
                        on_unreadable(f, unreadable)
                    continue
                if table.num_rows:
                    tables.append(table)
                if on_file:
                    on_file(f, table.num_rows)
        table = pa.concat_tables(tables).combine_chunks() if tables else schema.empty(schema.DOCUMENTS)
        return table, counts

    def read_file(self, f: InputFile, snapshot: str, shard: str) -> tuple[pa.Table, Counter, str | None]:
        """One file's documents, its counts and None; for a file unreadable as what its name says, an empty table,
        ``unreadable_file: 1`` and the one-line reason naming it."""
        counts: Counter = Counter()
        rows: list[dict] = []
        try:
            self._read_file(f, snapshot, shard, rows, counts)
        except InputFileError:
            raise
        except FileNotFoundError as exc:  # vanished since the listing: a missing file fails at once
            raise InputFileError(f"input file not found: {self.source.url(f.path)}") from exc
        except (WarcFormatError, ValueError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            # the file's content is not what its name says; an OSError reading it (a dropped S3 connection,
            # a permission) is raised instead, for the retry policy or fail_fast to judge
            why = str(exc).splitlines()[0] if str(exc) else "unreadable"
            return (schema.empty(schema.DOCUMENTS), Counter(unreadable_file=1),
                    f"cannot read {self.source.url(f.path)}: {type(exc).__name__}: {why}")
        counts["files"] += 1
        table = pa.Table.from_pylist(rows, schema=schema.DOCUMENTS) if rows else schema.empty(schema.DOCUMENTS)
        return table, counts, None

    # -- per kind ---------------------------------------------------------------------------------
    def _opener(self, f: InputFile):
        if f.size is None:
            raise InputFileError(f"input file listed but missing: {self.source.url(f.path)}")
        local = self.source.checked_local_path(f.path)  # a link out of the crawl root or into a loop: ValueError

        def open_at(offset: int):
            fh = open(local, "rb", buffering=1 << 20) if local else self.source.open(f.path)
            fh.seek(offset)
            return fh

        return open_at

    def _read_file(self, f: InputFile, snapshot: str, shard: str, rows: list, counts: Counter) -> None:
        kind = f.kind
        if kind == "warc":
            self._read_warc(f, snapshot, shard, rows, counts)
        elif kind == "wet":
            self._read_wet(f, snapshot, shard, rows, counts)
        elif kind == "jsonl":
            self._read_jsonl(f, snapshot, shard, rows, counts)
        elif kind == "parquet":
            self._read_parquet(f, snapshot, shard, rows, counts)
        else:
            raise InputFileError(f"unsupported input file type: {self.source.url(f.path)}")

    def _row(self, f, snapshot, shard, offset, record_id, url, date, ctype, charset, text, extractor, counts):
        fetch = parse_warc_date(date)
        if date and fetch is None:
            counts["invalid_warc_date"] += 1
        return {"id": document_id(f.path, offset), "snapshot": snapshot, "shard": shard, "source_file": f.path,
                "source_offset": offset, "record_id": record_id, "url": url or None,
                "host": host_of(url) if url else None, "fetch_date": fetch, "content_type": ctype,
                "charset": charset, "text": text, "extractor": extractor}

    def _read_warc(self, f, snapshot, shard, rows, counts):
        compressed = f.path.endswith(".gz")
        for page in iter_pages(self._opener(f), f.size, counts, self.inputs.limits, compressed):
            try:
                html, charset, note = decode_html(page.body, page.declared_charset)
            except UndecodableError:
                counts["undecodable_charset"] += 1
                continue
            if note:
                counts[note] += 1
            if too_deep(html, page.body, charset):  # would cost the parser or the extractor more than the page budget
                counts["dom_too_deep"] += 1
                continue
            if too_many_attributes(html, page.body, charset):  # the parser is quadratic in distinct attributes
                counts["too_many_attributes"] += 1
                continue
            try:
                text = self.extractor(html)
            except Exception:  # an extractor crash on one page must not stop the shard
                counts["extraction_error"] += 1
                continue
            if self.extractor.last_note:  # the emptying guard fired, or the page cascaded to Trafilatura
                counts[self.extractor.last_note] += 1
            if len(text) < self.extraction.min_text_chars:
                counts["empty_text"] += 1
                continue
            rows.append(self._row(f, snapshot, shard, page.offset, page.record_id, page.url, page.warc_date,
                                  page.content_type, charset, text, self.extractor.last_route, counts))

    def _read_wet(self, f, snapshot, shard, rows, counts):
        for doc in iter_wet(self._opener(f), f.size, counts, f.path.endswith(".gz")):
            text = doc.text.strip()
            if not text:
                counts["empty_text"] += 1
                continue
            rows.append(self._row(f, snapshot, shard, doc.offset, doc.record_id, doc.url, doc.warc_date,
                                  "text/plain", "utf-8", text, "wet", counts))

    def _read_jsonl(self, f, snapshot, shard, rows, counts):
        with self._opener(f)(0) as fh:  # inflated as a stream, one line at a time (curation.extract.corpus_files)
            for lineno, rec in iter_jsonl(fh, f.path, counts, self.inputs.limits.max_payload_bytes):
                self._add_record(f, snapshot, shard, lineno, rec, rows, counts)

    def _read_parquet(self, f, snapshot, shard, rows, counts):
        with self._opener(f)(0) as fh:
            data = fh.read()  # a network error here is an OSError for the retry policy; a damaged file a ValueError
        columns = [c for c in (self.inputs.id_column, self.inputs.url_column, "metadata", "created", "date") if c]
        limits = self.inputs.limits
        for i, rec in iter_parquet(data, counts, self.inputs.text_column, columns, limits.max_member_bytes,
                                   limits.max_payload_bytes):
            self._add_record(f, snapshot, shard, i, rec, rows, counts)

    def _add_record(self, f, snapshot, shard, index, rec, rows, counts):
        text = rec.get(self.inputs.text_column)
        if not isinstance(text, str) or not text.strip():
            counts["missing_text" if not isinstance(text, str) else "empty_text"] += 1
            return
        url = rec.get(self.inputs.url_column) if self.inputs.url_column else None
        if not isinstance(url, str):
            meta = rec.get("metadata") if isinstance(rec.get("metadata"), dict) else {}
            url = meta.get("url") if isinstance(meta.get("url"), str) else None
        record_id = rec.get(self.inputs.id_column) if self.inputs.id_column else None
        date = rec.get("created") or rec.get("date")
        rows.append(self._row(f, snapshot, shard, index, str(record_id) if record_id is not None else None, url,
                              date if isinstance(date, str) else None, "text/plain", "utf-8", text.strip(),
                              "passthrough", counts))
