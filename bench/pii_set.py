"""The labelled set of bench/pii.py: real documents from ../shared/data with planted personal data of every type at
known offsets, and planted look-alikes that must not be flagged. Values are synthetic but valid: cards pass Luhn
with a real network IIN, IBANs pass mod-97 with their country's length, IPs are public, phones follow each
country's numbering plan. Everything is drawn from one seeded random generator, so the set is reproducible."""

from __future__ import annotations

import gzip
import hashlib
import ipaddress
import json
import random
import string
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SOURCES = ["web-text/cc-main-2019-30-docs.jsonl.gz", "web-text/ccnet-cc_en_head-0091.jsonl.gz",
           "web-text/dolma-provided-documents-000.jsonl.gz", "quality/dclm-human-quality-labels.jsonl",
           "quality/wikipedia-abstracts-en.jsonl"]
TYPES = ("email", "phone", "ip", "credit_card", "iban")
LOOKALIKES = ("version", "date", "time", "isbn", "doi", "price", "order", "year_range", "private_ip", "bad_luhn",
              "bad_iban", "ean", "mac", "section", "user_agent", "big_number")


def load_docs(shared: Path = SHARED) -> list[dict]:
    docs = []
    for rel in SOURCES:
        path = shared / rel
        opener = gzip.open if rel.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            for i, line in enumerate(f):
                rec = json.loads(line)
                text = rec.get("text") or ""
                if len(text) >= 200:
                    docs.append({"id": f"{Path(rel).name}:{rec.get('id', i)}", "text": text})
    return docs


def split_half(doc_id: str) -> str:
    """Split by source document: a hash of its id puts it in the tuning or the report half."""
    return "tune" if hashlib.sha1(doc_id.encode()).digest()[0] % 2 == 0 else "report"


# --- value generators (valid by construction) --------------------------------------------------------------------
FIRST = ["anna", "jean", "li", "maria", "tom", "sven", "aisha", "pierre", "olga", "raj", "k", "j.doe", "info"]
LAST = ["smith", "mueller", "dupont", "nakamura", "garcia", "oconnor", "kowalski", "rossi", "nguyen", "berg"]
DOMAINS = ["gmail.com", "uni-bonn.de", "orange.fr", "btinternet.com", "mail.example-shop.co.uk", "cs.stanford.edu",
           "web.de", "outlook.com", "alumni.epfl.ch", "yahoo.co.jp"]


def email(r: random.Random) -> str:
    sep = r.choice([".", "_", "", "-"])
    local = r.choice(FIRST) + sep + r.choice(LAST) + r.choice(["", "", str(r.randint(1, 99)), "+news"])
    value = f"{local}@{r.choice(DOMAINS)}"
    if r.random() < 0.05:
        value = r.choice(["jörg.müller@web.de", "françois@orange.fr", "josé.garcía@correo.es", "søren@post.dk"])
    return value.title() if r.random() < 0.1 else value


def _d(r, n):
    return "".join(r.choice(string.digits) for _ in range(n))


def _nxx(r):
    return str(r.randint(2, 9)) + _d(r, 2)


