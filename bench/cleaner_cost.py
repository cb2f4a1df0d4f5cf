"""Where the default extractor's time goes on the sample crawl: Resiliparse's plain text, its minimal_html output
with link marking, the skip selectors, and the block cleaner (curation.extract.boilerplate) with and without the phrase
rule and whole tables. One process, every stage timed over every HTML page of the crawl in interleaved passes
(the machine is shared), CPU time per page (``time.process_time``): best and median of ``--passes``.

    python bench/cleaner_cost.py [--crawl sample_crawl] [--passes 9] [--out docs/cleaner_cost.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def crawl_pages(crawl: str) -> list[str]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    from curation.extract.html import UndecodableError, decode_html

    pages = []
    for path in sorted(Path(crawl).rglob("*.warc.gz")):
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=True):
                if rec.http_headers and rec.http_headers.status_code == 200 and "html" in (rec.http_content_type or ""):
                    try:
                        pages.append(decode_html(rec.reader.read(), None)[0])
                    except UndecodableError:
                        pass
    return pages


def main() -> None:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    from curation.extract.boilerplate import SKIP_SELECTORS, clean_minimal_html

    ap = argparse.ArgumentParser()
    ap.add_argument("--crawl", default=str(Path(__file__).resolve().parents[1] / "sample_crawl"))
    ap.add_argument("--passes", type=int, default=9)
    ap.add_argument("--out", default="docs/cleaner_cost.json")
    args = ap.parse_args()
    pages = crawl_pages(args.crawl)
    opts = {"main_content": True, "alt_texts": False, "form_fields": False, "noscript": False}

    def minimal(html, skip=()):
        return extract_plain_text(HTMLTree.parse(html), preserve_formatting="minimal_html", list_bullets=False,
                                  links=True, comments=False, skip_elements=list(skip), **opts)

    outputs = [minimal(h, SKIP_SELECTORS) for h in pages]  # the cleaner's input, for the cleaner-only stages
    stages = {
        "resiliparse plain text (DCLM setting)": (pages, lambda h: extract_plain_text(
            HTMLTree.parse(h), preserve_formatting=True, list_bullets=True, links=False, **opts)),
        "resiliparse minimal_html, links marked, comments=False": (pages, minimal),
        "... + skip selectors": (pages, lambda h: minimal(h, SKIP_SELECTORS)),
        "cleaner only (default)": (outputs, clean_minimal_html),
        "cleaner only, no phrase rule, rows one by one": (outputs, lambda m: clean_minimal_html(
            m, phrase_max_chars=0, tables=False)),
    }
    times: dict[str, list[float]] = {k: [] for k in stages}
    for _ in range(args.passes):
        for name, (inputs, fn) in stages.items():
            c0 = time.process_time()
            for x in inputs:
                fn(x)
            times[name].append((time.process_time() - c0) * 1000 / len(inputs))
    res = {"pages": len(pages), "passes": args.passes,
           "ms_per_page": {k: {"best": round(min(v), 3), "median": round(statistics.median(v), 3)}
                           for k, v in times.items()}}
    print(json.dumps(res, indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
