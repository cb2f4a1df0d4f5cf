"""Personal-data spans on real web text (tests/data/cc-main-2019-30-docs.jsonl.gz, Common Crawl pages via
allenai/dolma, Apache-2.0; see tests/data/README.md): planted items of every type are found with their exact
offsets, planted look-alikes are not, real contact details already in the pages are found, redaction leaves
every other character as it was, and the label table has its schema."""

import gzip
import itertools
import json

import pyarrow as pa
import pytest

from curation.labels.pii import (
    PII_SCHEMA,
    PII_TYPES,
    PII_VERSION,
    PLACEHOLDERS,
    PiiDetector,
    PiiSpan,
    find_pii,
    pii_table,
    redact,
)
from curation.labels.pii_rules import card_ok, iban_mod97, luhn_ok, public_ip
from tests.conftest import DATA

with gzip.open(DATA / "cc-main-2019-30-docs.jsonl.gz", "rt", encoding="utf-8") as _f:
    DOCS = [json.loads(line) for line in _f]
TEXTS = [d["text"] for d in DOCS if len(d["text"]) > 1500]

# (type, value, how it is written around it): valid by construction (Luhn, mod-97, public IPs, numbering plans)
POSITIVES = [
    ("email", "anna.berg@uni-bonn.de", "Contact: {v}"), ("email", "Tom_Smith+news@mail.example-shop.co.uk", "{v}"),
    ("email", "jörg.müller@web.de", "<{v}>"),
    ("phone", "(212) 555-0198", "Call us at {v}."), ("phone", "212-555-0198", "{v}"), ("phone", "+1 212 555 0198", "{v}"),
    ("phone", "020 7946 0958", "Tel. {v}"), ("phone", "07700 900123", "{v}"), ("phone", "+44 (0)161 496 0123", "{v}"),
    ("phone", "030 12345678", "Telefon: {v}"), ("phone", "089/1234567", "{v}"), ("phone", "+49 171 1234567", "{v}"),
    ("phone", "01 23 45 67 89", "Tél. {v}"), ("phone", "06.12.34.56.78", "{v}"), ("phone", "+33 6 12 34 56 78", "{v}"),
    ("phone", "+81 3-5536-5440", "{v}"), ("phone", "2125550198", "phone: {v}"),
    ("phone", "212-555-0198", "Phone #: {v}"), ("phone", "(555) 123-4567 ext. 12", "{v}"),
    ("phone", "+49 (0) 89 / 12 34 56-0", "Tel.: {v}"), ("phone", "+1-212-555-0198x123", "{v}"),
    ("phone", "2125550198", "{v}"), ("phone", "0285601815", "{v}"),  # bare, but valid NANP / FR numbers
    ("ip", "93.184.216.34", "from {v}"), ("ip", "8.8.8.8", "{v}:53"), ("ip", "2a00:1450:4001:81c::200e", "IP {v}"),
    ("credit_card", "4111 1111 1111 1111", "Visa: {v}"), ("credit_card", "5555-5555-5555-4444", "{v}"),
    ("credit_card", "3782 822463 10005", "{v}"), ("credit_card", "6011111111111117", "card {v}"),
    ("iban", "DE89 3704 0044 0532 0130 00", "IBAN: {v}"), ("iban", "GB82WEST12345698765432", "{v}"),
    ("iban", "FR14 2004 1010 0505 0001 3M02 606", "{v}"),
]
LOOKALIKES = [
    "v1.2.3.4", "version 4.2.1.5", "Version 10.0.0.1", "build 6.1.7.60", "§ 1.2.3.4",  # version/section numbers
    "2019-05-12", "12/05/2019", "12.05.2019", "05 12 2019",  # dates
    "12:30", "12:30:45", "10:30-11:45",  # times
    "ISBN 978-3-16-148410-0", "ISBN 9780306406157", "ISBN 0-306-40615-2",  # ISBNs
    "doi:10.1038/nature12373", "https://doi.org/10.1000/182",  # DOIs
    "$1,299.99", "€ 1.299,00", "12.345.678 €", "USD 12,500,000",  # prices
    "Order No. 114-3941689-8954327", "Order #212-555-0198", "Invoice 2019-004512", "order number 2125550198",
    "1990-2005", "(1887-1952)", "1990 - 1995",  # year ranges
    "192.168.1.1", "10.0.0.5", "172.16.4.2", "127.0.0.1", "169.254.1.7", "224.0.0.251", "100.64.3.2", "::1",
    "fe80::1ff:fe23:4567:890a", "2001:db8::ff00:42:8329",  # private, loopback, link-local, multicast, documentation
    "4111 1111 1111 1112", "5555555555554445",  # Luhn-invalid
    "DE89 3704 0044 0532 0130 01", "GB82WEST12345698765431",  # bad IBAN checksums
    "EAN 4006381333931", "00:1A:2B:3C:4D:5E", "Chrome/76.0.3809.132", "Lccn 2013049256", "P.I. 06659860826",
    "1563370559", "mod 1000000007",  # bare numbers that are no valid national phone number, or follow an ID word
]


