"""Extraction + language ID throughput on the sample crawl, ours against the way datatrove's FineWeb
pipeline does it, in one run. Each variant runs in its own process; reported: pages/s of wall time,
pages per CPU-second (= per core: every variant is single-threaded), and peak RSS.

  ours           the defaults: FastWARC -> charset decoding -> Resiliparse + boilerplate removal -> fastText
                 lid.176, below 0.9 a vote of lingua (trigrams), fastText and py3langid among candidates
  ours-no-2nd    the same without the second opinion
  at-filing      the code itself as it was when issue 16 was filed (commit FILING_COMMIT, unpacked with
                 ``git archive`` into bench/.checkout-<commit>): its defaults, its reader, no hostile-input guards
  issue-16       the settings of that day on today's code: plain Resiliparse, fastText + lingua (every language,
                 loaded as met) below 0.5
  ours-plain, ours-no-2nd-plain   the defaults with plain Resiliparse
  fineweb-style  warcio -> trafilatura.extract(favor_precision=True, include_comments=False, deduplicate=True)
                 -> fastText lid.176 (datatrove's WarcReader + Trafilatura + LanguageFilter)
  read-only      FastWARC iterating and reading every HTML response (the reader's own ceiling)

    python bench/throughput.py [--crawl sample_crawl] [--repeat 3] [--rounds 1] [--out docs/throughput.json]

``--rounds N`` runs the variants N times, alternating, and reports each variant's median run (the same run varies by
up to 20% on a shared VM); every run's figure is kept under ``runs``.

``--instructions`` counts instructions instead of timing: each variant runs in a fresh process under Valgrind's
cachegrind (``apt-get install valgrind``; about 50 times slower) at 1 and at 3 repeats, which gives the instructions a
page costs (the difference over the pages added) and the fixed cost of a process (imports, model loading). Counts
repeat to within a fraction of a percent from run to run, where CPU time on this VM varies by 20%: the figure to
compare variants by. Instructions are not time (cache misses, SIMD width), so both are reported. Written under the
output file's ``instructions`` key.

    python bench/throughput.py --instructions [--variants at-filing,ours,...] [--jobs 2]

The output file is merged into, not replaced: rows of variants not run and other keys (``earlier``) stay.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FILING_COMMIT = "5b3d1d3"  # main when issue 16 was filed (the last commit before its work began)


def filing_checkout(commit: str = FILING_COMMIT) -> str | None:
    """The project's files at ``commit``, unpacked once into bench/.checkout-<commit> (git archive: no worktree);
    None, said in one line, where this clone cannot give them (a shallow clone, no git)."""
    dest = ROOT / "bench" / f".checkout-{commit}"
    if not (dest / "curation" / "__init__.py").exists():
        try:
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True, check=False)
        except OSError as exc:
            archive = subprocess.CompletedProcess([], 1, b"", str(exc).encode())
        if archive.returncode:
            why = (archive.stderr.decode(errors="replace").strip().splitlines() or ["git archive failed"])[-1]
            print(f"at-filing skipped: cannot unpack commit {commit} ({why})", flush=True)
            return None
        dest.mkdir(parents=True, exist_ok=True)
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return str(dest)


def warc_files(crawl: str) -> list[tuple[str, int, str]]:
    from curation.extract.sources import CrawlSource

    src = CrawlSource(crawl)
    return [(src.local_path(f.path), f.size, f.path) for s in src.list_snapshots() for f in src.list_files(s)
            if f.kind == "warc"]


def _module(new: str, old: str):
    """``new`` (today's package layout), else ``old`` (the flat modules of a checkout from before the move)."""
    import importlib

    try:
        return importlib.import_module(new)
    except ModuleNotFoundError:
        return importlib.import_module(old)


def run_ours(crawl, files, repeat, second_opinion, extractor=None, langid=None):
    DocumentBuilder = _module("curation.extract.documents", "curation.documents").DocumentBuilder
    ExtractionConfig = _module("curation.extract.html", "curation.extract").ExtractionConfig
    lid = _module("curation.langid.identify", "curation.langid")
    LangIdConfig, LanguageIdentifier, language_table = lid.LangIdConfig, lid.LanguageIdentifier, lid.language_table
    sources = _module("curation.extract.sources", "curation.sources")
    CrawlSource, InputFile = sources.CrawlSource, sources.InputFile

    ident = LanguageIdentifier(langid or (LangIdConfig() if second_opinion else LangIdConfig(second_opinion="none")))
    builder = DocumentBuilder(CrawlSource(crawl), ExtractionConfig(extractor=extractor) if extractor else
                              ExtractionConfig())
    return pages_read(builder, ident, language_table, [InputFile(rel, size, "v") for _, size, rel in files], repeat)


def pages_read(builder, ident, language_table, inputs, repeat: int) -> int:
    """Extract and identify the shard ``repeat`` times in this one process: the HTML pages read (kept, empty or
    failed). Code with the per-shard pool (issue 26) is told to use one process, so the figure stays per core and
    comparable with the code of before the pool, and cachegrind sees every instruction."""
    import inspect

    one = {"workers": 1} if "workers" in inspect.signature(builder.build).parameters else {}
    n = 0
    for _ in range(repeat):
        table, counts = builder.build("S", "0000", inputs, **one)
        language_table(table, ident, **one)
        n += table.num_rows + counts.get("empty_text", 0) + counts.get("extraction_error", 0)  # HTML pages in
    return n


def _issue16_langid():
    from curation.langid.identify import LangIdConfig

    return LangIdConfig(second_opinion="lingua", second_opinion_below=0.5, max_chars=2000)  # that day's settings


def run_fineweb(files, repeat):
    import fasttext
    import trafilatura
    from warcio.archiveiterator import ArchiveIterator

    from curation.langid.identify import default_fasttext_model

    fasttext.FastText.eprint = lambda *a, **k: None
    model = fasttext.load_model(default_fasttext_model())
    n = 0
    for _ in range(repeat):
        for path, _, _ in files:
            with open(path, "rb") as fh:
                for rec in ArchiveIterator(fh):
                    if rec.rec_type != "response" or rec.http_headers is None:
                        continue
                    if rec.http_headers.get_statuscode() != "200":
                        continue
                    if "html" not in (rec.http_headers.get_header("Content-Type") or ""):
                        continue
                    raw = rec.content_stream().read()
                    try:
                        html = raw.decode("utf-8")  # UTF-8, else a detected charset
                    except UnicodeDecodeError:
                        from resiliparse.parse.encoding import detect_encoding
                        html = raw.decode(detect_encoding(raw) or "utf-8", errors="replace")
                    text = trafilatura.extract(html, favor_precision=True, include_comments=False, deduplicate=True)
                    if not text:
                        continue
                    model.predict(text.replace("\n", " "), k=1)
                    n += 1
    return n


def run_read_only(files, repeat):
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    n = 0
    for _ in range(repeat):
        for path, _, _ in files:
            with open(path, "rb") as fh:
                for rec in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=True, quirks_mode=True):
                    if rec.http_headers and rec.http_headers.status_code == 200 and "html" in (rec.http_content_type or ""):
                        rec.reader.read()
                        n += 1
    return n


