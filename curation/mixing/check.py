"""Validation of a mixture file before any work: every problem is one line naming the file and the key.

``validate_mixture_file(path, snapshots)`` returns the list of errors (empty: the file is good); the CLI and the
mixture assets call it before any stage runs. ``snapshots``: the snapshots the crawl root or store holds, used to
check that every weighted group can be produced; None skips the snapshot checks that need them. The file is read
by ``curation.mixing.loading`` (aliases refused, parsed once per process); every number must be finite, and a bad
value is quoted in at most about 200 characters. Weights may name groups by pattern (``curation.mixing.weights``).
"""

from __future__ import annotations

import math
import os
import re

from curation.mixing.config import CLUSTER_BUCKETS, GROUP_ATTRIBUTES, CorpusSource, MixtureConfig, automation_spec
from curation.mixing.loading import key_text, nonfinite, read_mixture, show
from curation.mixing.weights import is_pattern, spec_problems, weight_of

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CORPUS_KEYS = {"name", "path", "text_column", "language"}
CORPUS_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".parquet")
MAX_TOKENS = 10 ** 15  # total_tokens and shard_tokens above this are a typo (a quadrillion tokens)


class MixtureError(ValueError):
    """A mixture file is invalid; the message holds one line per problem."""


def _number(errors: list, where: str, key: str, value, *, low=None, high=None, integer=False, strict=False) -> bool:
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        errors.append(f"{where}: {key}: must be {'an integer' if integer else 'a number'}, got {show(value)}")
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False  # named by the walk over the whole document (nonfinite)
    if low is not None and (value <= low if strict else value < low):
        errors.append(f"{where}: {key}: must be {'>' if strict else '>='} {low}, got {show(value)}")
        return False
    if high is not None and value > high:
        errors.append(f"{where}: {key}: must be <= {high}, got {show(value)}")
        return False
    return True


