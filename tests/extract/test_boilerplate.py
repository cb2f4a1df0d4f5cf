"""Boilerplate removal (curation.extract.boilerplate) and the default extractor on real pages (tests/data/extraction).

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

from curation.extract import boilerplate, skip
from curation.extract.boilerplate import blocks_from_minimal_html, classify_blocks, clean_minimal_html
from curation.extract.boilerplate_phrases import is_notice
from curation.extract.html import EXTRACTORS, ExtractionConfig, Extractor, decode_html

DATA = Path(__file__).parents[1] / "data" / "extraction"
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


def annotated(name: str, text: str) -> tuple[list[str], list[str]]:
    """(must-have snippets missing from text, must-not-have snippets present in it)."""
    t, nt = TRUTH[name], norm(text)
    return [s for s in t["with"] if norm(s) not in nt], [s for s in t["without"] if norm(s) in nt]


@pytest.mark.parametrize("name, notice", [
    ("pythonspeed.com.docker.html.gz", "read the rest of the Docker packaging guide"),  # "read more" prompt (en)
    ("mix1.de-clio.html.gz", "Schauen Sie mal in unseren Musiknewsletter"),  # newsletter prompt (de)
    ("eluniversal.com-senador.html.gz", "Siguenos en Telegram"),  # follow-us line (es)
])
def test_phrase_rule_drops_short_notices_and_keeps_the_article(name, notice, default, monkeypatch):
    text = default(page(name))
    assert annotated(name, text) == ([], [])
    assert norm(notice) not in norm(text)
    monkeypatch.setattr(boilerplate, "PHRASE_MAX_CHARS", 0)  # the rule off: the notice stays
    assert norm(notice) in norm(Extractor()(page(name)))


def test_phrase_rule_matches_notices_not_ordinary_sentences():
    for notice in ("Share this article on Facebook", "Sie müssen sich einloggen, um zu kommentieren.",
                   "Foto: dpa", "Aktualisiert am 17.01.2021", "Lire aussi", "Alle Rechte vorbehalten."):
        assert is_notice(notice), notice
    for text in ("Comment ça marche ?", "The recommended dose is 5 mg.", "Die Aktie stieg um 3 Prozent.",
                 "She shared the prize with two colleagues.", "Related work", "Firma muss Insolvenz anmelden",
                 "Werbung im Fernsehen wirkt"):
        assert not is_notice(text), text


@pytest.mark.parametrize("name, junk, keyword", [
    ("jagdleben.de-waldwege.html.gz", "Förster angegriffen: Polizei", "teaser"),  # teaser box
    ("chip.de.beef.html.gz", "Inga Buller ist Head of Social", "author"),  # class="...Author..." bio
])
def test_teaser_and_author_boxes_are_skipped_whatever_their_case(name, junk, keyword, default, monkeypatch):
    assert any(kw == keyword and any_case for kw, any_case, _, _ in skip.KEYWORDS)
    text = default(page(name))
    assert annotated(name, text) == ([], [])
    # as before issue 16's second pass: no teaser rule, author in lower case only (issue 24: the rules moved to
    # curation.extract.skip and match by class token)
    old = tuple((kw, ci and kw != "author", attr, extra) for kw, ci, attr, extra in skip.KEYWORDS if kw != "teaser")
    monkeypatch.setattr(skip, "KEYWORDS", old)
    assert norm(junk) in norm(Extractor(ExtractionConfig(cascade_bad_share=1.0))(page(name)))


def test_table_rows_are_one_block():
    rows = "Länge in cm\t\t478,5\nBreite in cm\t\t190\nHöhe in cm\t\t170"
    blocks = blocks_from_minimal_html(f"<h2>Abmessungen</h2>\n{rows}\n<p>{'Ein ganzer Satz mit Text. ' * 6}</p>")
    assert [b.text for b in blocks[1:4]] == rows.split("\n")
    classify_blocks(blocks)
    assert {b.cls for b in blocks[1:4]} == {"good"}  # one 60-char unit beside good text, not three short lines


def test_a_data_table_stays_with_its_article(default, monkeypatch):
    name = "auto-motor.at-hyundaitest.html.gz"  # a car test with its specification table
    text = default(page(name))
    assert annotated(name, text) == ([], [])
    assert "CO2 Ausstoß pro km in Gramm\t\t37" in text
    monkeypatch.setattr(boilerplate, "_tables", lambda blocks: (blocks, []))  # rows one by one
    assert "CO2 Ausstoß pro km in" not in Extractor()(page(name))


def test_a_notice_line_at_the_end_of_a_long_paragraph_goes(monkeypatch):
    name = "bayrische-bembel.de.504.html.gz"  # a club news post whose last <br> line links to the new board
    assert annotated(name, Extractor()(page(name))) == ([], [])
    monkeypatch.setattr(boilerplate, "trim_edge_lines", lambda text, max_chars=0: text)  # the line rule off
    assert "Hier geht es zur neuen Vorstandsstruktur" in Extractor()(page(name))
    line = "Axel Hellmann übernimmt die Verantwortung.\nHier geht es zur neuen Vorstandsstruktur"
    monkeypatch.undo()
    assert boilerplate.trim_edge_lines(line, 120) == "Axel Hellmann übernimmt die Verantwortung."
    assert boilerplate.trim_edge_lines(line, 0) == line
