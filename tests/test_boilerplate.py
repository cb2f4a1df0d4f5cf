"""Boilerplate removal (curation.boilerplate) and the default extractor on real pages (tests/data/extraction).

The pages and their human annotations come from the benchmark sets in shared/data/extraction (sources and
licences in tests/data/README.md): what an annotator marked as article text must stay, what they marked as
boilerplate (navigation, related-article teasers, comment forms) must go.
"""

import gzip
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from curation.boilerplate import blocks_from_minimal_html, classify_blocks, clean_minimal_html
from curation.extract import EXTRACTORS, ExtractionConfig, Extractor, decode_html

DATA = Path(__file__).parent / "data" / "extraction"
TRUTH = json.loads((DATA / "truth.json").read_text())


def page(name: str) -> str:
    return decode_html(gzip.decompress((DATA / name).read_bytes()), None)[0]


def norm(s: str) -> str:
    return " ".join(s.split()).lower()


def bow_f1(pred: str, truth: str) -> float:
    p, t = (Counter(re.findall(r"\w+", s.lower())) for s in (pred, truth))
    tp = sum((p & t).values())
    prec, rec = tp / max(sum(p.values()), 1), tp / max(sum(t.values()), 1)
    return 2 * prec * rec / (prec + rec) if tp else 0.0


@pytest.fixture(scope="module")
def default():
    return Extractor()


@pytest.fixture(scope="module")
def plain():
    return Extractor(ExtractionConfig(extractor="resiliparse"))


def test_default_is_the_cleaned_resiliparse_and_the_old_extractors_stay_selectable():
    assert ExtractionConfig().extractor == "resiliparse+clean"
    assert {"resiliparse", "trafilatura"} < set(EXTRACTORS)
    with pytest.raises(ValueError, match="unknown extractor"):
        ExtractionConfig(extractor="boilerpipe")


def test_blocks_keep_kind_link_share_and_entities():
    html = ('<h2>Lesen Sie auch</h2>\n\n<p>Text &amp; more, <a href="/x">a link</a> inside.</p>\n'
            '<a href="/y">unclosed link\nBare line<br>\n<ul>\n  <li>item</li>\n</ul>')
    blocks = blocks_from_minimal_html(html)
    assert [(b.kind, b.text) for b in blocks] == [
        ("h", "Lesen Sie auch"), ("p", "Text & more, a link inside."), ("t", "unclosed link"),
        ("t", "Bare line"), ("li", "item")]
    assert blocks[1].link_chars == len("a link") and blocks[2].link_chars == len("unclosed link")
    assert blocks[3].link_chars == 0  # an unclosed <a> ends with its block


def test_classification_keeps_short_lines_between_paragraphs_and_drops_orphans():
    para = "A paragraph of real running text, long enough to count as good on its own merits. " * 2
    html = (f"<p>{para}</p>\n<p>Short aside.</p>\n<p>{para}</p>\n<h2>Related articles</h2>\n"
            "<p>Diese Website verwendet Cookies.</p>\n<p><a href='/a'>Teaser headline one</a></p>")
    kept = [b.text for b in classify_blocks(blocks_from_minimal_html(html)) if b.cls == "good"]
    assert kept == [para.strip(), "Short aside.", para.strip()]
    assert clean_minimal_html(html).split("\n\n") == kept


@pytest.mark.parametrize("name", ["dw.com.colonial.html.gz", "finanzmarktwelt.de-Benko-Firma.html.gz"])
def test_annotated_boilerplate_goes_and_article_text_stays(name, default, plain):
    t = TRUTH[name]
    new, old = norm(default(page(name))), norm(plain(page(name)))
    assert all(norm(s) in new for s in t["with"]), [s for s in t["with"] if norm(s) not in new]
    assert not [s for s in t["without"] if norm(s) in new]
    assert any(norm(s) in old for s in t["without"])  # plain Resiliparse keeps some of it


def test_default_matches_the_human_article_body(default, plain):
    name = "twincities-wild-parise.html.gz"
    html, truth = page(name), TRUTH[name]["articleBody"]
    new, old = default(html), plain(html)
    assert bow_f1(new, truth) > 0.95 > 0.75 > bow_f1(old, truth)
    for junk in ("blog comments powered by Disqus", "Read More", "More in Minnesota Wild"):
        assert junk in old and junk not in new
    paras = [p for p in truth.split("\n") if p.strip()]
    assert norm(paras[0]) in norm(new) and norm(paras[len(paras) // 2]) in norm(new)
