"""The patterns and checksums behind :mod:`curation.labels.pii`: one compiled regex per format, the Luhn and
ISO 7064 mod-97-10 checks, the IBAN country-length table and the payment-card IIN table.

Each ``match_*`` function takes a regex match inside the full text and returns ``(start, end, confidence)`` or
None; the context rules (keywords before a number, currency signs, Dolma's window) live in ``pii.py``.
"""

from __future__ import annotations

import ipaddress
import re

# --- e-mail (RFC 5322 dot-atom local part, LDH domain labels, alphabetic TLD) --------------------------------------
EMAIL = re.compile(  # \w is Unicode: internationalised addresses (RFC 6531) such as jörg@müller.de count too
    r"(?<![\w.%+\-])[^\W_](?:[\w.%+\-]{0,62}[\w%+\-])?"
    r"@(?:[^\W_](?:[\w\-]{0,61}[^\W_])?\.)+[^\W\d_]{2,24}(?![\w\-@]|\.[^\W_])")
# image@2x.png, sprite@3x.webp...: an asset name, not an address
FILE_TLDS = frozenset("png jpg jpeg gif svg webp css js ico bmp tif tiff pdf mp3 mp4 zip".split())

# --- IP addresses ------------------------------------------------------------------------------------------------------
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4 = re.compile(rf"(?<![\w.])(?:{_OCTET}\.){{3}}{_OCTET}(?![\w]|\.\d|-[A-Za-z])")
# IPv6 is looked for only where "::" occurs or four colon-joined hex groups do (a cheap pre-check)
IPV6_HINT = re.compile(r"[0-9A-Fa-f]:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:")
IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:|::)[0-9A-Fa-f:]{2,37}(?:(?<=:)(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])")
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")  # the only IPv6 space IANA hands out for public hosts


