"""Where a page's time goes in extraction plus language ID: each step timed over every HTML page of the sample
crawl, warm (models loaded, one pass first), CPU time per page, the best of ``--passes`` passes (the same pass
varies by up to 20% on a shared VM; the best pass is the least disturbed). The garbage collector is off while a
pass runs (a collection would be charged to whichever step happened to allocate last), so the steps' sum is a
little below what a whole run costs.

Steps: WARC reading (curation.extract.warc.iter_pages), charset decoding, the page budget (curation.extract.page_budget), extraction
(HTML parse + Resiliparse + the cleaner, or plain Resiliparse), language ID of the extracted texts.

    python bench/page_costs.py [--crawl sample_crawl] [--passes 5] [--settings default|issue-16]
        [--checkout DIR]   # another copy of the project, e.g. bench/.checkout-5b3d1d3 made by bench/throughput.py
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crawl", default=str(ROOT / "sample_crawl"))
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--settings", choices=("default", "issue-16"), default="default")
    ap.add_argument("--checkout", default=str(ROOT))
    args = ap.parse_args()
    sys.path.insert(0, args.checkout)
    warnings.filterwarnings("ignore")
    import importlib

    flat = not (Path(args.checkout) / "curation" / "extract" / "__init__.py").exists()  # before the stage packages
    html = importlib.import_module("curation.extract" if flat else "curation.extract.html")
    ExtractionConfig, Extractor, decode_html = html.ExtractionConfig, html.Extractor, html.decode_html
    lid = importlib.import_module("curation.langid" if flat else "curation.langid.identify")
    LangIdConfig, LanguageIdentifier = lid.LangIdConfig, lid.LanguageIdentifier
    iter_pages = importlib.import_module("curation.warc" if flat else "curation.extract.warc").iter_pages
    if not flat or (Path(args.checkout) / "curation" / "page_budget.py").exists():
        too_deep = importlib.import_module("curation.page_budget" if flat else "curation.extract.page_budget").too_deep
    else:  # a checkout from before the page budget (an import would find today's: the editable install's finder)
        def too_deep(html, raw=None, charset=None):
            return None

    if args.settings == "issue-16":
        ex = Extractor(ExtractionConfig(extractor="resiliparse"))
        ident = LanguageIdentifier(LangIdConfig(second_opinion="lingua", second_opinion_below=0.5, max_chars=2000))
    else:
        ex, ident = Extractor(ExtractionConfig()), LanguageIdentifier(LangIdConfig())
    files = sorted(str(p) for p in Path(args.crawl).rglob("*.warc*") if p.name.endswith((".warc", ".warc.gz")))

    def opener(path):  # curation.extract.warc.file_opener, which a checkout from before it lacks
        def open_at(offset):
            fh = open(path, "rb", buffering=1 << 20)
            fh.seek(offset)
            return fh
        return open_at

    clock = time.process_time

    def one_pass() -> dict:
        t = {}
        t0 = clock()
        pages = [p for f in files for p in iter_pages(opener(f), os.path.getsize(f), Counter(), compressed=f.endswith(".gz"))]
        t1 = clock()
        htmls = []
        for p in pages:
            try:
                html, charset, _ = decode_html(p.body, p.declared_charset)
                htmls.append((html, p.body, charset))
            except ValueError:
                continue
        t2 = clock()
        kept = [h for h, raw, charset in htmls if not too_deep(h, raw, charset)]
        t3 = clock()
        texts = [x for x in (ex(h) for h in kept) if x]
        t4 = clock()
        ident.label(texts)
        t5 = clock()
        t.update(pages=len(pages), read=t1 - t0, decode=t2 - t1, page_budget=t3 - t2, extract=t4 - t3, language_id=t5 - t4)
        return t

    one_pass()
    gc.collect()
    gc.disable()  # a collection would be charged to whichever step allocated last (the GC's own cost: see below)
    passes = []
    for _ in range(args.passes):
        passes.append(one_pass())
        gc.collect()
    gc.enable()
    n = passes[0]["pages"]
    steps = ["read", "decode", "page_budget", "extract", "language_id"]
    best = {k: round(min(p[k] for p in passes) / n * 1e3, 3) for k in steps}
    print(json.dumps({"checkout": args.checkout, "settings": args.settings, "pages": n, "ms_per_page_best": best,
                      "sum_ms": round(sum(best.values()), 3)}))


if __name__ == "__main__":
    main()
