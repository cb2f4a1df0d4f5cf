"""Extraction quality and speed of each extraction route against human ground truth, on a held-out split.

Sets (from ../shared/data/extraction):
- article-extraction-benchmark: precision/recall/F1 of word 4-shingles against the human article body
  (the upstream benchmark's measure) and bag-of-words F1 (word unigrams, multiset), both averaged per page;
- trafilatura-eval: share of must-have snippets found (recall), share of must-not-have snippets kept out,
  with snippet precision/F1/accuracy as upstream computes them;
- readability-test-pages: word 4-shingle F1 against Readability.js output (a silver standard).

Held-out protocol (issue 24): every page goes to one of two halves by a stable hash of its **host** (SHA-1 of
the URL's host name, first byte's parity; for Readability's pages, which have no URL, the folder name without
its ``-1``/``-2`` suffix): ``tune`` (0) is where thresholds are chosen, ``report`` (1) is what the docs quote,
and one site's template never sits on both sides. Both halves are reported, with the pages each route
**empties** (no text at all) per set, and how often the default's emptying guard fired and pages cascaded to
Trafilatura. Speed: pages per CPU-second (process time) of decoding plus extraction, over all three sets.

Each half's figures carry a 95% interval from a bootstrap over its pages (``*_ci95``; 2,000 resamples, seed 0): a
half holds about 190 trafilatura-eval pages and 570 snippets of each kind, and a page's snippets rise or fall
together, so a share is known to about +-0.03. ``default_minus_this`` gives, per half, the default minus each
other route paired page by page, with its interval: the comparison these pages can make.

    python bench/extraction_quality.py [--data ../shared/data/extraction] [--out docs/extraction_quality.json]
        [--routes NAME,...] [--repeat 3] [--sweep] [--dump errors.jsonl]

``--sweep`` prints the tuning half's figures of the default for a range of cascade thresholds (how
``cascade_bad_share`` was chosen: the highest snippet accuracy, ties to the fewest pages sent to Trafilatura; the
report half is not run). ``--dump`` appends, per route, the tuning half's snippet errors
(must-not-have kept, must-have lost) and the extracted text, one JSON line per page (the report half is never
dumped).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.extract.html import ExtractionConfig, Extractor, decode_html  # noqa: E402

_TOKEN = re.compile(r"\w+", re.UNICODE)
#: The skip selectors before issue 24: substring matches handed to Resiliparse as they are.
SUBSTRING_SELECTORS = ("header:not(:has(p))", "h1", "[class*=title]:not(:has(p))", "[class*=caption]",
                       "[class*=author i]", "[class*=byline]", "[class*=footer]", "[id*=footer]", "[class*=more-]",
                       "[class*=teaser i]")
SWEEP = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 1.0)
DEFAULT = "resiliparse+clean"
CASCADE = 0.35  # the sweep's choice on the tuning half (highest snippet accuracy, ties to the fewest cascaded)


def shingles(text: str, n: int = 4) -> Counter:
    toks = _TOKEN.findall(text.lower())
    return Counter(tuple(toks[i:i + n]) for i in range(max(len(toks) - n + 1, 1))) if toks else Counter()


def prf(pred: str, truth: str, n: int = 4) -> tuple[float, float, float]:
    p, t = shingles(pred, n), shingles(truth, n)
    if not p and not t:
        return 1.0, 1.0, 1.0
    tp = sum((p & t).values())
    prec = tp / max(sum(p.values()), 1)
    rec = tp / max(sum(t.values()), 1)
    return prec, rec, (2 * prec * rec / (prec + rec) if prec + rec else 0.0)


def norm_ws(s: str) -> str:
    return " ".join(s.split()).lower()


def half(host: str) -> int:
    """0 = tuning half, 1 = report half: a stable hash of the page's host."""
    return hashlib.sha1(host.encode()).digest()[0] & 1


def host_of(url: str) -> str:
    return urlsplit(url).hostname or url


