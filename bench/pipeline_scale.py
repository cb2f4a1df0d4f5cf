"""Whole-pipeline scale run: a crawl of N pages derived from the bundled real pages, through ``curation run``.

The crawl is generated from the real HTML pages in sample_crawl/ and /work/shared/data (extraction benchmarks,
WARC samples) with the project's WARC writer. Realistic near-duplicates: exact copies under other URLs, edited
copies (paragraphs dropped, reordered, a sentence added), template pages (one site's header, navigation and
footer around paragraphs drawn from several pages) and shared boilerplate; the mix of variants differs per WARC
file (so per shard). The CLI runs as a subprocess on a fresh DAGSTER_HOME and output folder; per-stage seconds
are the ``seconds`` each output table stores in its Parquet footer (the computation, not Dagster's run start-up),
CPU seconds and peak RSS come from ``resource.getrusage(RUSAGE_CHILDREN)``.

    python bench/pipeline_scale.py --pages 10000 50000 --shards 8 --out docs/pipeline_scale.json
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("CURATION_SHARED_DATA", "/work/shared/data"))
PAGES_PER_FILE = 1000
SNAPSHOT = "CC-MAIN-2099-10"


def real_pages() -> list[bytes]:
    """HTML bodies of every bundled real page (sample crawl WARCs, shared WARCs, extraction sets)."""
    from curation.extract.warc import iter_pages

    out = []
    warcs = glob.glob(str(ROOT / "sample_crawl/crawl-data/*/segments/*/warc/*.warc*")) + glob.glob(str(SHARED / "warc/*.warc*"))
    for path in sorted(warcs):
        if ".wet" in path or ".wat" in path:
            continue
        with open(path, "rb") as fh:
            data = fh.read()
        import io

        def open_at(off, data=data):
            b = io.BytesIO(data)
            b.seek(off)
            return b
        try:
            out += [p.body for p in iter_pages(open_at, len(data), Counter(), compressed=path.endswith(".gz"))]
        except Exception:  # a damaged sample file: its pages are skipped, the bench still runs
            continue
    for path in sorted(glob.glob(str(SHARED / "extraction/**/*.htm*"), recursive=True)):
        if "expected" in os.path.basename(path):
            continue
        raw = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
        out.append(raw)
    return [p for p in out if len(p) > 500]


_PARA = re.compile(rb"<p[\s>].*?</p>", re.S | re.I)


def paragraphs(html: bytes) -> list[bytes]:
    return [p for p in _PARA.findall(html) if len(p) > 40]


def site_template(site: int) -> tuple[bytes, bytes]:
    nav = b"".join(b'<li><a href="/s%d/%s">%s</a></li>' % (site, w, w) for w in
                   (b"home", b"news", b"sport", b"about", b"contact", b"archive", b"login"))
    head = (b'<html><head><title>Site %d</title></head><body><header><div class="logo">Site %d</div><nav><ul>%s'
            b'</ul></nav></header><main><article>' % (site, site, nav))
    foot = (b'</article></main><footer><p>Copyright 2024 Site %d. All rights reserved. Terms of use. Privacy '
            b'policy. Cookie settings. Subscribe to our newsletter for weekly updates.</p></footer></body></html>' % site)
    return head, foot


def make_page(rng: random.Random, pages: list[bytes], paras: list[list[bytes]], mix: dict, made: list[bytes],
              i: int) -> bytes:
    kind = rng.choices(list(mix), weights=list(mix.values()))[0]
    if kind == "exact" and made:
        return made[rng.randrange(len(made))]
    b = rng.randrange(len(pages))
    if kind == "template" or not paras[b]:
        head, foot = site_template(rng.randrange(50))
        chosen = []
        for _ in range(rng.randint(2, 4)):
            src = paras[rng.randrange(len(paras))]
            if src:
                k = rng.randint(0, max(0, len(src) - 3))
                chosen += src[k:k + rng.randint(2, 6)]
        return head + b"\n".join(chosen) + b"<p>Page %d.</p>" % i + foot
    if kind == "edited":
        ps = list(paras[b])
        ps = [p for p in ps if rng.random() > rng.uniform(0.05, 0.3)] or ps[:1]
        if len(ps) > 3 and rng.random() < 0.5:
            j = rng.randrange(len(ps) - 1)
            ps[j], ps[j + 1] = ps[j + 1], ps[j]
        head, foot = site_template(b % 50)
        return head + b"\n".join(ps) + b"<p>Updated on day %d: minor corrections.</p>" % i + foot
    return pages[b]  # the original page again under a new URL (near-identical to its other copies)


def build_crawl(root: Path, n_pages: int, seed: int = 0) -> None:
    from curation.extract.warc_writer import response, warc_gz, warcinfo

    pages = real_pages()
    paras = [paragraphs(p) for p in pages]
    warc_dir = root / "crawl-data" / SNAPSHOT / "segments" / "bench" / "warc"
    warc_dir.mkdir(parents=True, exist_ok=True)
    names, made, i = [], [], 0
    for f in range((n_pages + PAGES_PER_FILE - 1) // PAGES_PER_FILE):
        rng = random.Random(seed * 7919 + f)
        # the variant mix differs per file, so shards differ in duplication and boilerplate
        mix = {"edited": rng.uniform(0.3, 0.5), "template": rng.uniform(0.1, 0.3), "exact": rng.uniform(0.05, 0.25),
               "original": rng.uniform(0.1, 0.3)}
        recs = [warcinfo(f"pipeline_scale file {f}")]
        for _ in range(min(PAGES_PER_FILE, n_pages - i)):
            html = make_page(rng, pages, paras, mix, made, i)
            if len(made) < 2000:
                made.append(html)
            elif rng.random() < 0.05:
                made[rng.randrange(len(made))] = html
            recs.append(response(f"https://site{i % 997}.example/{f}/{i}.html", html, key=f"bench:{i}"))
            i += 1
        name = f"bench-{f:05d}.warc.gz"
        (warc_dir / name).write_bytes(warc_gz(recs))
        names.append(f"crawl-data/{SNAPSHOT}/segments/bench/warc/{name}")
    with gzip.open(root / "crawl-data" / SNAPSHOT / "warc.paths.gz", "wt") as fh:
        fh.write("\n".join(names) + "\n")


def cli_module() -> str:
    return "curation_cli" if (ROOT / "curation_cli").is_dir() else "curation_assets.cli"


def stage_seconds(out: Path) -> dict:
    """Per asset: summed ``seconds`` (wall), ``cpu_seconds`` and ``rows`` from every output table's Parquet footer."""
    from curation.core.storage import ShardStore

    store = ShardStore(str(out))
    per = {}
    for asset_dir in sorted(p for p in out.iterdir() if p.is_dir()):
        secs = cpu = rows = files = 0
        for path in asset_dir.glob("*/*.parquet"):
            snap, shard = path.parent.name, path.stem
            info = store.info(asset_dir.name, snap, shard) or {}
            if "seconds" in info:
                secs += float(info["seconds"])
                cpu += float(info.get("cpu_seconds", info["seconds"]))
                rows += int(info.get("rows", 0))
                files += 1
        if files:
            per[asset_dir.name] = {"seconds": round(secs, 2), "cpu_seconds": round(cpu, 2), "rows": rows,
                                   "tables": files}
    return per