def plant(text: str, snippets: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """``text`` with each snippet inserted as its own line after a line break, spread over the text; the
    snippets' offsets in the result."""
    breaks = [i for i, c in enumerate(text) if c == "\n"] or [len(text)]
    step = max(1, len(breaks) // (len(snippets) + 1))
    cuts = [breaks[min(len(breaks) - 1, (k + 1) * step)] for k in range(len(snippets))]
    out, offsets, prev = [], [], 0
    for cut, snip in sorted(zip(cuts, snippets), key=lambda p: p[0]):
        out.append(text[prev:cut] + "\n")
        start = sum(map(len, out))
        out.append(snip + "\n")
        offsets.append((start, start + len(snip)))
        prev = cut
    out.append(text[prev:])
    return "".join(out), offsets


@pytest.mark.parametrize("i", range(len(POSITIVES)))
def test_every_type_found_in_real_text(i):
    kind, value, template = POSITIVES[i]
    snippet = template.format(v=value)
    text, [(s, _)] = plant(TEXTS[i % len(TEXTS)], [snippet])
    start = s + snippet.index(value)
    spans = find_pii(text)
    assert (kind, start, start + len(value)) in [(x.type, x.start, x.end) for x in spans]
    assert all(0.0 < x.confidence <= 1.0 for x in spans)


def test_every_lookalike_not_flagged_in_real_text():
    for k in range(0, len(LOOKALIKES), 8):
        group = LOOKALIKES[k:k + 8]
        text, offsets = plant(TEXTS[k % len(TEXTS)], group)
        spans = find_pii(text)
        hits = [(text[a:b], x.type) for a, b in offsets for x in spans if x.start < b and x.end > a]
        assert hits == []


def test_real_contact_details_in_the_pages_are_found():
    by_id = {d["id"]: d["text"] for d in DOCS}
    email = "comunicacionessistemadebibliotecas@udea.edu.co"
    text = by_id["yrzeyn2yw3ydteybtefqauda5iu6ar53"]
    assert ("email", email) in [(s.type, text[s.start:s.end]) for s in find_pii(text)]
    text = by_id["i7p3e5p32paptxbzbj2qq5dmd52tgqar"]  # "Telefon:\n+38521685000"
    assert ("phone", "+38521685000") in [(s.type, text[s.start:s.end]) for s in find_pii(text)]
    text = by_id["jmuz746i46cga7be24osgujlgvzffxy6"]  # "版本8.0.1.27165" is a game version, not an IP
    assert [s for s in find_pii(text) if s.type == "ip"] == []


def test_spans_sorted_and_disjoint_on_the_whole_sample():
    for text in TEXTS[:80]:
        spans = find_pii(text)
        assert all(a.end <= b.start for a, b in itertools.pairwise(spans))
        assert all(s.type in PII_TYPES and 0 <= s.start < s.end <= len(text) for s in spans)


def test_redact_keeps_every_other_character():
    values = [template.format(v=value) for _, value, template in POSITIVES[::3]]
    text, _ = plant(TEXTS[3], values)
    spans = find_pii(text)
    redacted = redact(text, spans)
    pos, prev = 0, 0
    for s in spans:  # the text between spans comes back byte for byte, each span as its placeholder
        keep = text[prev:s.start].encode()
        assert redacted.encode()[pos:pos + len(keep)] == keep
        pos += len(keep)
        assert redacted.encode()[pos:].startswith(PLACEHOLDERS[s.type].encode())
        pos += len(PLACEHOLDERS[s.type].encode())
        prev = s.end
    assert redacted.encode()[pos:] == text[prev:].encode()
    for _, value, _ in POSITIVES[::3]:
        assert value not in redacted
    assert redact(text, []) == text


def test_types_select_what_is_found_and_redacted():
    text = "Mail anna.berg@uni-bonn.de or call 020 7946 0958 from 93.184.216.34."
    assert [s.type for s in find_pii(text, types=("email",))] == ["email"]
    only_mail = redact(text, find_pii(text), types=("email",))
    assert only_mail == "Mail <EMAIL> or call 020 7946 0958 from 93.184.216.34."
    rows = pii_table(["a"], [text]).to_pylist()
    assert redact(text, rows[0]["pii_spans"]) == "Mail <EMAIL> or call <PHONE> from <IP_ADDRESS>."


def test_pii_table_schema_and_rows():
    text, _ = plant(TEXTS[5], ["Tel. 020 7946 0958", "IBAN: DE89 3704 0044 0532 0130 00", "anna.berg@uni-bonn.de"])
    table = pii_table(["d1", "d2", "d3"], [text, "", None])
    assert table.schema == PII_SCHEMA
    assert table.schema.field("pii_spans").type.value_type == pa.struct(
        [("type", pa.string()), ("start", pa.int32()), ("end", pa.int32()), ("confidence", pa.float32())])
    rows = table.to_pylist()
    assert rows[0]["id"] == "d1" and {"email", "iban", "phone"} <= set(rows[0]["pii_types"])
    assert rows[0]["pii_types"] == sorted(set(rows[0]["pii_types"]))
    assert rows[1]["pii_spans"] == [] and rows[2]["pii_types"] == []
    assert [(s["type"], s["start"], s["end"]) for s in rows[0]["pii_spans"]] == \
        [(s.type, s.start, s.end) for s in find_pii(text)]
    assert PII_VERSION and set(PLACEHOLDERS) == set(PII_TYPES)


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="must be str"):
        find_pii(None)
    with pytest.raises(ValueError, match="unknown PII types"):
        find_pii("x", types=("ssn",))
    with pytest.raises(ValueError, match="overlaps"):
        redact("abcdef", [PiiSpan("email", 0, 4, 1.0), PiiSpan("ip", 2, 5, 1.0)])
    with pytest.raises(ValueError, match="2 ids but 1 texts"):
        pii_table(["a", "b"], ["x"])
    with pytest.raises(TypeError, match="document 'b'"):
        pii_table(["a", "b"], ["x", 12])
    with pytest.raises(ValueError, match="unknown PII types"):
        redact("abc", [], types=("ssn",))


def test_checks():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert card_ok("378282246310005") and not card_ok("1234567812345670")  # valid Luhn, no network has IIN 12
    assert iban_mod97("DE89370400440532013000") == 1 and iban_mod97("DE89370400440532013001") != 1
    assert public_ip("93.184.216.34") and not public_ip("224.0.0.1") and not public_ip("2001:db8::1")


def test_dolma_window_drops_numbers_near_isbn_doi_or_hash():
    text = "See issue #12 of the newsletter. Call 020 7946 0958 for copies."
    assert [s.type for s in find_pii(text)] == ["phone"]
    assert PiiDetector(dolma_window=100).find(text) == []