def load_sets(data: Path):
    aeb = data / "article-extraction-benchmark"
    truth = json.loads((aeb / "ground-truth.json").read_text())
    article = [(gzip.decompress((aeb / "html" / f"{k}.html.gz").read_bytes()), v["articleBody"],
                half(host_of(v["url"]))) for k, v in sorted(truth.items())]
    te = data / "trafilatura-eval"
    ev = json.loads((te / "evaldata.json").read_text())
    snippets = []
    for url, v in sorted(ev.items()):
        f = te / "html" / (v["file"] + ".gz")
        if f.exists():
            snippets.append((gzip.decompress(f.read_bytes()), v.get("with", []), v.get("without", []),
                             half(host_of(url))))
    rd = data / "readability-test-pages"
    readability = []
    for d in sorted(p for p in rd.iterdir() if p.is_dir()):
        exp_html = gzip.decompress((d / "expected.html.gz").read_bytes()).decode("utf-8", "replace")
        exp = re.sub(r"<[^>]+>", " ", exp_html)
        site = re.sub(r"-\d+$", "", d.name)  # bbc-1, guardian-1...: the site
        readability.append((gzip.decompress((d / "source.html.gz").read_bytes()), exp, half(site)))
    return article, snippets, readability


def extract_all(extractor, pages: list[bytes]) -> tuple[list[str], list, float, float]:
    """Texts, notes, wall and CPU seconds of one pass. Trafilatura's caches are emptied first: its ``deduplicate``
    drops paragraphs it has seen before in the process, so a second pass (or a route after another) would get
    less text from the same pages."""
    from trafilatura.meta import reset_caches

    reset_caches()
    t0, c0 = time.perf_counter(), time.process_time()
    out, notes = [], []
    for body in pages:
        html, _, _ = decode_html(body, None)
        try:
            out.append(extractor(html))
        except Exception:
            out.append("")
        notes.append(getattr(extractor, "last_note", None))
    return out, notes, time.perf_counter() - t0, time.process_time() - c0


def _mean(rows, i):
    return round(sum(r[i] for r in rows) / max(len(rows), 1), 4)


BOOTSTRAP = 2000  # resamples of the pages for the 95% intervals (seeded: the same pages give the same interval)


def _interval(rows: list, stat, n: int = BOOTSTRAP) -> list[float]:
    """95% percentile interval of ``stat`` over pages resampled with replacement (a page's snippets move together:
    they share one extraction, so resampling snippets alone would understate the spread)."""
    if not rows:
        return [0.0, 0.0]
    rng = random.Random(0)
    vals = sorted(stat([rng.choice(rows) for _ in rows]) for _ in range(n))
    return [round(vals[int(0.025 * n)], 4), round(vals[int(0.975 * n) - 1], 4)]


def snippet_counts(text: str, with_: list[str], without: list[str]) -> tuple[int, int, int, int]:
    """(must-have found, must-have, must-not-have kept out, must-not-have) of one page's extracted text."""
    nt = norm_ws(text)
    return (sum(norm_ws(s) in nt for s in with_), len(with_), sum(norm_ws(s) not in nt for s in without), len(without))