def validate_raw(raw, where: str, snapshots: list[str] | None = None) -> list[str]:
    """Errors of a parsed mixture mapping (see module doc)."""
    if not isinstance(raw, dict):
        return [f"{where}: the file must hold a mapping of mixture keys, got {type(raw).__name__}"]
    errors: list[str] = nonfinite(raw, where)
    fields = MixtureConfig.__dataclass_fields__
    for key in sorted(map(key_text, set(raw) - set(fields))):
        errors.append(f"{where}: {key}: unknown key (known: {', '.join(sorted(fields))})")
    name = raw.get("name", "demo")
    if not isinstance(name, str) or not NAME.match(name):
        errors.append(f"{where}: name: {show(name)} is not a valid name (letters, digits, '_', '-', '.'; at most 64)")
    base = os.path.dirname(os.path.abspath(where))
    sources, corpus_names = {"crawl"}, set()
    for k, c in enumerate(raw.get("corpora") or []):
        at = f"corpora[{k}]"
        if not isinstance(c, dict):
            errors.append(f"{where}: {at}: must be a mapping with name and path")
            continue
        for key in sorted(map(key_text, set(c) - CORPUS_KEYS)):
            errors.append(f"{where}: {at}.{key}: unknown key (known: {', '.join(sorted(CORPUS_KEYS))})")
        cname = c.get("name")
        if not isinstance(cname, str) or not NAME.match(cname) or cname in ("crawl", "rewrite"):
            errors.append(f"{where}: {at}.name: {show(cname)} is not a valid corpus name")
        elif cname in corpus_names:
            errors.append(f"{where}: {at}.name: {show(cname)} is used twice")
        corpus_names.add(cname)
        path = c.get("path")
        if not isinstance(path, str) or not path:
            errors.append(f"{where}: {at}.path: missing")
        else:
            full = path if os.path.isabs(path) else os.path.normpath(os.path.join(base, path))
            if not os.path.isfile(full):
                errors.append(f"{where}: {at}.path: file not found: {full}")
            elif not full.endswith(CORPUS_SUFFIXES):
                errors.append(f"{where}: {at}.path: not JSONL(.gz) or Parquet: {full}")
    sources |= {n for n in corpus_names if isinstance(n, str) and NAME.match(n)}
    if raw.get("rewrites"):
        sources.add("rewrite")
    group_by = raw.get("group_by", ["source"])
    if not isinstance(group_by, list) or not group_by or any(g not in GROUP_ATTRIBUTES for g in group_by):
        errors.append(f"{where}: group_by: cannot group by {show(group_by)}; choose from {list(GROUP_ATTRIBUTES)}")
        group_by = None
    snaps = raw.get("snapshots", "all")
    if snaps != "all" and (not isinstance(snaps, list) or not all(isinstance(s, str) for s in snaps)):
        errors.append(f"{where}: snapshots: must be 'all' or a list of snapshot names, got {show(snaps)}")
        snaps = "all"
    if snapshots is not None and snaps != "all":
        for s in sorted(set(snaps) - set(snapshots)):
            errors.append(f"{where}: snapshots: {key_text(s)} is not in the crawl (have: {_some(snapshots)})")
    known_snaps = (snapshots if snaps == "all" else snaps) if snapshots is not None or snaps != "all" else None
    weights = raw.get("weights")
    if not isinstance(weights, dict) or not weights:
        errors.append(f"{where}: weights: must map at least one group to a weight")
        weights = {}
    for g, w in weights.items():
        at = f"weights.{key_text(g)}"
        problems = spec_problems(str(g), w, group_by)
        errors += [f"{where}: {at}: {why}" for why in problems]
        if problems or not _number(errors, where, at + (".weight" if isinstance(w, dict) else ""),
                                   w.get("weight") if isinstance(w, dict) else w, low=0):
            continue
        if group_by:
            errors += [f"{where}: {at}: {why}" for why in _group_problems(str(g), group_by, sources, known_snaps, raw)]
    numbers = [weight_of(w) for w in weights.values()]
    if weights and all(x is not None and math.isfinite(x) for x in numbers):
        if sum(numbers) <= 0:
            errors.append(f"{where}: weights: all weights are zero; at least one must be positive")
        elif not math.isfinite(sum(numbers)):
            errors.append(f"{where}: weights: their sum is not a finite number; scale them down")
    _number(errors, where, "total_tokens", raw.get("total_tokens", 1), low=0, high=MAX_TOKENS, integer=True,
            strict=True)
    _number(errors, where, "tolerance", raw.get("tolerance", 0.02), low=0, high=1, strict=True)
    _number(errors, where, "max_repeats", raw.get("max_repeats", 4), low=1)
    _number(errors, where, "min_language_score", raw.get("min_language_score", 0.0), low=0, high=1)
    _number(errors, where, "min_quality_bucket", raw.get("min_quality_bucket", 0), low=0, high=9, integer=True)
    _number(errors, where, "seed", raw.get("seed", 0), integer=True)
    _number(errors, where, "shard_tokens", raw.get("shard_tokens", 1), low=0, high=MAX_TOKENS, integer=True,
            strict=True)
    _number(errors, where, "keep_versions", raw.get("keep_versions", 2), low=1, integer=True)
    _number(errors, where, "topics", raw.get("topics", 8), low=1, integer=True)
    if raw.get("format", "parquet") not in ("parquet", "jsonl.zst"):
        errors.append(f"{where}: format: must be parquet or jsonl.zst, got {show(raw.get('format'))}")
    reh = raw.get("rehydrate")
    if reh is not None and (not isinstance(reh, dict) or not reh):
        errors.append(f"{where}: rehydrate: must map minimum cluster sizes to copies, e.g. {{1: 1, 2: 2, 5: 3}}")
    for k, v in (reh or {}).items() if isinstance(reh, dict) else ():
        _number(errors, where, f"rehydrate.{key_text(k)}", k, low=1, integer=True)
        _number(errors, where, f"rehydrate.{key_text(k)}", v, low=0, strict=True)
    langs = raw.get("languages")
    if langs is not None and (not isinstance(langs, list) or not all(isinstance(x, str) for x in langs)):
        errors.append(f"{where}: languages: must be null or a list of language codes, got {show(langs)}")

    try:
        automation_spec(raw.get("automation", "eager"))
    except ValueError as exc:
        errors.append(f"{where}: automation: {exc}")
    return errors