def public_ip(value: str) -> bool:
    """Whether ``value`` is a public unicast address: not private, loopback, link-local, multicast, reserved,
    unspecified, shared (100.64/10) or documentation space (datatrove checks ``is_global`` only, which lets
    multicast through)."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return False
    if ip.version == 6 and ip not in _GLOBAL_UNICAST_V6:
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local
                                 or ip.is_unspecified)


# --- phone numbers -----------------------------------------------------------------------------------------------------
_S = r"[ \u00a0.\-]"  # separators inside a number: space, no-break space, dot, dash
_NB_PAREN = r"(?<![\w+\-./])"  # not glued to a word or a sign
_NOT_BEFORE = _NB_PAREN + r"(?<!\d[ \u00a0])"  # nor to a preceding digit group (unless it starts with "(")
# not followed by a letter (a capitalised word glued on by text extraction is fine: "8800Whether"), nor by a digit
# after a dot, dash or slash
_NOT_AFTER = r"(?!(?![A-Z][a-z])\w|[.\-/]\d)"
_EXT = r"(?:[ \u00a0]?(?:x|[eE]xt\.?|[eE]xtn\.?|[eE]xtension)[ \u00a0]?\d{1,5})?"  # an extension belongs to the number
_GROUP_SEP = r"(?:[ \u00a0]?/[ \u00a0]?|[ \u00a0.\-])"
PHONE_PATTERNS: tuple[tuple[str, re.Pattern, float], ...] = (
    # E.164-ish: +CC, 00CC or (+CC), an optional "(0)" trunk digit, 1-6 groups
    ("intl", re.compile(rf"(?<![\w+])(?:\(\+[1-9]\d{{0,2}}\)|\+[1-9]\d{{0,2}}|(?<!\d[ \u00a0.\-/])(?<!\d)00[1-9]\d{{0,2}})"
                        rf"(?:{_S}?\(0\))?(?:{_GROUP_SEP}?(?:\(\d{{1,5}}\)|\d{{1,5}})){{1,6}}{_EXT}"
                        rf"(?!(?![A-Z][a-z])\w|[.\-]\d)"), 0.9),
    # NANP: (NXX) NXX-XXXX, NXX-NXX-XXXX, NXX.NXX.XXXX, optional leading 1 (0/1-led groups get a lower confidence)
    ("nanp", re.compile(rf"(?:{_NB_PAREN}(?:1{_S})?\(\d\d\d\)[ \u00a0]?|{_NOT_BEFORE}(?:1{_S})?\d\d\d{_S})"
                        rf"\d\d\d{_S}\d{{4}}{_EXT}{_NOT_AFTER}"),
     0.8),
    # UK: 0AA NNNN NNNN, 0AAA NNN NNNN, 0AAAA NNNNNN, 07NNN NNNNNN, optional (0AA..)
    ("uk", re.compile(rf"(?:{_NB_PAREN}\(0[1-9]\d{{1,3}}\)[ \u00a0]?|{_NOT_BEFORE}0[1-9]\d{{1,3}}[ \u00a0\-])"
                      rf"\d{{3,8}}(?:[ \u00a0\-]\d{{3,4}})?{_EXT}{_NOT_AFTER}"), 0.75),
    # DE: 0VVV[V] / NNNNNNN, 0VV NNN NN NN, (0VV) NNNNNN-NN
    ("de", re.compile(rf"(?:{_NB_PAREN}\(0[1-9]\d{{1,4}}\)[ \u00a0]?|{_NOT_BEFORE}0[1-9]\d{{1,4}}(?:[ \u00a0]?/[ \u00a0]?|[ \u00a0\-]))"
                      rf"\d{{2,8}}(?:[ \u00a0\-]\d{{1,5}}){{0,3}}{_EXT}{_NOT_AFTER}"), 0.75),
    # FR: 0X XX XX XX XX with one repeated separator
    ("fr", re.compile(rf"{_NOT_BEFORE}0[1-9]([ \u00a0.\-])\d\d(?:\1\d\d){{3}}{_NOT_AFTER}"), 0.8),
    # bare digits (5551234567, 02079460958): next to a phone keyword, or a valid NANP/UK/FR national number
    ("raw", re.compile(r"(?<![\w+\-./])\+?\d{10,13}(?![\w]|[.\-]\d)"), 0.6),
)
_EXT_SPLIT = re.compile(r"[ \u00a0]?(?:extension|extn|ext|x)\.?(?=[ \u00a0]?\d)", re.IGNORECASE)
_NATIONAL_DIGITS = {"uk": (10, 11), "de": (8, 12), "fr": (10, 10), "nanp": (10, 11)}
# country code -> allowed digit counts including the code (without a "(0)" trunk digit)
_CC_DIGITS = {"1": (11, 11), "44": (11, 12), "49": (9, 14), "33": (11, 11)}


def phone_digits_ok(kind: str, number: str) -> bool:
    number = _EXT_SPLIT.split(number, maxsplit=1)[0]
    digits = re.sub(r"\D", "", number.replace("(0)", ""))
    if kind == "intl":
        digits = digits[2:] if number.startswith("00") else digits
        for cc, (lo, hi) in _CC_DIGITS.items():
            if digits.startswith(cc):
                return lo <= len(digits) <= hi
        return 8 <= len(digits) <= 15
    if kind == "raw":
        d = digits
        if len(d) == 11 and d[0] == "1":
            d = d[1:]
        return len(d) == 10 or (d[0] == "0" and 10 <= len(d) <= 12)
    lo, hi = _NATIONAL_DIGITS[kind]
    return lo <= len(digits) <= hi


def bare_phone_ok(number: str) -> bool:
    """A digit run with no separators and no phone word nearby counts only as a valid national number of a target
    plan: NANP (10 digits, or 1 + 10, area and exchange led by 2-9), UK (0 + 1/2/3/7/8/9, 10-11 digits) or FR
    (0 + 1-9, 10 digits)."""
    d = number.lstrip("+")
    if d[0] != "0":
        return nanp_plausible(d) and (len(d) == 10 or d[0] == "1")
    return (len(d) == 10 and d[1] != "0") or (len(d) == 11 and d[1] in "123789")


def nanp_plausible(number: str) -> bool:
    """Area code and exchange both start with 2-9, as the North American Numbering Plan assigns them."""
    d = re.sub(r"\D", "", _EXT_SPLIT.split(number, maxsplit=1)[0])
    d = d[1:] if len(d) == 11 else d
    return len(d) == 10 and d[0] not in "01" and d[3] not in "01"


def trim_phone(kind: str, text: str, start: int, end: int) -> int | None:
    """A match may swallow a following number ("+1 212 555 0198 2019", "07977 371767 100"): drop trailing groups
    until the digit count fits the format, and prefer the number cut before a space that follows a dash- or
    dot-joined group ("+49-89-3555289 45" -> "+49-89-3555289"); the new end, or None."""
    mixed = _MIXED.search(text, start, end)
    if mixed and phone_digits_ok(kind, text[start:mixed.end()]):
        return mixed.end()
    while end > start:
        if phone_digits_ok(kind, text[start:end]):
            return end
        cut = max(text.rfind(c, start, end) for c in " \u00a0.-/")
        if cut <= start + 2:
            return None
        end = cut
    return None


_MIXED = re.compile(r"\d[.\-]\d[\d.\-]*(?=[ \u00a0]\d)")  # a dash/dot-joined run, then a space and a digit
# --- payment cards -----------------------------------------------------------------------------------------------------
CARD = re.compile(r"(?<![\w\-.,/=#])(?:(?<!\d\d[ \u00a0.\-])(?:\d{4}([ \u00a0.\-])\d{4}\1\d{4}\1\d{1,4}(?:\1\d{3})?"
                  r"|\d{4}([ \u00a0\-])\d{6}\2\d{4,5})"
                  r"|\d{13,19})"
                  r"(?![\w]|[.,\-]\d)")
# (first IIN, last IIN, IIN digits, allowed lengths): ISO/IEC 7812 ranges of the networks in common use
_IIN = (
    (4, 4, 1, (13, 16, 19)),  # Visa
    (51, 55, 2, (16,)), (2221, 2720, 4, (16,)),  # Mastercard
    (34, 34, 2, (15,)), (37, 37, 2, (15,)),  # American Express
    (6011, 6011, 4, (16, 17, 18, 19)), (644, 649, 3, (16, 17, 18, 19)), (65, 65, 2, (16, 17, 18, 19)),  # Discover
    (3500, 3599, 4, (16, 17, 18, 19)),  # JCB (3528-3589 issued; test-data generators use all of 35xx)
    (300, 305, 3, (14, 15, 16, 17, 18, 19)), (36, 36, 2, (14, 15, 16, 17, 18, 19)),  # Diners Club
    (38, 39, 2, (14, 15, 16, 17, 18, 19)),
    (2131, 2131, 4, (15,)), (1800, 1800, 4, (15,)),  # JCB, 15 digits
    (62, 62, 2, (16, 17, 18, 19)),  # UnionPay
    (50, 50, 2, tuple(range(13, 20))), (56, 58, 2, tuple(range(13, 20))), (67, 67, 2, tuple(range(13, 20))),  # Maestro
    (6304, 6304, 4, tuple(range(13, 20))),
    (2200, 2204, 4, (16, 17, 18, 19)),  # Mir
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_ok(digits: str) -> bool:
    """A known network's IIN, a length that network issues, and a valid Luhn check digit."""
    n = len(digits)
    for lo, hi, k, lengths in _IIN:
        if n in lengths and lo <= int(digits[:k]) <= hi:
            return luhn_ok(digits)
    return False


