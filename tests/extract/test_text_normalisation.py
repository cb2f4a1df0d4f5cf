"""Charset labels decoded as browsers decode them (the WHATWG Encoding Standard) and invisible characters removed
from the default extractor's text (curation.extract.html). Every page is built here."""

import pytest

from curation.extract.documents import DocumentBuilder
from curation.extract.html import INVISIBLE, ExtractionConfig, Extractor, decode_html
from curation.extract.sources import CrawlSource
from curation.extract.warc_writer import response, warc_gz
from tests.conftest import write_crawl

SENTENCE = "A paragraph long enough to be kept by the cleaner, written as a whole sentence with its full stop. "


def page(inner: bytes, head: bytes = b"") -> bytes:
    return b"<html><head>" + head + b"</head><body><article><p>" + inner + b"</p><p>" + SENTENCE.encode() * 3 + \
        b"</p></article></body></html>"


def test_a_latin1_label_decodes_as_windows_1252():
    # a Windows editor's curly quotes and dashes, on a page that calls itself ISO-8859-1 (a common lie on the web)
    body = page(b"\x93Quoted\x94 \x96 caf\xe9 \x85", b'<meta charset="iso-8859-1">')
    text, charset, note = decode_html(body, None)
    assert "\u201cQuoted\u201d \u2013 caf\u00e9 \u2026" in text
    assert charset == "cp1252" and note is None
    assert not any("\x80" <= c <= "\x9f" for c in text)  # Python's latin-1 made these C1 control characters
    for label in ("latin1", "ISO-8859-1", "l1", "iso_8859-1"):
        assert decode_html(body, label)[1] == "cp1252", label


def test_bytes_windows_1252_leaves_undefined_still_decode_as_latin1():
    body = page(b"caf\xe9 \x81 \x9d")  # 0x81 and 0x9D have no windows-1252 character
    text, charset, note = decode_html(body, "iso-8859-1")
    assert "caf\u00e9 \x81 \x9d" in text and charset == "iso8859-1" and note == "charset_fallback"


@pytest.mark.parametrize("label, codec, word", [
    ("gb2312", "gb18030", "朱\u9555基"),  # 镕 is in GBK, not in GB2312: pages labelled GB2312 use it
    ("euc-kr", "cp949", "\uac02"),  # 갂: in windows-949 (Unified Hangul Code), not in EUC-KR
    ("shift_jis", "cp932", "\u2460"),  # ①: a windows-31J (NEC) character
    ("iso-8859-9", "cp1254", "\u201cT\u00fcrk\u00e7e\u201d"),
])
def test_narrow_labels_decode_with_the_superset_browsers_use(label, codec, word):
    body = page(word.encode(codec))
    assert word.encode(codec).decode(label, "replace") != word  # the label's own codec garbles or cannot decode it
    text, charset, note = decode_html(body, label)
    assert word in text and charset == codec and note is None


def test_the_default_extractor_drops_invisible_characters():
    html = page("Die Ver&shy;wal&shy;tung hat das Pro\u00adgramm ver\u200bab\u2060schiedet. "
                "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \U0001F469\u200d\U0001F52C.".encode()).decode()
    text = Extractor()(html)
    assert "Die Verwaltung hat das Programm verabschiedet." in text
    assert "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645" in text  # Persian's zero-width non-joiner stays
    assert "\U0001F469\u200d\U0001F52C" in text  # and an emoji sequence's zero-width joiner
    assert not INVISIBLE.search(text)
    plain = Extractor(ExtractionConfig(extractor="resiliparse"))(html)
    assert "Ver\u00adwal\u00adtung" in plain  # DCLM's plain Resiliparse stays as it is


def test_a_shard_records_the_charset_it_decoded_with(tmp_path):
    body = page(b"\x93Quoted\x94 text, " + SENTENCE.encode(), b'<meta charset="iso-8859-1">')
    write_crawl(tmp_path, "S-1", {"p.warc.gz": warc_gz([
        response("http://latin.example/", body, content_type="text/html; charset=ISO-8859-1")])})
    src = CrawlSource(str(tmp_path))
    table, _ = DocumentBuilder(src).build("S-1", "0000", src.list_files("S-1"))
    assert table.column("charset").to_pylist() == ["cp1252"]
    assert "\u201cQuoted\u201d text" in table.column("text")[0].as_py()


@pytest.mark.parametrize("label", ["ISO-8859-1", "gb2312", "euc-kr", "shift_jis", "windows-1251"])
def test_valid_utf8_is_utf8_whatever_the_label(label):
    # a server's default "charset=ISO-8859-1" in front of a UTF-8 page (its <meta> may say so, or not); windows-1252,
    # GB18030, windows-949 and windows-31J would all decode these bytes into mojibake without an error
    words = "café – “Zitat” 中文 한국어 日本語 русский"
    for head, note in ((b'<meta charset="utf-8">', None), (b"", "charset_fallback")):
        text, charset, got = decode_html(page(words.encode(), head), label)
        assert words in text and charset == "utf-8" and got == note, (label, head)


def test_legacy_text_is_not_taken_for_utf8():
    for words, codec in (("café “Zitat” – Grüße", "cp1252"), ("中文网页的正文", "gb18030"), ("русский текст", "cp1251")):
        text, charset, _ = decode_html(page(words.encode(codec)), codec)
        assert words in text and charset == codec