#: Each variant: (crawl, files, repeat) -> the number of HTML pages it read.
VARIANTS = {
    "read-only": lambda crawl, files, repeat: run_read_only(files, repeat),
    "at-filing": lambda crawl, files, repeat: run_ours(crawl, files, repeat, True),  # the old code's own defaults
    "issue-16": lambda crawl, files, repeat: run_ours(crawl, files, repeat, True, "resiliparse", _issue16_langid()),
    "ours": lambda crawl, files, repeat: run_ours(crawl, files, repeat, True),
    "ours-no-2nd": lambda crawl, files, repeat: run_ours(crawl, files, repeat, False),
    "ours-plain": lambda crawl, files, repeat: run_ours(crawl, files, repeat, True, "resiliparse"),  # before issue 16
    "ours-no-2nd-plain": lambda crawl, files, repeat: run_ours(crawl, files, repeat, False, "resiliparse"),
    "fineweb-style": lambda crawl, files, repeat: run_fineweb(files, repeat),
}


def worker(name, crawl, files, repeat, q, checkout=None, debug=False):
    import warnings

    warnings.filterwarnings("ignore")
    if checkout:  # before anything imports curation: this process runs the old code
        sys.path.insert(0, checkout)
    fn = lambda: VARIANTS[name](crawl, files, repeat)  # noqa: E731
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()  # model loading is included: a shard run pays it once too
    try:
        n = fn()
    except Exception as exc:  # one line in the parent; the traceback only with --debug
        hint = " (pip install -e '.[bench]')" if isinstance(exc, ImportError) else ""
        q.put({"variant": name, "error": f"{type(exc).__name__}: {exc}{hint}"})
        if debug:
            raise
        return
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    q.put({"variant": name, "pages": n, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
           "pages_per_s": round(n / wall, 1), "pages_per_cpu_s": round(n / cpu, 1),
           "peak_rss_mib": round(r1.ru_maxrss / 1024, 1)})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crawl", default=str(ROOT / "sample_crawl"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default="docs/throughput.json")
    ap.add_argument("--variants", default="read-only,at-filing,issue-16,ours-no-2nd,ours,fineweb-style")
    ap.add_argument("--rounds", type=int, default=1, help="alternating runs of every variant; the median is reported")
    ap.add_argument("--debug", action="store_true", help="a failing variant prints its traceback")
    ap.add_argument("--instructions", action="store_true", help="count instructions under cachegrind, not time")
    ap.add_argument("--jobs", type=int, default=2, help="--instructions: variants counted at once")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one variant in this process (under cachegrind)
    ap.add_argument("--files", help=argparse.SUPPRESS)  # internal: the WARC list of --one, as JSON
    ap.add_argument("--checkout", help=argparse.SUPPRESS)  # internal: the old code's folder for --one at-filing
    args = ap.parse_args()
    if args.one:
        run_one(args)
        return
    files = warc_files(args.crawl)
    total_bytes = sum(s for _, s, _ in files)
    names = args.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        sys.exit(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    checkout = filing_checkout() if "at-filing" in names else None
    if checkout is None and "at-filing" in names:
        names.remove("at-filing")
    if args.instructions:
        count_all(args, names, files, total_bytes, checkout)
        return
    print(f"{len(files)} WARC files, {total_bytes / 1e6:.1f} MB compressed, x{args.repeat}, {args.rounds} round(s)",
          flush=True)
    runs: dict[str, list[dict]] = {name: [] for name in names}
    ctx = mp.get_context("spawn")
    for _ in range(args.rounds):
        for name in names:
            q = ctx.Queue()
            p = ctx.Process(target=worker, args=(name, args.crawl, files, args.repeat, q,
                                                 checkout if name == "at-filing" else None, args.debug))
            p.start()
            r = q.get()
            p.join()
            if "error" in r:
                print(f"variant {name} skipped: {r['error']}", flush=True)
                continue
            runs[name].append(r)
            print(json.dumps(r), flush=True)
    results = []
    for name, rs in runs.items():
        if not rs:
            continue
        ordered = sorted(rs, key=lambda r: r["pages_per_cpu_s"])
        row = dict(ordered[(len(ordered) - 1) // 2])  # the median run (the lower one of an even count)
        if len(rs) > 1:
            row["runs_pages_per_cpu_s"] = [r["pages_per_cpu_s"] for r in rs]
            row["mean_pages_per_cpu_s"] = round(statistics.mean(row["runs_pages_per_cpu_s"]), 1)
        results.append(row)
    write_merged(Path(args.out), {"files": len(files), "compressed_bytes": total_bytes, "repeat": args.repeat,
                                  "rounds": args.rounds, "results": results})


def run_one(args) -> None:
    """One variant in this process, its page count printed: what ``count_instructions`` runs under cachegrind."""
    import warnings

    warnings.filterwarnings("ignore")
    if args.checkout:  # before anything imports curation
        sys.path.insert(0, args.checkout)
    files = [tuple(f) for f in json.loads(Path(args.files).read_text())]
    print(f"pages {VARIANTS[args.one](args.crawl, files, args.repeat)}", flush=True)


INSTRUCTION_REPEATS = (1, 3)


def count_instructions(name: str, crawl: str, files_json: str, repeat: int, checkout: str | None) -> tuple[int, int]:
    """(instructions, HTML pages) of variant ``name`` at ``repeat`` in a fresh process under cachegrind."""
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", sys.executable,
           str(Path(__file__).resolve()), "--one", name, "--repeat", str(repeat), "--crawl", crawl,
           "--files", files_json]
    if checkout:
        cmd += ["--checkout", checkout]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    refs = re.search(r"I\s+refs:\s+([\d,]+)", proc.stderr)
    pages = re.search(r"^pages (\d+)$", proc.stdout, re.M)
    if proc.returncode or not refs or not pages:
        last = ([ln for ln in proc.stderr.strip().splitlines() if not ln.startswith("==")] or ["no output"])[-1]
        raise RuntimeError(f"variant {name} at repeat {repeat} failed under valgrind (exit {proc.returncode}): {last}")
    return int(refs.group(1).replace(",", "")), int(pages.group(1))


def count_all(args, names: list[str], files, total_bytes: int, checkout: str | None) -> None:
    """Instructions a page and a process's fixed instructions of each variant; written under ``instructions``."""
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    if not shutil.which("valgrind"):
        sys.exit("--instructions needs Valgrind (apt-get install valgrind): not found on PATH")
    version = subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"{len(files)} WARC files, {total_bytes / 1e6:.1f} MB compressed; {version} cachegrind at repeats "
          f"{INSTRUCTION_REPEATS}, {args.jobs} at once", flush=True)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(files, fh)
    jobs = [(name, r) for name in names for r in INSTRUCTION_REPEATS]
    try:
        with ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
            futures = {job: pool.submit(count_instructions, job[0], args.crawl, fh.name, job[1],
                                        checkout if job[0] == "at-filing" else None) for job in jobs}
            counts = {}
            for job, fut in futures.items():
                try:
                    counts[job] = fut.result()
                except RuntimeError as exc:
                    print(exc, flush=True)
    finally:
        Path(fh.name).unlink(missing_ok=True)
    rows = []
    lo, hi = INSTRUCTION_REPEATS[0], INSTRUCTION_REPEATS[-1]
    for name in names:
        if (name, lo) not in counts or (name, hi) not in counts:
            continue
        (i_lo, p_lo), (i_hi, p_hi) = counts[(name, lo)], counts[(name, hi)]
        per_page = (i_hi - i_lo) / (p_hi - p_lo)
        fixed = i_lo - per_page * p_lo
        at_repeat = fixed + per_page * p_lo / lo * args.repeat  # a run of --repeat, as the timed rows
        rows.append({"variant": name, "pages_per_repeat": p_lo // lo, "instructions_per_page": round(per_page),
                     "fixed_instructions": round(fixed), f"instructions_at_repeat_{args.repeat}": round(at_repeat),
                     "pages_per_giga_instruction": round(p_lo / lo * args.repeat / at_repeat * 1e9, 1),
                     "counts": {str(r): counts[(name, r)][0] for r in INSTRUCTION_REPEATS}})
    base = next((r for r in rows if r["variant"] == "at-filing"), None)
    for r in rows:
        if base:
            r["relative_to_at_filing"] = round(base[f"instructions_at_repeat_{args.repeat}"]
                                               / r[f"instructions_at_repeat_{args.repeat}"], 3)
        print(json.dumps(r), flush=True)
    write_merged(Path(args.out), {"tool": f"{version} --tool=cachegrind --cache-sim=no",
                                  "repeats": list(INSTRUCTION_REPEATS), "projected_repeat": args.repeat,
                                  "results": rows}, key="instructions")


def write_merged(out: Path, run: dict, key: str | None = None) -> None:
    """``run`` written to ``out``, merged into what is there: other keys (``earlier``, ``machine``) stay, and so do
    the rows of variants not run this time (each keeps the ``repeat`` it was measured with). With ``key``, ``run``
    goes under that key of the file (``instructions``) and is merged there the same way."""
    whole = json.loads(out.read_text()) if out.exists() else {}
    old = whole.get(key, {}) if key else whole
    ran = {r["variant"] for r in run["results"]}
    kept = [dict(r, repeat=r.get("repeat", old.get("repeat"))) if not key else r
            for r in old.get("results", []) if r["variant"] not in ran]
    merged = {**old, **run, "results": kept + run["results"]}
    whole = {**whole, key: merged} if key else merged
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(whole, indent=1) + "\n")


if __name__ == "__main__":
    main()
