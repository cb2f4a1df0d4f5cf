"""Cost of the per-page budget check (curation/page_budget.py) on real pages, and what it saves on hostile ones.

Real pages: every HTML response of the sample crawl and of /work/shared/data/warc (when present), decoded once;
then, best of --repeat rounds, the CPU seconds of Resiliparse main-content extraction (parse + extract) against
the CPU seconds of ``too_deep`` on the same pages. Hostile pages: the check's CPU time and verdict, and the
extraction time the check avoids, measured on smaller sizes (extraction of the full sizes takes minutes).

    python bench/page_budget.py [--repeat 5]

Times are process CPU seconds (time.process_time), so other load on the machine does not inflate them.
"""

from __future__ import annotations

import argparse
import glob
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOSTILE = {  # name -> (repeated unit, count at the 4 MiB payload cap or about)
    "nested <div>": ("<div>", 100_000),
    "<div><p> unclosed": ("<div><p>", 100_000),
    "<span></x> (unmatched end tags)": ("<span></x>", 400_000),
    "<b></x>": ("<b></x>", 400_000),
    "wide <div>x</div>": ("<div>x</div>", 300_000),
}


def real_pages() -> list[str]:
    from curation.extract.html import decode_html
    from curation.extract.warc import file_opener, iter_pages

    files = sorted(glob.glob(str(ROOT / "sample_crawl/**/*.warc.gz"), recursive=True)
                   + glob.glob("/work/shared/data/warc/*.warc.gz"))
    out = []
    for f in files:
        for page in iter_pages(file_opener(f), 1, Counter()):
            html, charset, _ = decode_html(page.body, page.declared_charset)
            out.append((html, page.body, charset))
    return out


def cpu(fn, *args) -> float:
    t = time.process_time()
    fn(*args)
    return time.process_time() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    from curation.extract.page_budget import GATE_TAGS, too_deep

    def extract(pages):
        for h, *_ in pages:
            extract_plain_text(HTMLTree.parse(h), main_content=True, preserve_formatting=True, list_bullets=True,
                               alt_texts=False, links=False, form_fields=False, noscript=False)

    def check(pages):
        for h, raw, charset in pages:
            assert too_deep(h, raw, charset) is None, "a real page was refused"

    pages = real_pages()
    gated = [p for p in pages if p[1].count(b"<") > GATE_TAGS]
    t_ext = min(cpu(extract, pages) for _ in range(args.repeat))
    t_chk = min(cpu(check, pages) for _ in range(args.repeat))
    print(f"real pages: {len(pages)} ({len(gated)} over the {GATE_TAGS:,}-tag gate, tokenised)")
    print(f"  extraction {t_ext:.3f} CPU-s, check {t_chk:.4f} CPU-s: {100 * t_chk / t_ext:.1f}% of extraction")
    if gated:
        g_ext = min(cpu(extract, gated) for _ in range(args.repeat))
        g_chk = min(cpu(check, gated) for _ in range(args.repeat))
        print(f"  pages over the gate: extraction {g_ext:.3f} CPU-s, check {g_chk:.4f} CPU-s")
    for name, (unit, n) in HOSTILE.items():
        html = "<html><body>" + unit * n + "</body></html>"
        t = time.process_time()
        verdict = too_deep(html, html.encode(), "utf-8")
        t_check = time.process_time() - t
        small = "<html><body>" + unit * (n // 20) + "</body></html>"
        t_small = cpu(extract, [(small, None, None)])
        print(f"{name}: {len(html) / 1e6:.1f} MB, check {t_check:.3f} CPU-s -> {verdict or 'let through'}; "
              f"extraction of 1/20 of it: {t_small:.2f} CPU-s")


if __name__ == "__main__":
    main()