def phone(r: random.Random) -> str:
    a, b, c = _nxx(r), _nxx(r), _d(r, 4)
    forms = [
        f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"+1 {a} {b} {c}", f"1-{a}-{b}-{c}", f"+1 ({a}) {b}-{c}",
        f"020 {_d(r, 4)} {_d(r, 4)}", f"0161 {_d(r, 3)} {_d(r, 4)}", f"07{_d(r, 3)} {_d(r, 6)}",
        f"+44 20 {_d(r, 4)} {_d(r, 4)}", f"+44 (0)1{_d(r, 3)} {_d(r, 6)}", f"01{_d(r, 3)} {_d(r, 6)}",
        f"030 {_d(r, 8)}", f"089/{_d(r, 7)}", f"0171 {_d(r, 7)}", f"+49 30 {_d(r, 8)}", f"0049 89 {_d(r, 7)}",
        f"(0221) {_d(r, 3)} {_d(r, 2)} {_d(r, 2)}", f"0711-{_d(r, 6)}", f"+49 (0)40 {_d(r, 3)} {_d(r, 3)}",
        "0" + str(r.randint(1, 9)) + "".join(" " + _d(r, 2) for _ in range(4)),
        "0" + str(r.randint(1, 7)) + "".join("." + _d(r, 2) for _ in range(4)),
        "+33 " + str(r.randint(1, 9)) + "".join(" " + _d(r, 2) for _ in range(4)),
        f"+61 2 {_d(r, 4)} {_d(r, 4)}", f"+81 3-{_d(r, 4)}-{_d(r, 4)}", f"+91 9{_d(r, 4)} {_d(r, 5)}",
        f"+34 9{_d(r, 2)} {_d(r, 3)} {_d(r, 3)}", f"+7 495 {_d(r, 3)}-{_d(r, 2)}-{_d(r, 2)}",
        f"+1-{a}-{b}-{c}", f"+1.{a}.{b}.{c}", f"{a} {b} {c}", f"+1{a}{b}{c}", f"(+44) 20 {_d(r, 4)} {_d(r, 4)}",
        f"+44 7{_d(r, 3)} {_d(r, 6)}", f"020-{_d(r, 4)}-{_d(r, 4)}", f"+49 171 {_d(r, 7)}", f"+49-89-{_d(r, 7)}",
        f"089 {_d(r, 3)} {_d(r, 3)} {_d(r, 2)}", f"030-{_d(r, 3)} {_d(r, 3)} {_d(r, 2)}",
        "+33 (0)6" + "".join(" " + _d(r, 2) for _ in range(4)), "06-" + "-".join(_d(r, 2) for _ in range(4)),
    ]
    return r.choice(forms)


def _public(ip) -> bool:
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local)


def ip(r: random.Random) -> str:
    while True:
        if r.random() < 0.7:
            addr = ipaddress.IPv4Address(r.getrandbits(32))
        else:  # global unicast 2000::/3, written compressed or in full
            addr = ipaddress.IPv6Address((0x2 << 125) | r.getrandbits(125))
            if r.random() < 0.5:
                addr = ipaddress.IPv6Address(int(addr) & ~((1 << 64) - 1) | r.getrandbits(16))
        if _public(addr):
            return str(addr) if addr.version == 4 or r.random() < 0.7 else addr.exploded


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


CARD_NETWORKS = [("4", 16), ("4", 13), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16), ("34", 15), ("37", 15),
                 ("6011", 16), ("65", 16), ("3530", 16), ("36", 14), ("62", 16), ("6759", 16)]


def card_number(r: random.Random) -> str:
    prefix, n = r.choice(CARD_NETWORKS)
    body = prefix + _d(r, n - len(prefix) - 1)
    return body + luhn_digit(body)


def format_card(r: random.Random, digits: str) -> str:
    if len(digits) == 15 and r.random() < 0.7:
        return f"{digits[:4]} {digits[4:10]} {digits[10:]}"
    sep = r.choice([" ", "-", "", " ", "."])
    return sep.join(digits[i:i + 4] for i in range(0, len(digits), 4))


def credit_card(r: random.Random) -> str:
    return format_card(r, card_number(r))


IBAN_COUNTRIES = {"DE": 22, "GB": 22, "FR": 27, "ES": 24, "IT": 27, "NL": 18, "BE": 16, "CH": 21, "AT": 20,
                  "PL": 28, "SE": 24, "IE": 22, "PT": 25, "NO": 15, "DK": 18}


def iban_compact(r: random.Random) -> str:
    cc = r.choice(list(IBAN_COUNTRIES))
    n = IBAN_COUNTRIES[cc] - 4
    bban = ("".join(r.choice(string.ascii_uppercase) for _ in range(4)) + _d(r, n - 4)) if cc in ("GB", "NL", "IE") \
        else _d(r, n)
    num = int("".join(str(int(c, 36)) for c in bban + cc + "00"))
    return f"{cc}{98 - num % 97:02d}{bban}"


def format_iban(r: random.Random, compact: str) -> str:
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4)) if r.random() < 0.7 else compact


def iban(r: random.Random) -> str:
    return format_iban(r, iban_compact(r))