def run_once(crawl: Path, shards: int, work: Path) -> dict:
    out, home = work / "out", work / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DAGSTER_HOME=str(home), PYTHONPATH=f"{ROOT}:{os.environ.get('PYTHONPATH', '')}")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", cli_module(), "run", "--crawl-root", str(crawl), "--output", str(out),
           "--shards", str(shards), "--no-rewrite", "--no-mixture"]
    proc = subprocess.run(cmd, env=env, cwd=str(work), capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"curation run failed with exit code {proc.returncode}")
    stages = stage_seconds(out)
    docs = stages.get("documents", {}).get("rows", 0)
    for s in stages.values():
        # per core = per CPU-second of the process that computed the table (all its threads): the machine is
        # shared by the workers (and, here, by other jobs), so wall seconds would mix in waiting
        s["docs_per_cpu_second"] = round(docs / s["cpu_seconds"], 1) if s["cpu_seconds"] else None
        s["docs_per_wall_second"] = round(docs / s["seconds"], 1) if s["seconds"] else None
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"command": " ".join(cmd[1:]), "documents": docs, "wall_seconds": round(wall, 1),
            "cpu_seconds": round(cpu, 1), "peak_rss_mib": round(after.ru_maxrss / 1024, 1), "stages": stages}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--work", help="work folder (default: a temporary one)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "pipeline_scale.json"))
    args = ap.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="pipeline-scale-"))
    results = json.loads(Path(args.out).read_text()) if os.path.exists(args.out) else {"runs": []}
    for n in args.pages:
        crawl = work / f"crawl-{n}"
        if not (crawl / "crawl-data").exists():
            t0 = time.perf_counter()
            build_crawl(crawl, n)
            print(f"built a crawl of {n} pages in {time.perf_counter() - t0:.0f} s", flush=True)
        res = {"pages": n, "shards": args.shards, **run_once(crawl, args.shards, work / f"run-{n}")}
        print(json.dumps(res, indent=1), flush=True)
        results["runs"] = [r for r in results["runs"] if r["pages"] != n] + [res]
        results["runs"].sort(key=lambda r: r["pages"])
        results["note"] = ("stage seconds and cpu_seconds: summed per-table compute time (wall) and CPU time of the "
                           "computing process from the Parquet footers; docs_per_cpu_second is the per-core rate; "
                           "wall_seconds, cpu_seconds and peak_rss_mib of the run include Dagster's run start-up; "
                           "peak RSS is the largest single process (RUSAGE_CHILDREN)")
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
