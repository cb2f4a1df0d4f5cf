"""URL blocklists: which list a document's URL is on (UT1 categories, plain domain lists, datatrove's URL words).

Lists are named by the user:

- a UT1 download (``blacklists/``, one folder per category with ``domains`` and/or ``urls``): one list per
  category, named ``<folder>:<category>``;
- one UT1 category folder (``adult/``): one list named after the folder;
- a ``.tar.gz`` of either (UT1's own ``blacklists.tar.gz``, or the adult list the datatrove wheel ships);
- a plain text file of domains, one per line (``#`` comments): one list named after the file's stem;
- ``wheel:datatrove``: UT1's adult category as shipped inside the datatrove wheel, named ``ut1:adult``.

A domain entry blocks the host and every subdomain of it (as UT1 means it); a URL entry (``host/path``, no
scheme) blocks that page. Beside the lists, datatrove's ``URLFilter`` rule on words in the URL: a URL whose
words (runs of ASCII letters and digits, lower-cased) include a banned word, or at least two soft-banned words,
or whose letters and digits with everything else removed contain a banned sub-word, is on ``banned_words``,
``soft_banned_words`` or ``banned_subwords``. Defaults (``DEFAULT_LISTS``): the shipped ``testing`` list and
datatrove's word lists (``data/README.md``: sources and licences).
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

BLOCKLIST_VERSION = "blocklist-v1"
DATA = Path(__file__).parent / "data"
DEFAULT_LISTS = (str(DATA / "blocklists"),)
WORD_LISTS = ("banned_words", "soft_banned_words", "banned_subwords")
SOFT_WORD_THRESHOLD = 2  # datatrove's default

BLOCKLIST_SCHEMA = pa.schema([
    pa.field("id", pa.string()),
    pa.field("blocklists", pa.list_(pa.string())),
    pa.field("blocklist_match", pa.string()),
])

_SPLIT = re.compile(r"[^a-z0-9]+")


def _entries(lines) -> list[str]:
    out = []
    for line in lines:
        line = line.strip().lower()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def _word_list(name: str) -> set[str]:
    with open(DATA / "url_words" / f"{name}.txt", encoding="utf-8") as f:
        return {_SPLIT.sub("", w) for w in _entries(f)} - {""}


@dataclass
class Blocklist:
    domains: dict[str, str] = field(default_factory=dict)   # domain -> list name (first list that named it)
    urls: dict[str, str] = field(default_factory=dict)      # host/path -> list name
    banned_words: set[str] = field(default_factory=set)
    soft_banned_words: set[str] = field(default_factory=set)
    banned_subwords: set[str] = field(default_factory=set)
    list_sizes: dict[str, int] = field(default_factory=dict)
    _subword_re: re.Pattern | None = None

    def add(self, name: str, domains=(), urls=()) -> None:
        n = 0
        for d in domains:
            self.domains.setdefault(d.removeprefix("www."), name)
            n += 1
        for u in urls:
            self.urls.setdefault(u.split("://", 1)[-1].removeprefix("www.").rstrip("/"), name)
            n += 1
        self.list_sizes[name] = self.list_sizes.get(name, 0) + n

    def match(self, url: str | None) -> tuple[list[str], str | None]:
        """(names of the lists the URL is on, the entry or word that matched first)."""
        if not url:
            return [], None
        low = url.strip().lower()
        rest = low.split("://", 1)[-1]
        host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1].split(":", 1)[0]
        found: list[str] = []
        first: str | None = None
        labels = host.strip(".").split(".")
        for i in range(len(labels) - 1):
            name = self.domains.get(".".join(labels[i:]))
            if name:
                found.append(name)
                first = first or ".".join(labels[i:])
                break
        page = rest.removeprefix("www.").split("#", 1)[0].rstrip("/")
        name = self.urls.get(page)
        if name:
            found.append(name)
            first = first or page
        words = set(_SPLIT.split(low))
        hard = sorted(words & self.banned_words)
        if hard:
            found.append("banned_words")
            first = first or hard[0]
        soft = sorted(words & self.soft_banned_words)
        if len(soft) >= SOFT_WORD_THRESHOLD:
            found.append("soft_banned_words")
            first = first or "+".join(soft)
        if self.banned_subwords:
            if self._subword_re is None:
                self._subword_re = re.compile("|".join(sorted(map(re.escape, self.banned_subwords), key=len,
                                                              reverse=True)))
            m = self._subword_re.search(_SPLIT.sub("", low))
            if m:
                found.append("banned_subwords")
                first = first or m.group()
        return sorted(set(found)), first


def _category(bl: Blocklist, name: str, domains_text: str | None, urls_text: str | None) -> None:
    bl.add(name, _entries((domains_text or "").splitlines()), _entries((urls_text or "").splitlines()))


def _load_tar(bl: Blocklist, path: Path, prefix: str) -> None:
    cats: dict[str, dict[str, str]] = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                parts = Path(member.name).parts
                if not member.isfile() or parts[-1] not in ("domains", "urls"):
                    continue
                cat = parts[-2] if len(parts) >= 2 else prefix
                data = tar.extractfile(member).read().decode("utf-8", "replace")
                cats.setdefault(cat, {})[parts[-1]] = data
    except (tarfile.TarError, OSError) as e:
        raise ValueError(f"{path}: not a readable tar archive ({e})") from None
    if not cats:
        raise ValueError(f"{path}: no <category>/domains or urls files inside")
    for cat, files in sorted(cats.items()):
        _category(bl, cat if cat == prefix else f"{prefix}:{cat}", files.get("domains"), files.get("urls"))


def _read(p: Path) -> str | None:
    return p.read_text(encoding="utf-8", errors="replace") if p.is_file() else None


def add_source(bl: Blocklist, spec: str) -> None:
    if spec == "wheel:datatrove":
        found = importlib.util.find_spec("datatrove")
        if found is None or not found.origin:
            raise ValueError("wheel:datatrove: datatrove is not installed (pip install --no-deps datatrove)")
        return _load_tar(bl, Path(found.origin).parent / "assets" / "url_filterblacklistsv0_3_0.tar.gz", "ut1:adult")
    path = Path(spec)
    if not path.exists():
        raise ValueError(f"{spec}: no such blocklist file or folder")
    if path.is_file() and path.name.endswith((".tar.gz", ".tgz", ".tar")):
        return _load_tar(bl, path, path.name.split(".")[0])
    if path.is_file():
        return bl.add(path.stem, _entries(path.read_text(encoding="utf-8", errors="replace").splitlines()))
    if (path / "domains").is_file() or (path / "urls").is_file():
        return _category(bl, path.name, _read(path / "domains"), _read(path / "urls"))
    cats = [c for c in sorted(path.iterdir()) if (c / "domains").is_file() or (c / "urls").is_file()]
    if not cats:
        raise ValueError(f"{spec}: a folder with no <category>/domains or urls files (not UT1's layout)")
    for c in cats:
        _category(bl, f"{path.name}:{c.name}" if path.name != "blocklists" else c.name, _read(c / "domains"),
                  _read(c / "urls"))


def load_blocklist(sources=DEFAULT_LISTS, url_words: bool = True) -> Blocklist:
    bl = Blocklist()
    for spec in sources:
        add_source(bl, str(spec))
    if url_words:
        bl.banned_words = _word_list("banned_words")
        bl.soft_banned_words = _word_list("soft_banned_words")
        bl.banned_subwords = _word_list("banned_subwords")
        for name in WORD_LISTS:
            bl.list_sizes[name] = len(getattr(bl, name))
    return bl


def blocklist_table(bl: Blocklist, ids, urls) -> tuple[pa.Table, dict]:
    """Per-document labels (BLOCKLIST_SCHEMA) and the number of documents on each list."""
    ids = ids.to_pylist() if hasattr(ids, "to_pylist") else list(ids)
    urls = urls.to_pylist() if hasattr(urls, "to_pylist") else list(urls)
    lists, matches, per_list = [], [], Counter()
    for url in urls:
        names, first = bl.match(url)
        lists.append(names)
        matches.append(first)
        per_list.update(names)
    table = pa.table({"id": pa.array(ids, pa.string()), "blocklists": pa.array(lists, pa.list_(pa.string())),
                      "blocklist_match": pa.array(matches, pa.string())}, schema=BLOCKLIST_SCHEMA)
    return table, {"documents": len(ids), "blocklisted": sum(1 for x in lists if x), "per_list": dict(per_list)}


def _file_digest(p: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def digest_parts(sources, url_words: bool = True) -> list:
    """What identifies a blocklist configuration for fingerprints: the content digest of every file it reads."""
    parts: list = [BLOCKLIST_VERSION, url_words]
    for spec in sources:
        p = Path(str(spec))
        if p.is_dir():
            parts.append([(str(f.relative_to(p)), _file_digest(f)) for f in sorted(p.rglob("*")) if f.is_file()])
        elif p.is_file():
            parts.append((p.name, _file_digest(p)))
        else:
            parts.append(str(spec))
    if url_words:
        parts.append([_file_digest(DATA / "url_words" / f"{n}.txt") for n in WORD_LISTS])
    return parts