def _scores(texts, notes, article, snippets, readability, keep) -> dict:
    a = [(prf(t, tr), prf(t, tr, 1)) for t, (_, tr, h) in zip(texts[0], article) if keep(h)]
    res = {"article_benchmark": {"precision": _mean([x[0] for x in a], 0), "recall": _mean([x[0] for x in a], 1),
                                 "f1": _mean([x[0] for x in a], 2), "bow_precision": _mean([x[1] for x in a], 0),
                                 "bow_recall": _mean([x[1] for x in a], 1), "bow_f1": _mean([x[1] for x in a], 2),
                                 "pages": len(a),
                                 "bow_f1_ci95": _interval(a, lambda rows: sum(x[1][2] for x in rows) / len(rows))}}
    tp = fn = fp = tn = pages = 0
    per_page = []  # (must-have found, must-have, must-not-have kept out, must-not-have) of each page
    for t, (_, with_, without, h) in zip(texts[1], snippets):
        if not keep(h):
            continue
        pages += 1
        per_page.append(snippet_counts(t, with_, without))
        found, _, out, _ = per_page[-1]
        tp, fn, fp, tn = tp + found, fn + len(with_) - found, fp + len(without) - out, tn + out
    prec, rec = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    res["trafilatura_eval"] = {"precision": round(prec, 4), "recall": round(rec, 4),
                               "f1": round(2 * prec * rec / (prec + rec), 4) if prec + rec else 0.0,
                               "accuracy": round((tp + tn) / max(tp + tn + fp + fn, 1), 4),
                               "must_have_found": round(rec, 4),
                               "must_not_have_kept_out": round(tn / max(tn + fp, 1), 4),
                               "must_have_found_ci95": _interval(per_page, lambda rows: sum(r[0] for r in rows)
                                                                 / max(sum(r[1] for r in rows), 1)),
                               "must_not_have_kept_out_ci95": _interval(per_page, lambda rows: sum(r[2] for r in rows)
                                                                        / max(sum(r[3] for r in rows), 1)),
                               "snippets": [tp + fn, tn + fp], "pages": pages}
    r = [prf(t, tr) for t, (_, tr, h) in zip(texts[2], readability) if keep(h)]
    res["readability_silver"] = {"precision": _mean(r, 0), "recall": _mean(r, 1), "f1": _mean(r, 2), "pages": len(r)}
    sets = (article, snippets, readability)
    res["empty_pages"] = {name: sum(1 for t, row in zip(texts[i], sets[i]) if keep(row[-1]) and not t.strip())
                          for i, name in enumerate(("article_benchmark", "trafilatura_eval", "readability"))}
    res["notes"] = dict(Counter(n for i in range(3) for n, row in zip(notes[i], sets[i]) if n and keep(row[-1])))
    return res


def evaluate(name: str, extractor, sets, repeat: int = 1) -> dict:
    """Scores of one route; speed is the fastest of ``repeat`` passes (the machine is shared)."""
    article, snippets, readability = sets
    extract_all(extractor, [x[0] for x in article[:5]])  # warm-up: lazy imports, caches (the first route paid them)
    texts, notes, wall, cpu = [], [], 0.0, 0.0
    for pages in ([x[0] for x in article], [x[0] for x in snippets], [x[0] for x in readability]):
        runs = [extract_all(extractor, pages) for _ in range(repeat)]
        texts.append(runs[0][0])
        notes.append(runs[0][1])
        wall, cpu = wall + min(r[2] for r in runs), cpu + min(r[3] for r in runs)
    n = len(article) + len(snippets) + len(readability)
    return {"extractor": name, "_snippet_texts": texts[1], **_scores(texts, notes, *sets, keep=lambda h: True),
            "tune_half": _scores(texts, notes, *sets, keep=lambda h: h == 0),
            "report_half": _scores(texts, notes, *sets, keep=lambda h: h == 1),
            "pages_per_s": round(n / wall, 1), "pages_per_cpu_s": round(n / cpu, 1)}


def paired(default: list[str], other: list[str], snippets, half: int) -> dict:
    """The default minus another route on one half, paired by page: the differences of the two snippet shares and
    their 95% intervals (a difference whose interval holds 0 is not shown by these pages)."""
    rows = []
    for a, b, (_, with_, without, h) in zip(default, other, snippets):
        if h != half:
            continue
        ca, cb = snippet_counts(a, with_, without), snippet_counts(b, with_, without)
        rows.append((ca[0] - cb[0], ca[1], ca[2] - cb[2], ca[3]))

    def found(r):
        return sum(x[0] for x in r) / max(sum(x[1] for x in r), 1)

    def kept_out(r):
        return sum(x[2] for x in r) / max(sum(x[3] for x in r), 1)

    return {"must_have_found": round(found(rows), 4), "must_have_found_ci95": _interval(rows, found),
            "must_not_have_kept_out": round(kept_out(rows), 4), "must_not_have_kept_out_ci95": _interval(rows, kept_out)}


def sweep(sets) -> list[dict]:
    """The tuning half's figures of the default for each cascade threshold in SWEEP (the report half is not run)."""
    tuning = [[row for row in s if row[-1] == 0] for s in sets]
    out = []
    for t in SWEEP:
        ex = Extractor(ExtractionConfig(cascade_bad_share=t))
        runs = [extract_all(ex, [row[0] for row in rows]) for rows in tuning]
        row = {"cascade_bad_share": t, **_scores([r[0] for r in runs], [r[1] for r in runs], *tuning,
                                                 keep=lambda h: True)}
        out.append(row)
        print(json.dumps(row), flush=True)
    return out