VALUES = {"email": email, "phone": phone, "ip": ip, "credit_card": credit_card, "iban": iban}
TEMPLATES = {
    "email": ["{v}", "Contact: {v}", "write to {v}.", "({v})", "E-mail {v} for details", "<{v}>", "mailto:{v}"],
    "phone": ["{v}", "Tel. {v}", "Call us at {v}.", "phone: {v}", "Fax {v}", "({v})", "Phone #: {v}", "Tel. No. {v}"],
    "ip": ["{v}", "from {v}", "IP: {v}", "server {v} responded", "[{v}]", "{v}:8080", "http://{v}/index.html"],
    "credit_card": ["{v}", "card number {v}", "Visa: {v}", "paid with {v}."],
    "iban": ["{v}", "IBAN: {v}", "account {v}", "IBAN {v} (BIC COBADEFFXXX)"],
}


def _octets(r):
    return ".".join(str(r.randint(1, 20)) for _ in range(4))


def lookalike(r: random.Random, kind: str) -> str:
    """One look-alike of the given kind, in its own words (the keyword belongs to the item)."""
    y, m, d = r.randint(1950, 2030), r.randint(1, 12), r.randint(1, 28)
    if kind == "version":
        return r.choice([f"v{_octets(r)}", f"version {_octets(r)}", f"Version {r.randint(1, 12)}.0.{r.randint(0, 9)}.{r.randint(100, 250)}", f"build {_octets(r)}", f"firmware {_octets(r)}",
                         f"release {_octets(r)}", f"version 10.0.0.{r.randint(1, 254)}"])
    if kind == "date":
        return r.choice([f"{y}-{m:02d}-{d:02d}", f"{d:02d}/{m:02d}/{y}", f"{d:02d}.{m:02d}.{y}", f"{y}/{m:02d}/{d:02d}",
                         f"{d:02d}-{m:02d}-{y}", f"{d:02d} {m:02d} {y}", f"{m}/{d}/{y % 100:02d}"])
    if kind == "time":
        return r.choice([f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}",
                         f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}",
                         f"{r.randint(8, 11)}:{r.randint(0, 59):02d}-{r.randint(12, 18)}:{r.randint(0, 59):02d}"])
    if kind == "isbn":
        body = "978" + _d(r, 9)
        check = (10 - sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body)) % 10) % 10
        return r.choice([f"ISBN {body[:3]}-{body[3]}-{body[4:6]}-{body[6:12]}-{check}", f"ISBN {body}{check}",
                         f"ISBN-13: {body[:3]}-{body[3:5]}-{body[5:9]}-{body[9:]}-{check}",
                         f"ISBN 0-{_d(r, 3)}-{_d(r, 5)}-{r.randint(0, 9)}"])
    if kind == "doi":
        return r.choice([f"doi:10.{_d(r, 4)}/{_d(r, 6)}", f"https://doi.org/10.{_d(r, 4)}/j.cell.{y}.{m:02d}.{_d(r, 3)}",
                         f"DOI 10.{_d(r, 4)}/{_d(r, 4)}-{_d(r, 4)}.{_d(r, 2)}.{_d(r, 3)}"])
    if kind == "price":
        return r.choice([f"${r.randint(1, 999)},{_d(r, 3)}.{_d(r, 2)}", f"€ {r.randint(1, 999)}.{_d(r, 3)},00",
                         f"{r.randint(1, 99)}.{_d(r, 3)}.{_d(r, 3)} €", f"USD {r.randint(1, 99)},{_d(r, 3)},{_d(r, 3)}",
                         f"£{r.randint(1, 9)},{_d(r, 3)}.{_d(r, 2)}", f"{r.randint(1, 20)}.{_d(r, 3)}.{_d(r, 3)}.000 EUR"])
    if kind == "order":
        return r.choice([f"Order No. {_d(r, 3)}-{_d(r, 7)}-{_d(r, 7)}", f"Order #{_nxx(r)}-{_nxx(r)}-{_d(r, 4)}",
                         f"Invoice {y}-{_d(r, 6)}", f"order number {_d(r, 10)}", f"Ref. {_nxx(r)}.{_nxx(r)}.{_d(r, 4)}",
                         f"SKU {_d(r, 3)}-{_d(r, 3)}-{_d(r, 4)}", f"Tracking: 1Z{_d(r, 16)}"])
    if kind == "year_range":
        a = r.randint(1900, 2010)
        return r.choice([f"{a}-{a + r.randint(1, 15)}", f"({a}-{a + r.randint(1, 60)})", f"{a} - {a + r.randint(1, 9)}",
                         f"{a}–{a + r.randint(1, 15)}"])
    if kind == "private_ip":
        return r.choice([f"192.168.{r.randint(0, 255)}.{r.randint(1, 254)}", f"10.{r.randint(0, 255)}.0.{r.randint(1, 9)}",
                         f"172.{r.randint(16, 31)}.{r.randint(0, 255)}.{r.randint(1, 254)}", "127.0.0.1",
                         f"169.254.{r.randint(0, 255)}.{r.randint(1, 254)}", f"224.0.0.{r.randint(1, 255)}",
                         "0.0.0.0", "255.255.255.0", f"100.64.{r.randint(0, 63)}.{r.randint(1, 254)}", "::1",
                         f"fe80::{r.randint(1, 0xffff):x}:{r.randint(1, 0xffff):x}", f"fd12:3456:789a::{r.randint(1, 99)}",
                         f"2001:db8::{r.randint(1, 0xffff):x}", f"ff02::{r.randint(1, 9)}"])
    if kind == "bad_luhn":
        good = card_number(r)
        return format_card(r, good[:-1] + str((int(good[-1]) + r.randint(1, 9)) % 10))
    if kind == "bad_iban":
        good = iban_compact(r)
        i = r.randrange(4, len(good))
        ch = good[i]
        bad = str((int(ch) + r.randint(1, 9)) % 10) if ch.isdigit() else ("A" if ch != "A" else "B")
        return format_iban(r, good[:i] + bad + good[i + 1:])
    if kind == "ean":  # EAN-13 barcodes (German 40-44 prefixes share Visa's leading 4)
        body = str(r.randint(40, 44)) + _d(r, 10)
        check = (10 - sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body)) % 10) % 10
        return r.choice([f"EAN {body}{check}", f"EAN: {body}{check}", f"GTIN {body}{check}", f"Barcode {body}{check}"])
    if kind == "mac":
        return ":".join(f"{r.randint(0, 255):02X}" for _ in range(6))
    if kind == "section":
        return r.choice([f"§ {_octets(r)}", f"Section {_octets(r)}", f"see chapter {_octets(r)}", f"Rule {_octets(r)}"])
    if kind == "user_agent":
        return r.choice([f"Chrome/{r.randint(60, 120)}.0.{r.randint(1000, 6000)}.{r.randint(10, 200)}",
                         f"Windows NT 10.0.{r.randint(10000, 22000)}.{r.randint(1, 999)}"])
    if kind == "big_number":
        return r.choice([f"{r.randint(1, 9)} {_d(r, 3)} {_d(r, 3)} {_d(r, 3)}", f"{r.randint(1, 99)},{_d(r, 3)},{_d(r, 3)}",
                         f"{r.randint(1, 9)}.{_d(r, 3)}.{_d(r, 3)}.{_d(r, 3)}", f"{r.randint(100, 999)} {_d(r, 3)} {_d(r, 3)}"])
    raise ValueError(kind)


