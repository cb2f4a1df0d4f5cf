"""A whole mixture version in one process: statistics, plan, every unit's parts, the manifest and data card, and
the atomic publish (the Dagster asset runs the per-unit steps as mapped ops instead, and calls ``finalize``)."""

from __future__ import annotations

from curation.mixing.build import add_stats, make_plan, prepare, results_of, topic_model, write_unit
from curation.mixing.datacard import data_card
from curation.mixing.plan import Statistics
from curation.mixing.publish import manifest, new_version, publish


def finalize(config, plans: dict, outputs: list[dict], report, extra: dict) -> tuple[dict, dict]:
    """The manifest and the data card's files from the plan and what every unit wrote."""
    from collections import Counter

    achieved, langs, buckets, parts = {}, Counter(), Counter(), []
    for o in outputs:
        for g, (d, t) in o["groups"].items():
            a = achieved.setdefault(g, [0, 0])
            a[0] += d
            a[1] += t
        langs.update(o["languages"])
        buckets.update(o["quality_buckets"])
        parts += o["parts"]
    results = results_of(plans, achieved, config.tolerance)
    dedup = {}
    for k, v in report.items():
        if k.startswith("dedup:"):
            _, snap, what = k.rsplit(":", 2) if k.count(":") >= 2 else (None, None, None)
            dedup.setdefault(snap, {"documents": 0, "removed": 0})[what] = v
    stats = {"sources": {k[7:]: v for k, v in report.items() if k.startswith("source:")},
             "removed": {k: v for k, v in report.items() if not k.startswith(("source:", "dedup:", "note:"))},
             "dedup": dedup, "languages": dict(langs), "quality_buckets": dict(sorted(buckets.items())),
             "tokenizer": extra.get("tokenizer"), "classifier": extra.get("classifier"),
             "notes": [f"{k[5:]}: {v:,} documents (the mixture's tokenizer differs from the stored counts')"
                       for k, v in report.items() if k.startswith("note:") and v]}
    man = manifest(results, config, parts, {**extra, "stats": stats})
    md, files = data_card(man, stats)
    return man, files


def build(store, config, units: list, fingerprint: str, tid: str, topics=None, write=None) -> dict:
    """The whole mixture, unit after unit in this process (the Dagster asset runs the per-unit steps as mapped
    ops instead); ``write(unit)`` may replace the per-unit writer (e.g. a process pool). Returns the manifest."""
    import time
    from collections import Counter

    t0 = time.perf_counter()
    version = new_version(fingerprint)
    report, stats = Counter(), Statistics(config.weights, config.rehydrate)
    if "topic" in config.group_by and topics is None:
        topics = topic_model(store, config, units, tid)
    for u in units:
        add_stats(stats, prepare(store, config, u, version, tid, report, topics))
    plans = make_plan(store, config, units, version, stats)
    outputs = [write_unit(store, config, u, version, plans) for u in units] if write is None else write(version, plans)
    man, files = finalize(config, plans, outputs, report, {"fingerprint": fingerprint, "version": version,
                                                            "tokenizer": tid,
                                                            "seconds": round(time.perf_counter() - t0, 2)})
    man["removed_versions"] = publish(store, config, version, man, files)
    return man
