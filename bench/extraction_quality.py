"""Extraction quality and speed of each extraction route against human ground truth.

Sets (from ../shared/data/extraction):
- article-extraction-benchmark: precision/recall/F1 of word 4-shingles against the human article body
  (the upstream benchmark's measure) and bag-of-words F1 (word unigrams, multiset), both averaged per page;
- trafilatura-eval: share of must-have snippets found (recall), share of must-not-have snippets kept out,
  with snippet precision/F1/accuracy as upstream computes them;
- readability-test-pages: word 4-shingle F1 against Readability.js output (a silver standard).

Every figure is given for all pages and for two halves split by a hash (SHA-1 first byte parity) of the page
id (article benchmark), the page's host (trafilatura-eval, so one site's template stays on one side) or the
page name (readability): ``tune`` (0) is where curation.extract.boilerplate's thresholds were chosen, ``report`` (1)
was not looked at while tuning. Speed: pages per CPU-second (process time) of decoding plus extraction,
over all three sets.

    python bench/extraction_quality.py [--data ../shared/data/extraction] [--out docs/extraction_quality.json]
        [--routes resiliparse+clean,resiliparse,trafilatura] [--repeat 3] [--dump errors.jsonl]

``--dump`` appends, per route, the tuning half's snippet errors (must-not-have kept, must-have lost) and the
extracted text, one JSON line per page: what the rules were developed on (the report half is never dumped).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.extract.html import ExtractionConfig, Extractor, decode_html  # noqa: E402

_TOKEN = re.compile(r"\w+", re.UNICODE)


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


def half(key: str) -> int:
    """0 = tuning half, 1 = report half."""
    return hashlib.sha1(key.encode()).digest()[0] & 1


def load_sets(data: Path):
    aeb = data / "article-extraction-benchmark"
    truth = json.loads((aeb / "ground-truth.json").read_text())
    article = [(gzip.decompress((aeb / "html" / f"{k}.html.gz").read_bytes()), v["articleBody"], half(k))
               for k, v in sorted(truth.items())]
    te = data / "trafilatura-eval"
    ev = json.loads((te / "evaldata.json").read_text())
    snippets = []
    for url, v in sorted(ev.items()):
        f = te / "html" / (v["file"] + ".gz")
        if f.exists():
            snippets.append((gzip.decompress(f.read_bytes()), v.get("with", []), v.get("without", []),
                             half(urlsplit(url).hostname or url)))
    rd = data / "readability-test-pages"
    readability = []
    for d in sorted(p for p in rd.iterdir() if p.is_dir()):
        exp_html = gzip.decompress((d / "expected.html.gz").read_bytes()).decode("utf-8", "replace")
        exp = re.sub(r"<[^>]+>", " ", exp_html)
        readability.append((gzip.decompress((d / "source.html.gz").read_bytes()), exp, half(d.name)))
    return article, snippets, readability


def extract_all(extractor, pages: list[bytes]) -> tuple[list[str], float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = []
    for body in pages:
        html, _, _ = decode_html(body, None)
        try:
            out.append(extractor(html))
        except Exception:
            out.append("")
    return out, time.perf_counter() - t0, time.process_time() - c0


def _mean(rows, i):
    return round(sum(r[i] for r in rows) / max(len(rows), 1), 4)


def _scores(texts, article, snippets, readability, keep) -> dict:
    a = [(prf(t, tr), prf(t, tr, 1)) for t, (_, tr, h) in zip(texts[0], article) if keep(h)]
    res = {"article_benchmark": {"precision": _mean([x[0] for x in a], 0), "recall": _mean([x[0] for x in a], 1),
                                 "f1": _mean([x[0] for x in a], 2), "bow_precision": _mean([x[1] for x in a], 0),
                                 "bow_recall": _mean([x[1] for x in a], 1), "bow_f1": _mean([x[1] for x in a], 2),
                                 "pages": len(a)}}
    tp = fn = fp = tn = pages = 0
    for t, (_, with_, without, h) in zip(texts[1], snippets):
        if not keep(h):
            continue
        pages += 1
        nt = norm_ws(t)
        for s in with_:
            tp, fn = (tp + 1, fn) if norm_ws(s) in nt else (tp, fn + 1)
        for s in without:
            fp, tn = (fp + 1, tn) if norm_ws(s) in nt else (fp, tn + 1)
    prec, rec = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    res["trafilatura_eval"] = {"precision": round(prec, 4), "recall": round(rec, 4),
                               "f1": round(2 * prec * rec / (prec + rec), 4) if prec + rec else 0.0,
                               "accuracy": round((tp + tn) / max(tp + tn + fp + fn, 1), 4),
                               "must_have_found": round(rec, 4),
                               "must_not_have_kept_out": round(tn / max(tn + fp, 1), 4),
                               "pages": pages}
    r = [prf(t, tr) for t, (_, tr, h) in zip(texts[2], readability) if keep(h)]
    res["readability_silver"] = {"precision": _mean(r, 0), "recall": _mean(r, 1), "f1": _mean(r, 2), "pages": len(r)}
    return res


def evaluate(name: str, extractor, sets, repeat: int = 1) -> dict:
    """Scores of one route; speed is the fastest of ``repeat`` passes (the machine is shared)."""
    article, snippets, readability = sets
    extract_all(extractor, [x[0] for x in article[:5]])  # warm-up: lazy imports, caches (the first route paid them)
    texts, wall, cpu = [], 0.0, 0.0
    for pages in ([x[0] for x in article], [x[0] for x in snippets], [x[0] for x in readability]):
        runs = [extract_all(extractor, pages) for _ in range(repeat)]
        texts.append(runs[0][0])
        wall, cpu = wall + min(r[1] for r in runs), cpu + min(r[2] for r in runs)
    n = len(article) + len(snippets) + len(readability)
    res = {"extractor": name, **_scores(texts, *sets, keep=lambda h: True),
           "tune_half": _scores(texts, *sets, keep=lambda h: h == 0),
           "report_half": _scores(texts, *sets, keep=lambda h: h == 1),
           "pages_per_s": round(n / wall, 1), "pages_per_cpu_s": round(n / cpu, 1)}
    return res


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
    """Every route measured for the README's extraction table: the extractors plus Resiliparse variants."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    from curation.extract.boilerplate import SKIP_SELECTORS, blocks_from_minimal_html, classify_blocks, clean_minimal_html, render

    def res(html, **kw):
        opts = dict(main_content=True, preserve_formatting=True, list_bullets=True, alt_texts=False, links=False,
                    form_fields=False, noscript=False)
        return extract_plain_text(HTMLTree.parse(html), **{**opts, **kw}).strip()

    skip = list(SKIP_SELECTORS)
    traf = Extractor(ExtractionConfig(extractor="trafilatura"))
    # the default's first version (issue 16, first pass): no teaser selector, "author" in lower case only
    skip_v1 = [{"[class*=author i]": "[class*=author]"}.get(s, s) for s in skip if s != "[class*=teaser i]"]

    def clean(html, selectors=skip, **params):
        return clean_minimal_html(res(html, comments=False, preserve_formatting="minimal_html", list_bullets=False,
                                      links=True, skip_elements=selectors), **params).strip()

    def cascade(html, threshold=0.17):  # threshold: the top tenth of the tuning half's pages by bad share
        blocks = classify_blocks(blocks_from_minimal_html(res(html, comments=False, preserve_formatting="minimal_html",
                                                              list_bullets=False, links=True, skip_elements=skip)))
        bad = sum(len(b.text) for b in blocks if b.cls == "bad")
        if bad > threshold * max(sum(len(b.text) for b in blocks), 1):
            return traf(html)
        return render([b for b in blocks if b.cls == "good"]).strip()

    return {
        "resiliparse+clean": Extractor(ExtractionConfig(extractor="resiliparse+clean")),
        "resiliparse+clean without the phrase rule": lambda h: clean(h, phrase_max_chars=0),
        "resiliparse+clean without the teaser and any-case author selectors": lambda h: clean(h, skip_v1),
        "resiliparse+clean without whole tables": lambda h: clean(h, tables=False),
        "resiliparse+clean v1 (first pass: none of the three)": lambda h: clean(h, skip_v1, phrase_max_chars=0,
                                                                                 tables=False),
        "resiliparse": Extractor(ExtractionConfig(extractor="resiliparse")),
        "resiliparse comments=False": lambda h: res(h, comments=False),
        "resiliparse comments=False post_meta=False": lambda h: res(h, comments=False, post_meta=False),
        "resiliparse comments=False + skip selectors": lambda h: res(h, comments=False, skip_elements=skip),
        "resiliparse comments=False + jusText blocks": lambda h: clean(h, []),
        "resiliparse+clean + cascade to trafilatura above 17% dropped": cascade,
        "trafilatura": traf,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/extraction"))
    ap.add_argument("--out", default="docs/extraction_quality.json")
    ap.add_argument("--routes", default="", help="comma-separated route names (default: all)")
    ap.add_argument("--repeat", type=int, default=1, help="passes per route; speed = the fastest")
    ap.add_argument("--dump", default="", help="write, per route, the trafilatura-eval snippets it gets wrong "
                    "(must-not-have kept, must-have lost) of the tuning half only, as JSONL, to this file")
    args = ap.parse_args()
    sets = load_sets(Path(args.data))
    all_routes = routes()
    names = [n for n in args.routes.split(",") if n] or list(all_routes)
    results = []
    for name in names:
        r = evaluate(name, all_routes[name], sets, args.repeat)
        results.append(r)
        if args.dump:
            dump_errors(name, all_routes[name], sets[1], args.dump)
        print(json.dumps(r), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
