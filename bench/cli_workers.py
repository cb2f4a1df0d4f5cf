"""`curation run` with 1 and 2 (or more) worker processes, on the sample crawl and on a larger crawl built by
copying the sample's WARC files into more snapshots (default 4 snapshots x 8 shards). Each run starts from an
empty output folder and a fresh Dagster home, so every partition is computed.

Reported per run: wall time of the whole command, CPU seconds of the command and its workers (rusage of
children), and the wall span of each stage (first start to last end of that stage's Dagster runs, read back
from the instance), the per-shard stages' together too. The machine may be shared: CPU seconds per item are
the figure that does not depend on other jobs.

    python bench/cli_workers.py [--workers 1 2] [--snapshots 4] [--shards 8] [--out docs/cli_workers.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_crawl"


def build_crawl(dst: Path, snapshots: int) -> Path:
    """``snapshots`` snapshots, each holding every sample WARC file (names kept, so they spread over shards)."""
    import gzip

    files = sorted(p for p in (SAMPLE / "crawl-data").glob("*/segments/*/warc/*") if p.is_file())
    for i in range(snapshots):
        snap = f"CC-MAIN-2090-{i + 1:02d}"
        rels = []
        for f in files:
            rel = f"crawl-data/{snap}/segments/s/warc/{f.name}"
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dst / rel)
            rels.append(rel)
        (dst / f"crawl-data/{snap}/warc.paths.gz").write_bytes(gzip.compress(("\n".join(rels) + "\n").encode()))
    return dst


def stage_spans(home: Path) -> dict:
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(home))
    spans, count = defaultdict(lambda: [float("inf"), 0.0]), defaultdict(int)
    for rec in instance.get_run_records(filters=dg.RunsFilter(tags={"curation/cli": "run"})):
        assets = rec.dagster_run.tags.get("curation/assets")
        if not assets or rec.start_time is None or rec.end_time is None:
            continue
        s = spans[assets]
        s[0], s[1] = min(s[0], rec.start_time), max(s[1], rec.end_time)
        count[assets] += 1
    return {k: {"runs": count[k], "span_s": round(e - b, 1)} for k, (b, e) in spans.items()}


def run_once(crawl: Path, shards: int, workers: int, work: Path) -> dict:
    out, home = work / f"out-{workers}", work / f"home-{workers}"
    args = [sys.executable, "-m", "curation_cli", "run", "--crawl-root", str(crawl), "--output", str(out),
            "--dagster-home", str(home), "--shards", str(shards), "--workers", str(workers), "--no-rewrite"]
    if crawl != SAMPLE:  # mixtures/demo.yaml names the sample's snapshots: a mixture by source for the copies
        mixture = work / "by-source.yaml"
        mixture.write_text("name: by-source\nsnapshots: all\nrewrites: false\ngroup_by: [source]\n"
                           "weights: {crawl: 1}\ntotal_tokens: 200000\nshard_tokens: 50000\nseed: 0\n")
        args += ["--mixture", str(mixture)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"curation run failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    spans = stage_spans(home)
    shard_stages = [k for k in spans if k.startswith("documents") or k in ("quality", "dedup", "rewrites")]
    per_shard = sum(spans[k]["span_s"] for k in shard_stages)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    runs = sum(v["runs"] for v in spans.values())
    return {"workers": workers, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "runs": runs,
            "cpu_s_per_run": round(cpu / runs, 2), "per_shard_stages_span_s": round(per_shard, 1), "stages": spans,
            "load_avg_1m_after": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--snapshots", type=int, default=4)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--skip-sample", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "docs" / "cli_workers.json"))
    args = ap.parse_args()
    results = {"cpus": os.cpu_count(), "load_avg_1m_before": os.getloadavg()[0], "crawls": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        crawls = [] if args.skip_sample else [("sample_crawl (2 snapshots x 4 shards)", SAMPLE, 4)]
        crawls.append((f"copied sample ({args.snapshots} snapshots x {args.shards} shards)",
                       build_crawl(work / "large", args.snapshots), args.shards))
        for name, crawl, shards in crawls:
            entry = {"crawl": name, "runs": []}
            for w in args.workers:
                sub = work / f"{crawl.name}-{w}"
                sub.mkdir()
                r = run_once(crawl, shards, w, sub)
                entry["runs"].append(r)
                print(f"{name}: {w} workers: wall {r['wall_s']} s, cpu {r['cpu_s']} s, {r['runs']} runs, "
                      f"per-shard stages {r['per_shard_stages_span_s']} s (load {r['load_avg_1m_after']:.1f})",
                      flush=True)
            base = entry["runs"][0]
            for r in entry["runs"][1:]:
                r["speedup_wall"] = round(base["wall_s"] / r["wall_s"], 2)
                r["speedup_per_shard_stages"] = round(base["per_shard_stages_span_s"] / r["per_shard_stages_span_s"], 2)
            results["crawls"].append(entry)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps([{c["crawl"]: [(r["workers"], r.get("speedup_wall"), r.get("speedup_per_shard_stages"))
                                    for r in c["runs"]]} for c in results["crawls"]]))


if __name__ == "__main__":
    main()
