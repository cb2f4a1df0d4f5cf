"""Credentials out of what is shown: ``user:password@`` in URLs is redacted before a URL reaches a log line,
materialisation metadata, an error message or a summary, and can be split off to be sent as HTTP auth."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

REDACTED = "***"
# scheme://userinfo@ inside any text (the userinfo holds no '/', '@' or whitespace)
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")


def redact_url(url: str) -> str:
    """``url`` with its password (or a lone user token) replaced by ``***``: ``http://ann:***@host/v1``."""
    return _USERINFO.sub(_redact_match, url) if isinstance(url, str) else url


def redact_text(text: str) -> str:
    """Every URL with credentials inside ``text`` (an error message, a command line) redacted."""
    return redact_url(text)


def _redact_match(m: re.Match) -> str:
    user, sep, _ = m.group("userinfo").partition(":")
    return f"{m.group('scheme')}{user}:{REDACTED}@" if sep else f"{m.group('scheme')}{REDACTED}@"


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """(the URL without ``user:password@``, (user, password) or None): the credentials can then travel as HTTP
    basic auth (``requests``' ``auth=``) while only the clean URL is logged or stored."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return clean, (unquote(parts.username or ""), unquote(parts.password or ""))
