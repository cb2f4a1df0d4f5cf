"""Publishing a mixture atomically, as versions: part files, manifest, data card, and the pointer written last.

Layout under ``<output>/mixtures/<name>/``::

    v20261202T104500123456-1a2b3c4d-9f8e7d/part-<unit>-<k>.parquet   one version: its parts, manifest.json, DATA_CARD.md, charts
    manifest.json                                        the pointer: the current version's manifest (written last)
    CURRENT                                              the current version's folder name (for shells)

Every build writes a new version folder; nothing in a published version is ever rewritten. The top-level
``manifest.json`` is replaced (atomic rename, or a whole-object upload on S3) only after every file of the new
version is in place, so a reader that opens it first and then reads the parts it lists never sees old and new
parts mixed. Older versions beyond ``keep_versions`` are then removed, oldest first.
"""

from __future__ import annotations

import json
import os
import posixpath
import tempfile

from curation.mixing.config import MIXTURES

POINTER = "manifest.json"


def write_part(store, config, version: str, stem: str, part) -> dict:
    """One part file of a version (Parquet, or JSONL compressed with zstd); returns its manifest entry."""
    cols = [c for c in ("id", "text", "source", "snapshot", "group", "tokens", "repeat", "url", "language")
            if c in part.columns]
    part = part.select(cols)
    name = f"{stem}.{'parquet' if config.format == 'parquet' else 'jsonl.zst'}"

    def write(path: str) -> None:
        tmp = f"{path}.tmp"
        if config.format == "parquet":
            part.write_parquet(tmp, compression="zstd")
        else:
            import zstandard

            with open(tmp, "wb") as fh, zstandard.ZstdCompressor(level=10).stream_writer(fh) as w:
                for row in part.iter_rows(named=True):
                    w.write((json.dumps(row, ensure_ascii=False, default=str) + "\n").encode())
        os.replace(tmp, path)

    store.write_side(MIXTURES, config.name, f"{version}/{name}", write)
    return {"file": f"{version}/{name}", "documents": part.height, "tokens": int(part["tokens"].sum())}


def interleave_order(parts: list[dict], seed: int) -> list[dict]:
    """The parts in a seeded order (the manifest's order): a trainer reads them in this order, or interleaves a
    few at a time; within a part the rows are already shuffled."""
    import xxhash

    name = lambda p: posixpath.basename(p["file"])  # not the version folder: the same order on every rebuild
    return sorted(parts, key=lambda p: (xxhash.xxh3_64_intdigest(f"{seed}:interleave:{name(p)}".encode()), name(p)))


def versions(store, name: str) -> list[str]:
    root = store.side_path(MIXTURES, name, "")
    try:
        found = store.fs.ls(root, detail=False)
    except FileNotFoundError:
        return []
    return sorted(posixpath.basename(p.rstrip("/")) for p in found
                  if posixpath.basename(p.rstrip("/")).startswith("v") and store.fs.isdir(p))


def published(store, name: str) -> dict | None:
    """The current manifest of mixture ``name`` (None if it was never published)."""
    if not store.side_exists(MIXTURES, name, POINTER):
        return None
    with store.fs.open(store.side_path(MIXTURES, name, POINTER)) as fh:
        return json.load(fh)


class NotPublished(ValueError):
    """A built version was refused (no tokens, or a number that is not finite): the current version stays."""


def discard(store, name: str, version: str) -> None:
    """Remove a version folder that will not be published (its parts and work tables)."""
    path = store.side_path(MIXTURES, name, version)
    if store.fs.exists(path):
        store.fs.rm(path, recursive=True)


def refusal(man: dict, plans: dict | None = None) -> str | None:
    """Why the version ``man`` describes must not be published (None when it may): no tokens, or a number that is
    not finite in its manifest or plan (strict JSON has no NaN or infinity)."""
    from curation.mixing.loading import nonfinite

    bad = nonfinite({"manifest": man, "plan": {g: p.as_dict() for g, p in (plans or {}).items()}}, "")
    if bad:
        return f"a number is not finite:{bad[0][1:]}"
    return None if man.get("total_tokens") else "it holds no tokens (no candidate document in any weighted group)"


UNCHANGED = "unchanged.json"  # the last inputs found to give the current version's plan again


def note_unchanged(store, name: str, fingerprint: str, version: str, unweighted: dict) -> None:
    """Remember that the inputs ``fingerprint`` give the plan of the current ``version`` (so the next check of the
    same inputs needs no plan), with the candidate groups they left without a weight."""
    with tempfile.TemporaryDirectory(prefix="curation-mixture-") as tmp:
        local = os.path.join(tmp, UNCHANGED)
        with open(local, "w") as fh:
            json.dump({"fingerprint": fingerprint, "version": version, "unweighted": unweighted}, fh, allow_nan=False)
        store.put_side(MIXTURES, name, UNCHANGED, local)


