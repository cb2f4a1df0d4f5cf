"""Heuristic quality filters: our signals + thresholds against datatrove's GopherRepetitionFilter,
GopherQualityFilter, C4QualityFilter and FineWebQualityFilter, on the same real documents, in one run:
speed (docs per CPU-second, one process, one thread) and agreement of the pass/fail verdicts per filter.

Documents: the real texts of tests/data (Common Crawl documents with boilerplate, human-written article
bodies), ../shared/data/web-text and ../shared/data/quality when present, and the sample crawl's documents
(extracted here). Each datatrove filter runs on its own copy of a document (C4QualityFilter rewrites the
text it keeps; our signals never change the text).

    python bench/quality_filters.py [--datatrove-python bench/.dtvenv/bin/python]  ->  docs/quality_filters.json
"""

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
FILTERS = ("gopher_repetition", "gopher_quality", "c4", "fineweb")


def corpus() -> list[str]:
    sys.path.insert(0, str(ROOT))
    texts = []
    files = sorted((SHARED / "web-text").glob("*.jsonl.gz")) or [ROOT / "tests/data/cc-main-2019-30-docs.jsonl.gz"]
    for f in files:
        with gzip.open(f, "rt") as fh:
            texts += [json.loads(line)["text"] for line in fh]
    for f in sorted((SHARED / "quality").glob("*.jsonl")):
        with open(f) as fh:
            for line in fh:
                row = json.loads(line)
                texts.append(row.get("text") or "")
    gt = json.loads((ROOT / "tests/data/article-extraction-benchmark-ground-truth.json").read_text())
    texts += [v["articleBody"] for _, v in sorted(gt.items())]
    from curation.extract.documents import DocumentBuilder
    from curation.extract.sources import CrawlSource

    src = CrawlSource(str(ROOT / "sample_crawl"))
    for snap in src.list_snapshots():
        table, _ = DocumentBuilder(src).build(snap, "all", src.list_files(snap))
        texts += table.column("text").to_pylist()
    return [t for t in texts if t and t.strip()]


def run_datatrove(texts: list[str]) -> tuple[list[dict], float]:
    from datatrove.data import Document
    from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                            GopherRepetitionFilter)

    filters = {"gopher_repetition": GopherRepetitionFilter(), "gopher_quality": GopherQualityFilter(),
               "c4": C4QualityFilter(), "fineweb": FineWebQualityFilter()}
    for f in filters.values():  # load tokenizers outside the timing
        f.filter(Document(text="Warm up the tokenizer. It has two sentences.", id="w"))
    out = []
    t0 = time.process_time()
    for i, text in enumerate(texts):
        row = {}
        for name, f in filters.items():
            res = f.filter(Document(text=text, id=str(i)))
            ok, reason = (res, None) if isinstance(res, bool) else res
            row[name] = None if ok else reason
        out.append(row)
    return out, time.process_time() - t0


def run_ours(texts: list[str]) -> tuple[list[dict], float]:
    import polars as pl

    from curation.quality.filters import decide
    from curation.quality.signals import signals

    t0 = time.process_time()
    df = decide(pl.DataFrame([signals(t) for t in texts]))
    cpu = time.process_time() - t0
    return [{n: r[f"{n}_reason"] for n in FILTERS} for r in df.iter_rows(named=True)], cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datatrove-python", default=str(ROOT / "bench/.dtvenv/bin/python"))
    ap.add_argument("--worker", choices=["datatrove", "ours"])
    ap.add_argument("--texts")
    args = ap.parse_args()
    if args.worker:
        texts = [json.loads(line) for line in open(args.texts)]
        rows, cpu = (run_datatrove if args.worker == "datatrove" else run_ours)(texts)
        print(json.dumps({"rows": rows, "cpu_s": cpu}))
        return
    texts = corpus()
    env = {**os.environ, "POLARS_MAX_THREADS": "1", "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "texts.jsonl")
        with open(path, "w") as fh:
            for t in texts:
                fh.write(json.dumps(t) + "\n")
        res = {}
        for name, python in (("ours", sys.executable), ("datatrove", args.datatrove_python)):
            if not Path(python).exists():
                print(f"no {python}: run bench/setup_datatrove.sh")
                continue
            p = subprocess.run([python, __file__, "--worker", name, "--texts", path], env=env,
                               capture_output=True, text=True)
            if p.returncode:
                raise SystemExit(p.stderr[-3000:])
            res[name] = json.loads(p.stdout.strip().splitlines()[-1])
    n = len(texts)
    chars = sum(map(len, texts))
    report = {"documents": n, "mean_chars": round(chars / n), "speed": {}, "agreement": {}}
    for name, r in res.items():
        report["speed"][name] = {"cpu_s": round(r["cpu_s"], 2), "docs_per_cpu_s": round(n / r["cpu_s"], 1),
                                 "pass_rate": {f: round(sum(row[f] is None for row in r["rows"]) / n, 4)
                                               for f in FILTERS}}
    if len(res) == 2:
        ours, theirs = res["ours"]["rows"], res["datatrove"]["rows"]
        for f in FILTERS + ("all",):
            if f == "all":
                a = [all(o[x] is None for x in FILTERS) for o in ours]
                b = [all(t[x] is None for x in FILTERS) for t in theirs]
            else:
                a = [o[f] is None for o in ours]
                b = [t[f] is None for t in theirs]
            same = sum(x == y for x, y in zip(a, b))
            kinds = Counter()
            if f != "all":
                for o, t in zip(ours, theirs):
                    if (o[f] is None) != (t[f] is None):
                        kinds[f"ours {o[f] or 'pass'} / datatrove {t[f] or 'pass'}"] += 1
            report["agreement"][f] = {"rate": round(same / n, 4), "disagreements": n - same,
                                      "kinds": dict(kinds.most_common(8))}
    print(json.dumps(report, indent=1))
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs/quality_filters.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