def dump_errors(name: str, extractor, snippets, path: str) -> None:
    """The tuning half's snippet errors of one route, one JSON line per page (the report half stays unread)."""
    with open(path, "a") as f:
        for body, with_, without, h in snippets:
            if h != 0:
                continue
            text = extractor(decode_html(body, None)[0])
            nt = norm_ws(text)
            kept = [s for s in without if norm_ws(s) in nt]
            lost = [s for s in with_ if norm_ws(s) not in nt]
            if kept or lost:
                f.write(json.dumps({"route": name, "kept": kept, "lost": lost, "text": text}) + "\n")


def routes() -> dict:
    """Every route of the extraction table: plain Resiliparse, the default and its steps, Trafilatura."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    from curation.extract.boilerplate import clean_minimal_html

    def substring_selectors(html):  # the default before issue 24: CSS substring selectors, no guard, no cascade
        return clean_minimal_html(extract_plain_text(
            HTMLTree.parse(html), main_content=True, preserve_formatting="minimal_html", list_bullets=False,
            alt_texts=False, links=True, form_fields=False, noscript=False, comments=False,
            skip_elements=list(SUBSTRING_SELECTORS))).strip()

    default = ExtractionConfig()
    return {
        "resiliparse": Extractor(ExtractionConfig(extractor="resiliparse")),
        "resiliparse+clean before issue 24 (substring selectors)": substring_selectors,
        "resiliparse+clean token rules, no guard, no cascade": Extractor(replace(default, guard=False,
                                                                                 cascade_bad_share=1.0)),
        "resiliparse+clean": Extractor(default),  # token rules + guard, no cascade
        "resiliparse+clean cascade_bad_share=0.35": Extractor(replace(default, cascade_bad_share=CASCADE)),
        "trafilatura": Extractor(ExtractionConfig(extractor="trafilatura")),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/extraction"))
    ap.add_argument("--out", default="docs/extraction_quality.json")
    ap.add_argument("--routes", default="", help="comma-separated route names (default: all)")
    ap.add_argument("--repeat", type=int, default=1, help="passes per route; speed = the fastest")
    ap.add_argument("--sweep", action="store_true", help="the tuning half's figures per cascade threshold, only")
    ap.add_argument("--dump", default="", help="write, per route, the trafilatura-eval snippets it gets wrong "
                    "(must-not-have kept, must-have lost) of the tuning half only, as JSONL, to this file")
    args = ap.parse_args()
    data = Path(args.data)
    if not (data / "article-extraction-benchmark" / "ground-truth.json").exists():
        sys.exit(f"{data}: not the shared extraction data (no article-extraction-benchmark/ground-truth.json)")
    sets = load_sets(data)
    if args.sweep:
        rows = sweep(sets)
        out = Path(args.out)
        whole = json.loads(out.read_text()) if out.exists() and out.read_text().startswith("{") else {}
        whole["cascade_sweep_tuning_half"] = rows
        out.write_text(json.dumps(whole, indent=1) + "\n")
        return
    all_routes = routes()
    names = [n for n in args.routes.split(",") if n] or list(all_routes)
    unknown = [n for n in names if n not in all_routes]
    if unknown:
        sys.exit(f"unknown route(s) {unknown}; choose from {list(all_routes)}")
    results, texts = [], {}
    for name in names:
        r = evaluate(name, all_routes[name], sets, args.repeat)
        texts[name] = r.pop("_snippet_texts")
        results.append(r)
        if args.dump:
            dump_errors(name, all_routes[name], sets[1], args.dump)
        print(json.dumps(r), flush=True)
    if DEFAULT in texts:  # the default against each other route, page by page, on each half
        for r in results:
            if r["extractor"] != DEFAULT:
                r["default_minus_this"] = {h: paired(texts[DEFAULT], texts[r["extractor"]], sets[1], i)
                                           for i, h in enumerate(("tune_half", "report_half"))}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    whole = json.loads(out.read_text()) if out.exists() and out.read_text().startswith("{") else {}
    whole.update({"split": "host (SHA-1 parity)", "routes": results})
    out.write_text(json.dumps(whole, indent=1) + "\n")


if __name__ == "__main__":
    main()
