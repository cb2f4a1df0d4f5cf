"""The per-shard worker pool: one shard of 16 real WARC files through the per-shard stages with 1 and with 2
worker processes (``curation.core.pool``), wall time, CPU time (the process and its workers) and whether the
outputs are byte-identical.

The shard: 16 WARC files, each the 18 gzipped WARC files of the bundled sample crawl (real pages, see
sample_crawl/README.md; built from ../shared/data) concatenated in a rotated order (gzip members concatenate into
a valid WARC.gz), about 10.6 MB and 317 HTML pages a file, 5,072 pages in all. Real Common Crawl files are about
1 GB (some 40,000 pages) each; the pool's unit is the file, so fewer, smaller files are its hardest case.

Each measurement runs in a fresh process (imports done before the clock starts; model loading, worker start-up
and every worker's CPU time counted); the worker counts alternate round by round (1, 2 then 2, 1) because the
machine is shared with other sessions and its speed drifts. Per stage: documents (extraction), language,
minhash (signatures), tokens, quality (the heuristic signals); the target of issue 26 is documents + language.
Every output table is written as Parquet (zstd, as the store writes it) and hashed: the hashes must agree
across worker counts.

On a shared machine the wall-time ratio says little: Linux's autogroup scheduling gives each session its share of
the cores however many processes it runs. So each stage also records its CPU time split into the parent's and each
worker's (``curation.core.pool.CPU_LOG``: model set-up and tasks), and the critical path: the parent's CPU time
(all of it counted as serial) plus the busiest worker's, which is the stage's wall time where every process has a
core of its own. ``idle_core_speedup`` is the ratio of the critical paths.

    python bench/shard_workers.py [--files 16] [--copies 1] [--rounds 2] [--workers 1 2] [--stages documents,...]
                                  [--out docs/shard_workers.json]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SNAPSHOT = "CC-MAIN-2099-01"
STAGES = ("documents", "language", "minhash", "tokens", "quality")


def build_crawl(root: Path, n_files: int, copies: int = 1) -> dict:
    """``n_files`` WARC files under a Common-Crawl-style snapshot, each the sample crawl's gzipped files rotated
    (``copies`` times over: bigger files, closer to Common Crawl's 1 GB)."""
    sample = sorted(p for p in (ROOT / "sample_crawl" / "crawl-data").rglob("*.warc.gz"))
    blobs = [p.read_bytes() for p in sample]
    rels = []
    for i in range(n_files):
        rel = f"crawl-data/{SNAPSHOT}/segments/bench/warc/bench-{i:05d}.warc.gz"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        k = i % len(blobs)
        (root / rel).write_bytes(b"".join(blobs[k:] + blobs[:k]) * copies)
        rels.append(rel)
    (root / f"crawl-data/{SNAPSHOT}/warc.paths.gz").write_bytes(gzip.compress(("\n".join(rels) + "\n").encode()))
    return {"files": n_files, "sample_files_per_file": len(blobs) * copies,
            "bytes": sum((root / r).stat().st_size for r in rels)}


def _digest(table) -> str:
    """sha256 of the table written as Parquet the way the store writes it (zstd, page checksums)."""
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", write_page_checksum=True)
    return hashlib.sha256(buf.getvalue()).hexdigest()[:16]


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def measure(crawl: str, workers: int, stages: list[str]) -> dict:
    """One pass over the shard in this process with ``workers`` processes per stage."""
    import numpy as np
    import polars as pl

    from curation.dedup.config import hasher
    from curation.dedup.minhash import MinHashConfig
    from curation.dedup.signatures import signature_table
    from curation.extract.documents import DocumentBuilder
    from curation.extract.sources import CrawlSource
    from curation.langid.identify import LangIdConfig, LanguageIdentifier, language_table
    from curation.models.tokenizer import token_counts
    from curation.quality.signals import SignalConfig, signals_table

    source = CrawlSource(crawl)
    files = source.list_files(SNAPSHOT)
    out: dict = {"workers": workers, "load_before": os.getloadavg()[0], "stages": {}}
    docs = langs = None

    def timed(name, fn):
        from curation.core.pool import CPU_LOG

        CPU_LOG.clear()
        t0, c0, s0 = time.perf_counter(), _cpu(), time.process_time()
        result = fn()
        own = time.process_time() - s0
        per_worker: dict = {}  # the pool's workers: their model set-up and tasks, CPU seconds
        for _name, pid, _kind, cpu in CPU_LOG:
            if pid != os.getpid():
                per_worker[pid] = per_worker.get(pid, 0.0) + cpu
        out["stages"][name] = {
            "seconds": round(time.perf_counter() - t0, 2), "cpu_seconds": round(_cpu() - c0, 2),
            "parent_cpu_seconds": round(own, 2), "worker_cpu_seconds": sorted(round(v, 2) for v in per_worker.values()),
            # on idle cores a worker's wall time is its CPU time: the parent's CPU (all counted as serial, an upper
            # bound) plus the busiest worker's is the stage's wall time on a machine with a core per process
            "critical_path_cpu_seconds": round(own + max(per_worker.values(), default=0.0), 2)}
        return result

    docs, _counts = timed("documents", lambda: DocumentBuilder(source).build(SNAPSHOT, "0000", files, workers=workers))
    out["stages"]["documents"]["digest"] = _digest(docs)
    out["pages"] = docs.num_rows
    if "language" in stages:
        langs = timed("language", lambda: language_table(docs, LanguageIdentifier(LangIdConfig()), workers=workers))
        out["stages"]["language"]["digest"] = _digest(langs)
    if "minhash" in stages:
        sig = timed("minhash", lambda: signature_table(docs, hasher(MinHashConfig()), workers=workers))
        out["stages"]["minhash"]["digest"] = _digest(sig)
    if "tokens" in stages:
        tok = timed("tokens", lambda: token_counts(docs.column("text"), None, workers=workers))
        out["stages"]["tokens"]["digest"] = hashlib.sha256(np.asarray(tok, np.int64).tobytes()).hexdigest()[:16]
    if "quality" in stages:
        lang_list = langs.column("language").to_pylist() if langs is not None else [None] * docs.num_rows
        q = timed("quality", lambda: signals_table(docs.column("id").to_pylist(), docs.column("text").to_pylist(),
                                                   lang_list, SignalConfig(), workers=workers))
        out["stages"]["quality"]["digest"] = _digest(q.to_arrow() if isinstance(q, pl.DataFrame) else q)
    out["load_after"] = os.getloadavg()[0]
    return out


def _run(crawl: str, workers: int, stages: list[str]) -> dict:
    env = {**os.environ, "CURATION_SHARD_WORKERS": str(workers)}
    proc = subprocess.run([sys.executable, __file__, "--step", "measure", "--crawl", crawl, "--workers", str(workers),
                           "--stages", ",".join(stages)], capture_output=True, text=True, env=env, check=False)
    if proc.returncode:
        raise SystemExit(f"measuring {workers} workers failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarise(runs: list[dict], counts: list[int], stages: list[str]) -> dict:
    """Median wall and CPU time per stage and worker count, the speed-up over 1 worker, identical outputs."""
    out: dict = {}
    for name in stages + ["documents+language"]:
        parts = name.split("+")
        row = {}
        for w in counts:
            mine = [r for r in runs if r["workers"] == w]
            wall = [sum(r["stages"][p]["seconds"] for p in parts) for r in mine]
            cpu = [sum(r["stages"][p]["cpu_seconds"] for p in parts) for r in mine]
            row[str(w)] = {"seconds": round(statistics.median(wall), 2), "cpu_seconds": round(statistics.median(cpu), 2),
                           "runs": wall}
        for w in counts:
            mine = [r for r in runs if r["workers"] == w]
            row[str(w)]["critical_path_cpu_seconds"] = round(statistics.median(
                sum(r["stages"][p]["critical_path_cpu_seconds"] for p in parts) for r in mine), 2)
        base, crit = row[str(counts[0])]["seconds"], row[str(counts[0])]["critical_path_cpu_seconds"]
        for w in counts[1:]:
            row[f"speedup_{w}_over_{counts[0]}"] = round(base / row[str(w)]["seconds"], 2)
            # what a machine with a free core per process gives: the critical paths' ratio (see measure)
            row[f"idle_core_speedup_{w}_over_{counts[0]}"] = round(crit / row[str(w)]["critical_path_cpu_seconds"], 2)
            row[f"cpu_overhead_{w}_over_{counts[0]}"] = round(row[str(w)]["cpu_seconds"] / row[str(counts[0])]["cpu_seconds"], 3)
        # the same run order paired: each round's 1-worker time over its 2-worker time
        if len(counts) == 2:
            pairs = [sum(a["stages"][p]["seconds"] for p in parts) / sum(b["stages"][p]["seconds"] for p in parts)
                     for a, b in zip([r for r in runs if r["workers"] == counts[0]],
                                     [r for r in runs if r["workers"] == counts[1]])]
            row["speedup_per_round"] = [round(x, 2) for x in pairs]
        if len(parts) == 1:
            row["identical"] = len({r["stages"][name]["digest"] for r in runs}) == 1
        out[name] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=16)
    ap.add_argument("--copies", type=int, default=1, help="the sample crawl's files this many times in each file")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--stages", default=",".join(STAGES))
    ap.add_argument("--out", default=str(ROOT / "docs" / "shard_workers.json"))
    ap.add_argument("--step", choices=["measure"])
    ap.add_argument("--crawl")
    args = ap.parse_args()
    stages = [s for s in args.stages.split(",") if s]
    unknown = set(stages) - set(STAGES)
    if unknown or "documents" not in stages:
        raise SystemExit(f"--stages: documents plus any of {', '.join(STAGES[1:])}; unknown: {sorted(unknown)}")
    if args.step == "measure":
        print(json.dumps(measure(args.crawl, args.workers[0], stages)))
        return
    with tempfile.TemporaryDirectory(prefix="shard-workers-") as tmp:
        crawl = build_crawl(Path(tmp), args.files, args.copies)
        runs = []
        for r in range(args.rounds):
            for w in (args.workers if r % 2 == 0 else list(reversed(args.workers))):
                res = _run(tmp, w, stages)
                runs.append(res)
                print(json.dumps({"round": r, **res}), flush=True)
    summary = summarise(runs, args.workers, stages)
    result = {"date": time.strftime("%Y-%m-%d"), "command": "python bench/shard_workers.py " + " ".join(sys.argv[1:]),
              "cpus": os.cpu_count(), "shard": crawl, "pages": runs[0]["pages"], "summary": summary, "runs": runs,
              "note": "2-core VM shared with other sessions (load 8-15; the kernel's autogroup scheduling gives a "
                      "session its share of the cores whatever number of processes it runs, so wall-time ratios "
                      "stay near 1 here): worker counts alternated; idle_core_speedup is from CPU times (parent + "
                      "busiest worker = wall time with a free core per process)"}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
