"""Reading a mixture file safely, and once per process.

A mixture file is small, but YAML lets a small file stand for a huge value: nine levels of aliases (``*a``) in
under 1 KB expand to billions of items as soon as anything walks or prints them. So a mixture file is read with
every alias refused (write the value out instead), numbers must be finite everywhere (YAML's ``.nan`` and
``.inf`` are refused, naming the key), and a value quoted in an error is cut to about ``SHOW`` characters.

The parsed mapping is cached per process by the digest of the file's bytes: the CLI check, the definitions load,
the plan, every write op and the publish op of one process parse it once (libyaml's parser where PyYAML has it,
3x faster than the pure-Python one on a 10 MB file). Callers must not mutate what ``read_mixture``
returns.
"""

from __future__ import annotations

import hashlib
import math
import reprlib

SHOW = 200  # characters of a bad value quoted in an error
MAX_BYTES = 64 << 20  # a mixture file larger than this is refused unread
MAX_DEPTH = 32  # nesting levels (a mixture needs 3)

_CACHE: dict = {}  # (path, digest) -> (raw, errors); a handful of files per process


def show(value, limit: int = SHOW) -> str:
    """``repr(value)`` cut to about ``limit`` characters, without building the whole repr of a huge value."""
    r = reprlib.Repr()
    r.maxlevel, r.maxdict, r.maxlist, r.maxtuple, r.maxset = 3, 6, 6, 6, 6
    r.maxstring, r.maxother, r.maxlong = limit, limit, 60
    text = r.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def key_text(key, limit: int = 80) -> str:
    """A mapping key as it appears in an error (``weights.crawl/*``), cut to ``limit`` characters."""
    text = str(key) if isinstance(key, (str, int, float, bool)) or key is None else show(key, limit)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def nonfinite(raw, where: str) -> list[str]:
    """One error per NaN or infinity anywhere in ``raw`` (values and mapping keys), naming its key path."""
    out, stack = [], [("", raw)]
    while stack:  # iterative: a deeply nested document cannot exhaust the stack
        at, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            out.append(f"{where}: {at or 'the document'}: must be a finite number, got {value}")
        elif isinstance(value, dict):
            for k, v in reversed(list(value.items())):
                key = f"{at}.{key_text(k)}" if at else key_text(k)
                if isinstance(k, float) and not math.isfinite(k):
                    out.append(f"{where}: {key}: a key must be a finite number, got {k}")
                stack.append((key, v))
        elif isinstance(value, list):
            stack.extend((f"{at}[{i}]", v) for i, v in reversed(list(enumerate(value))))
    return out


def _parse(path: str, data: bytes) -> tuple[object, list[str]]:
    import yaml

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [f"{path}: not UTF-8 text (byte {exc.start})"]
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        depth = 0
        for event in yaml.parse(text, Loader=loader):  # events first: libyaml's composer recurses in C
            if isinstance(event, yaml.AliasEvent):
                return None, [(f"{path}: line {event.start_mark.line + 1}: YAML aliases are not allowed in a "
                               f"mixture file (*{key_text(event.anchor, 40)}); write the value out")]
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    return None, [f"{path}: line {event.start_mark.line + 1}: nested more than {MAX_DEPTH} levels"]
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
        raw = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        why = str(getattr(exc, "problem", None) or exc).replace("\n", " ")
        return None, [f"{path}: not valid YAML{at}: {why[:SHOW]}"]
    except (ValueError, OverflowError) as exc:  # e.g. an integer of more than 4,300 digits
        return None, [f"{path}: a value cannot be read: {str(exc)[:SHOW]}"]
    return ({} if raw is None else raw), []


def read_mixture(path: str) -> tuple[object, list[str]]:
    """(the parsed document, the errors found while reading it: unreadable, too large, not UTF-8, not YAML, an
    alias, nested too deep); the document is None when it could not be parsed. Cached per process by content.
    ``nonfinite`` (called by the validation) names every NaN and infinity in it."""
    import os

    try:
        size = os.path.getsize(path)
        if size > MAX_BYTES:
            return None, [f"{path}: the mixture file is {size:,} bytes; at most {MAX_BYTES:,} are read"]
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return None, [f"{path}: mixture file not found"]
    except OSError as exc:
        return None, [f"{path}: cannot read the mixture file: {exc.strerror or exc}"]
    key = (path, hashlib.blake2b(data, digest_size=16).digest())
    if key not in _CACHE:
        if len(_CACHE) >= 16:
            _CACHE.clear()
        _CACHE[key] = _parse(path, data)
        parses[path] = parses.get(path, 0) + 1
    return _CACHE[key]


parses: dict = {}  # path -> times parsed in this process (tests and the bench read it)