def plant(r: random.Random, text: str, n_pos: int, n_neg: int, pool: dict | None = None) -> tuple[str, list[dict]]:
    """``text`` with items inserted at word boundaries at least 120 characters apart; the items with offsets.
    With ``pool`` (type -> values made elsewhere), positives are drawn from it and written bare."""
    items = [("pos", r.choice(TYPES)) for _ in range(n_pos)] + [("neg", r.choice(LOOKALIKES)) for _ in range(n_neg)]
    r.shuffle(items)
    spaces = [i for i, c in enumerate(text) if c == " "]
    picks = sorted(r.sample(range(len(spaces)), min(len(items), len(spaces))))
    cuts, last = [], -10**9
    for p in picks:
        if spaces[p] - last >= 120:
            cuts.append(spaces[p])
            last = spaces[p]
    out, labels, prev = [], [], 0
    for cut, (role, kind) in zip(cuts, items):
        out.append(text[prev:cut + 1])
        offset = sum(map(len, out))
        if role == "pos" and pool:
            snippet = value = r.choice(pool[kind])
            start = offset
        elif role == "pos":
            value = VALUES[kind](r)
            snippet = r.choice(TEMPLATES[kind]).format(v=value)
            start = offset + snippet.index(value)
        else:
            snippet = value = lookalike(r, kind)
            start = offset
        out.append(snippet + " ")
        labels.append({"role": role, "kind": kind, "start": start, "end": start + len(value), "value": value})
        prev = cut + 1
    out.append(text[prev:])
    return "".join(out), labels