def _group_problems(group: str, group_by: list, sources: set, snapshots, raw: dict) -> list[str]:
    """Why no configured source can produce ``group`` (empty when one can). A pattern's parts with wildcards are
    not checked, nor is a pattern whose ``*`` may span several parts."""
    parts = group.split("/")
    if len(parts) != len(group_by):
        if is_pattern(group):
            return []
        return [f"has {len(parts)} part(s) but group_by {group_by} makes {len(group_by)}"]
    vals = {a: p for a, p in zip(group_by, parts) if not is_pattern(p)}
    out = []
    src = vals.get("source")
    if src is not None and src not in sources:
        out.append(f"no configured source is named {show(src, 80)} (sources: {_some(sorted(sources))})")
    snap = vals.get("snapshot")
    if snap is not None:
        if snap == "-" and src in (None, "crawl", "rewrite"):
            out.append("crawl and rewrite documents always have a snapshot, not '-'")
        elif snap != "-" and src not in (None, "crawl", "rewrite"):
            out.append(f"corpus {key_text(src)} has no snapshot: use '-'")
        elif snap != "-" and snapshots is not None and snap not in snapshots:
            out.append(f"snapshot {key_text(snap)} is not among the mixture's snapshots ({_some(snapshots)})")
    if "cluster_size" in vals and vals["cluster_size"] not in CLUSTER_BUCKETS:
        out.append(f"cluster size bucket {show(vals['cluster_size'], 80)} is not one of {list(CLUSTER_BUCKETS)}")
    qb = vals.get("quality_bucket")
    if qb is not None and qb != "-" and (not qb.isdigit() or not int(raw.get("min_quality_bucket", 0) or 0)
                                         <= int(qb) <= 9):
        out.append(f"quality bucket {show(qb, 80)} cannot pass the keep rules (0-9, >= min_quality_bucket)")
    lang = vals.get("language")
    if lang is not None and raw.get("languages") and lang not in raw["languages"]:
        out.append(f"language {show(lang, 80)} is not in languages {show(raw['languages'])}")
    return out


def _some(names, limit: int = 8) -> str:
    """A list of names for an error: the first ``limit``, then how many more."""
    names = [key_text(n, 40) for n in names]
    more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    return (", ".join(names[:limit]) + more) or "none"


def validate_mixture_file(path: str, snapshots: list[str] | None = None) -> list[str]:
    """Every problem of the mixture file at ``path``, one line each; [] when it is good (cached per process with
    the parsed file: the CLI, the definitions, the plan and every write op ask about the same file)."""
    if os.path.isdir(path):
        return [f"{path}: mixture file not found"]
    raw, errors = read_mixture(path)
    if raw is None:
        return errors
    key = (path, id(raw), None if snapshots is None else tuple(snapshots))
    if key in _CHECKED:
        return []
    errors = validate_raw(raw, path, snapshots)
    if not errors:  # only a good verdict is kept: a missing corpus file may appear later
        if len(_CHECKED) >= 64:
            _CHECKED.clear()
        _CHECKED[key] = raw  # kept, so its id stays unique
    return errors


_CHECKED: dict = {}


def check_mixture_file(path: str, snapshots: list[str] | None = None) -> None:
    """Raise MixtureError (one line per problem) unless the mixture file is good."""
    errors = validate_mixture_file(path, snapshots)
    if errors:
        raise MixtureError("\n".join(errors))


def load_mixture(path: str, snapshots: list[str] | None = None) -> MixtureConfig:
    """The mixture in ``path``, validated first (``check_mixture_file``: one line per problem). The parsed file
    is shared with the cache, so it is copied, never changed."""
    check_mixture_file(path, snapshots)
    raw = dict(read_mixture(path)[0])
    raw["weights"] = dict(raw.get("weights") or {})
    corpora = [CorpusSource(**c) for c in raw.pop("corpora", []) or []]
    base = os.path.dirname(os.path.abspath(path))
    for c in corpora:
        if not os.path.isabs(c.path):
            c.path = os.path.normpath(os.path.join(base, c.path))
    cfg = MixtureConfig(corpora=corpora, **raw)
    cfg.validate(path)
    return cfg
