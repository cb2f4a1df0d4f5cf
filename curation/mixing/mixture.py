"""A whole mixture version in one process: statistics, plan, every unit's parts, the manifest and data card, and
the atomic publish (the Dagster asset runs the per-unit steps as mapped ops instead, and calls ``finalize``)."""

from __future__ import annotations

from curation.core.fingerprints import digest
from curation.mixing.build import add_stats, make_plan, prepare, results_of, topic_model, unweighted, write_unit
from curation.mixing.datacard import data_card
from curation.mixing.plan import Statistics
from curation.mixing.publish import discard, manifest, new_version, publish, published
from curation.mixing.source import CORPORA
from curation.core import tables as T

PLAN_VERSION = "mixture-plan-v1"


def input_fingerprints(store, config, units: list) -> list:
    """Per unit, the fingerprints of the tables it reads (from Parquet footers only: staleness over thousands of
    shards without reading data)."""
    fps = []
    for u in units:
        if u.kind == "crawl":
            assets = (T.DOCUMENTS_TABLE, T.LANGUAGE_TABLE, T.DEDUP_TABLE, T.QUALITY_TABLE, T.TOKENS_TABLE, T.CONTAMINATION_TABLE,
                      T.PII_TABLE, T.BLOCKLIST_TABLE) + ((T.REWRITES_TABLE,) if config.rewrites else ())
            fps.append([u.key] + [(store.info(a, u.snapshot, u.shard) or {}).get("fingerprint") for a in assets])
        else:
            fps.append([u.key, (store.info(CORPORA, u.snapshot, "all") or {}).get("fingerprint")])
    return fps


def plan_fingerprint(store, config, tid: str, plans: dict, contributing: list) -> str:
    """What a version's content depends on: the configuration, the tokenizer, the plan and the inputs of the
    units with candidates in a weighted group (with topics, every unit: the topics are fitted on all of them). A
    rebuild with the same plan fingerprint as the published version publishes nothing new."""
    return digest(PLAN_VERSION, config.as_dict(), tid, {g: p.as_dict() for g, p in sorted(plans.items())},
                  input_fingerprints(store, config, contributing))


def shipping_stats(report, outputs: list[dict], config) -> dict:
    """Per group: documents removed for contamination, blocklisted, cut, redacted (issue 23), and the settings."""
    from curation.core.keep import PII_PLACEHOLDERS

    groups: dict = {}
    for k, v in report.items():
        if k.startswith("shipping:"):
            g, what = k[len("shipping:"):].rsplit(":", 1)
            groups.setdefault(g, {})[what] = groups.get(g, {}).get(what, 0) + v
    for o in outputs:
        for g, s in (o.get("shipping") or {}).items():
            for what, v in s.items():
                groups.setdefault(g, {})[what] = groups.get(g, {}).get(what, 0) + v
    return {"groups": dict(sorted(groups.items())), "contamination": config.contamination,
            "margin": config.contamination_margin, "max_items": config.max_contaminated_items,
            "blocklist": config.blocklist, "placeholders": {t: PII_PLACEHOLDERS[t] for t in config.redact_pii or ()},
            "unlabelled": {k[len("unlabelled:"):]: v for k, v in report.items() if k.startswith("unlabelled:")}}


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
             "removed": {k: v for k, v in report.items()
                         if not k.startswith(("source:", "dedup:", "note:", "unweighted:", "shipping:", "unlabelled:"))},
             "shipping": shipping_stats(report, outputs, config),
             "unweighted": unweighted(report),
             "dedup": dedup, "languages": dict(langs), "quality_buckets": dict(sorted(buckets.items())),
             "tokenizer": extra.get("tokenizer"), "classifier": extra.get("classifier"),
             "notes": [f"{k[5:]}: {v:,} documents (the mixture's tokenizer differs from the stored counts')"
                       for k, v in report.items() if k.startswith("note:") and v]}
    man = manifest(results, config, parts, {**extra, "stats": stats})
    md, files = data_card(man, stats)
    return man, files


def plan_version(store, config, units: list, version: str, tid: str, topics=None):
    """Phase one of a version: every unit's candidates prepared into the statistics, the plan, and the plan's
    fingerprint over the units that contributed. Returns ``(report, plans, plan fingerprint)``."""
    from collections import Counter

    report, stats = Counter(), Statistics(config.weights, config.rehydrate, config.group_by)
    contributing = []
    for u in units:
        df = prepare(store, config, u, version, tid, report, topics)
        add_stats(stats, df)
        contributing += [u] if df.height or topics else []
    plans = make_plan(store, config, units, version, stats)
    return report, plans, plan_fingerprint(store, config, tid, plans, contributing)


def build(store, config, units: list, fingerprint: str, tid: str, topics=None, write=None) -> dict:
    """The whole mixture, unit after unit in this process (the Dagster asset runs the per-unit steps as mapped
    ops instead); ``write(unit)`` may replace the per-unit writer (e.g. a process pool). Returns the manifest."""
    import time

    t0 = time.perf_counter()
    version = new_version(fingerprint)
    if "topic" in config.group_by and topics is None:
        topics = topic_model(store, config, units, tid)
    report, plans, pfp = plan_version(store, config, units, version, tid, topics)
    old = published(store, config.name)
    if old and old.get("plan_fingerprint") == pfp:  # the same plan over the same inputs: nothing new to publish
        discard(store, config.name, version)
        return {**old, "unchanged": True, "removed_versions": [], "stats": {**old["stats"],
                                                                         "unweighted": unweighted(report)}}
    outputs = [write_unit(store, config, u, version, plans) for u in units] if write is None else write(version, plans)
    man, files = finalize(config, plans, outputs, report, {"fingerprint": fingerprint, "plan_fingerprint": pfp,
                                                            "version": version, "tokenizer": tid,
                                                            "seconds": round(time.perf_counter() - t0, 2)})
    man["removed_versions"] = publish(store, config, version, man, files, plans)
    return man