# --- IBAN ------------------------------------------------------------------------------------------------------------
# (no leading look-behind, so the regex engine can skip ahead to capitals; iban_end checks the left boundary)
IBAN = re.compile(r"[A-Z][A-Z]\d\d(?:[ \u00a0]?[A-Z0-9]{4}){2,7}(?:[ \u00a0]?[A-Z0-9]{1,3})?(?![a-z0-9])")
# ISO 13616 registry (SWIFT IBAN Registry): country -> IBAN length
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29,
    "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
    "YE": 30,
}


def iban_mod97(iban: str) -> int:
    """ISO 7064 MOD 97-10 over the rearranged IBAN (letters A=10..Z=35); a valid IBAN gives 1."""
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97


def iban_end(text: str, start: int, end: int) -> int | None:
    """Where the IBAN that starts at ``start`` ends, if its country's length and its checksum hold (a match may run
    into a following word, so it is cut at the country's length); else None."""
    length = IBAN_LENGTHS.get(text[start:start + 2])
    if length is None or start and (text[start - 1].isalnum() or text[start - 1] == "_"):
        return None
    chars, i = [], start
    while i < end and len(chars) < length:
        if text[i] not in " \u00a0":
            chars.append(text[i])
        i += 1
    if len(chars) != length or (i < len(text) and text[i].isalnum()) or iban_mod97("".join(chars)) != 1:
        return None
    return i


def card_end(text: str, m: re.Match) -> int | None:
    """Where the card number matched by ``m`` ends if it checks out; a grouped match that runs into a following
    number ("4570 5070 0050 9881 322") is retried without its last group."""
    end = m.end()
    for _ in range(2):
        if card_ok(re.sub(r"\D", "", text[m.start():end])):
            return end
        cut = max(text.rfind(c, m.start(), end) for c in " \u00a0.-")
        if not m.lastindex or cut - m.start() < 15:
            return None
        end = cut
    return None
