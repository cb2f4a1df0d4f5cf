"""Web charsets that Python's codecs lack, registered as codecs so that every decoder path (the declared charset,
the page budget's ASCII check) handles them like any other.

``x-user-defined`` (WHATWG Encoding Standard, section 14.5): bytes 0x00-0x7F are ASCII, a byte 0x80-0xFF is the
code point U+F780 + (byte - 0x80), in the Private Use Area. Every byte sequence decodes, so a page declaring it is
decoded as declared (browsers do) instead of dropped as undecodable.
"""

from __future__ import annotations

import codecs

_X_USER_DEFINED = "".join(chr(b) if b < 0x80 else chr(0xF780 + b - 0x80) for b in range(256))
_ENCODING_MAP = codecs.charmap_build(_X_USER_DEFINED)


def _x_user_defined() -> codecs.CodecInfo:
    def encode(text: str, errors: str = "strict"):
        return codecs.charmap_encode(text, errors, _ENCODING_MAP)

    def decode(data: bytes, errors: str = "strict"):
        return codecs.charmap_decode(data, errors, _X_USER_DEFINED)

    return codecs.CodecInfo(encode, decode, name="x-user-defined")


def _search(name: str) -> codecs.CodecInfo | None:
    return _x_user_defined() if name.replace("-", "_") == "x_user_defined" else None


codecs.register(_search)