def unchanged_note(store, name: str) -> dict:
    if not store.side_exists(MIXTURES, name, UNCHANGED):
        return {}
    with store.fs.open(store.side_path(MIXTURES, name, UNCHANGED)) as fh:
        return json.load(fh)


def publish(store, config, version: str, man: dict, card_files: dict[str, str], plans: dict | None = None) \
        -> list[str]:
    """Write the version's manifest and card, remove its work folder, then flip the pointer; remove versions beyond
    ``keep_versions``. Returns the versions removed. A version with no tokens or a number that is not finite is
    discarded instead (NotPublished, naming the current version, which stays)."""
    why = refusal(man, plans)
    if why:
        discard(store, config.name, version)
        current = (published(store, config.name) or {}).get("version")
        raise NotPublished(f"mixture {config.name}: version {version} is not published: {why}; "
                           + (f"{current} stays current" if current else "nothing was published before"))
    with tempfile.TemporaryDirectory(prefix="curation-mixture-") as tmp:
        files = {**card_files, "manifest.json": json.dumps(man, indent=1, default=str, allow_nan=False)}
        for fname, text in files.items():
            local = os.path.join(tmp, fname)
            with open(local, "w") as fh:
                fh.write(text)
            store.put_side(MIXTURES, config.name, f"{version}/{fname}", local)
        work = store.side_path(MIXTURES, config.name, f"{version}/work")
        if store.fs.exists(work):
            store.fs.rm(work, recursive=True)
        local = os.path.join(tmp, "CURRENT")
        with open(local, "w") as fh:
            fh.write(version + "\n")
        store.put_side(MIXTURES, config.name, "CURRENT", local)
        store.put_side(MIXTURES, config.name, POINTER, os.path.join(tmp, "manifest.json"))  # the pointer: last
    removed = []
    for old in versions(store, config.name)[:-config.keep_versions] if config.keep_versions else []:
        if old != version:
            store.fs.rm(store.side_path(MIXTURES, config.name, old), recursive=True)
            removed.append(old)
    removed += remove_unversioned_parts(store, config.name)
    return removed


def remove_unversioned_parts(store, name: str) -> list[str]:
    """Part files left directly under ``mixtures/<name>/`` by builds before versions existed: no manifest lists
    them any more, but a glob over the folder would read them beside the current version's parts."""
    root = store.side_path(MIXTURES, name, "")
    try:
        found = store.fs.ls(root, detail=False)
    except FileNotFoundError:
        return []
    stale = [p for p in found if posixpath.basename(p.rstrip("/")).startswith("part-")
             and p.endswith(".parquet") and not store.fs.isdir(p)]
    for p in stale:
        store.fs.rm(p)
    return [posixpath.basename(p) for p in stale]


def manifest(results, config, parts: list[dict], extra: dict) -> dict:
    from curation.mixing.weights import weight_of

    total = sum(r.tokens for r in results) or 1
    total_w = sum(weight_of(w) or 0.0 for w in config.weights.values())
    groups = []
    for r in results:
        by = {"weight_from": r.weight_from} if r.weight_from not in ("", r.group) else {}  # a pattern gave it
        groups.append({
            "group": r.group, "target_weight": round(r.weight / total_w, 4), **by,
            "achieved_weight": round(r.tokens / total, 4), "target_tokens": r.target_tokens, "tokens": r.tokens,
            "documents": r.documents, "documents_available": r.documents_available,
            "tokens_available": r.tokens_available, "repetition": r.repetition,
            "shortfall_tokens": r.shortfall_tokens,
        })
    return {"mixture": config.name, "total_tokens": sum(r.tokens for r in results),
            "target_total_tokens": config.total_tokens, "groups": groups,
            "shards": interleave_order(parts, config.seed), "config": config.as_dict(), **extra}


def new_version(fingerprint: str) -> str:
    """A new version folder's name: UTC time to the microsecond (versions sort by age), the fingerprint's start and
    a random tag (two builders never share a folder)."""
    import time
    import uuid

    now = time.time()
    return (f"v{time.strftime('%Y%m%dT%H%M%S', time.gmtime(now))}{int(now * 1e6) % 1_000_000:06d}-"
            f"{fingerprint[:8]}-{uuid.uuid4().hex[:6]}")
