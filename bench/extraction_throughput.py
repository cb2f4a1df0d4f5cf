"""bench/throughput.py with the variants of issue 24's choices, run by the same machinery (one process per variant,
pages per CPU-second, alternating rounds, the median run), so that each runs in the same run as ``at-filing``.

  ours                 (throughput.py's) the defaults: token skip rules and the emptying guard, no cascade
  ours-cascade         the defaults with the cascade on (``cascade_bad_share=0.35``)
  ours-no-guard        the token skip rules alone: no guard, no cascade
  ours-substring       the default before issue 24: CSS substring skip selectors, no guard (same code otherwise)

    python bench/extraction_throughput.py [--variants at-filing,ours-substring,ours-no-guard,ours,ours-cascade]
        [--repeat 3] [--rounds 3] [--out docs/extraction_throughput.json]

Every other option and variant is bench/throughput.py's.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import throughput  # noqa: E402

CASCADE = 0.35  # bench/extraction_quality.py --sweep: chosen on the tuning half


def run_config(crawl, files, repeat, substring: bool = False, **extraction) -> int:
    """throughput.run_ours (with the second opinion) under ExtractionConfig(**extraction): the HTML pages read."""
    from curation.extract.documents import DocumentBuilder
    from curation.extract.html import ExtractionConfig, Extractor
    from curation.extract.sources import CrawlSource, InputFile
    from curation.langid.identify import LangIdConfig, LanguageIdentifier, language_table

    if substring:  # Resiliparse skips the old selectors itself (as before issue 24), nothing is marked in Python
        from extraction_quality import SUBSTRING_SELECTORS

        def cleaned(self, html):
            return self._boilerplate.clean(self._extract_plain_text(
                self._tree.parse(html), main_content=True, preserve_formatting="minimal_html", list_bullets=False,
                alt_texts=False, links=True, form_fields=False, noscript=False, comments=False,
                skip_elements=list(SUBSTRING_SELECTORS)))

        Extractor.cleaned = cleaned
    builder = DocumentBuilder(CrawlSource(crawl), ExtractionConfig(**extraction))
    return throughput.pages_read(builder, LanguageIdentifier(LangIdConfig()), language_table,
                                 [InputFile(rel, size, "v") for _, size, rel in files], repeat)


# at import, so that the spawned worker processes (which import this module as __mp_main__) know them too
throughput.VARIANTS["ours-cascade"] = lambda crawl, files, repeat: run_config(
    crawl, files, repeat, cascade_bad_share=CASCADE)
throughput.VARIANTS["ours-no-guard"] = lambda crawl, files, repeat: run_config(crawl, files, repeat, guard=False)
throughput.VARIANTS["ours-substring"] = lambda crawl, files, repeat: run_config(
    crawl, files, repeat, substring=True, guard=False)

if __name__ == "__main__":
    if not any(a.startswith("--variants") for a in sys.argv[1:]):
        sys.argv += ["--variants", "at-filing,ours-substring,ours-no-guard,ours,ours-cascade"]
    if not any(a.startswith("--out") for a in sys.argv[1:]):
        sys.argv += ["--out", "docs/extraction_throughput.json"]
    throughput.main()
