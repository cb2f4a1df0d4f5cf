"""The mixture assets: one per ``mixtures/*.yaml`` (an asset factory), and the extra corpora they draw from.

Each mixture is a graph-backed asset ``mixtures/<file stem>``: a ``plan`` op (validation before any work, the
fingerprint from Parquet footers only, the per-unit candidate tables and statistics, the plan), one ``write`` op
per unit (crawl snapshot x shard, or corpus; mapped dynamically: one after another under the default in-process
executor, in parallel when the run asks for ``multiprocess``, see curation_assets/executor.py), and a ``publish`` op (manifest, data card, the pointer flipped last, old versions removed). The
mixture's ``automation`` key (eager | manual | {cron: ...}) sets its AutomationCondition.
"""


import os
import re
import time
from collections import Counter
from pathlib import Path

import dagster as dg

from curation.core.fingerprints import digest, file_identity
from curation.mixing.check import load_mixture
from curation.mixing.config import MixtureConfig, automation_spec
from curation.mixing.source import CORPORA, Unit, corpus_rows, units as mixture_units
from curation_assets.constants import CORPORA_VERSION, GROUP_MIXING, MIXTURE_VERSION
from curation_assets.common import fail_fast
from curation_assets.shard_step import shard_step
from curation_assets import automation
from curation_assets.settings import PROJECT_ROOT, mixture_files
from resources import StorageResource
from curation.core.tables import CLASSIFIER_META, CLASSIFIER_TABLE, GLOBAL_PARTITION

DEFAULT_MIXTURE = str(PROJECT_ROOT / "mixtures" / "demo.yaml")
# eager, keyed on data versions: a rerun that recomputed nothing upstream does not rebuild the mixture
EAGER = automation.ON_CHANGE


class CorporaConfig(dg.Config):
    """Which mixture files' corpora to register ("": every file under mixtures/)."""

    path: str = ""


@dg.asset(
    code_version=CORPORA_VERSION,
    automation_condition=automation.ONCE_NO_DEPS,
    group_name=GROUP_MIXING,
    kinds={"parquet"},
    description="Extra corpora the mixtures draw from (a user's Wikipedia, code or book dump), registered from the "
                "JSONL or Parquet files the mixture definitions name: one table each (with token counts), with lineage.",
)
@fail_fast
def corpora(context: dg.AssetExecutionContext, config: CorporaConfig, storage: StorageResource) -> dg.MaterializeResult:
    import pyarrow as pa

    from curation.models.tokenizer import count_tokens, load_tokenizer, tokenizer_id
    from curation.mixing.check import check_mixture_file

    store = storage.store()
    counts, recomputed = {}, {}
    tid = tokenizer_id(None)
    for path in [config.path] if config.path else mixture_files():
        check_mixture_file(path)
        for c in load_mixture(path).corpora:
            fp = digest(CORPORA_VERSION, c.__dict__, file_identity(c.path), tid)

            def compute(_stored, c=c):
                rows = corpus_rows(c)
                if not rows:
                    raise dg.Failure(f"{c.path}: no rows with a non-empty {c.text_column!r} column",
                                     allow_retries=False)
                table = pa.Table.from_pylist([{k: r[k] for k in ("id", "text", "url", "source", "language")}
                                              for r in rows])
                table = table.append_column("tokens", pa.array(count_tokens(table.column("text").to_pylist(),
                                                                            load_tokenizer(None))))
                return table, {"path": c.path, "tokenizer": tid}

            step = shard_step(context, store, CORPORA, c.name, "all", fp, compute, columns=())
            counts[c.name], recomputed[c.name] = step.info["rows"], step.recomputed
    return dg.MaterializeResult(metadata={
        "documents": dg.MetadataValue.json(counts), "recomputed": dg.MetadataValue.json(recomputed),
        "path": dg.MetadataValue.path(store.asset_url(CORPORA))})


class MixtureRunConfig(dg.Config):
    path: str = ""  # another mixture file to build under this asset ("": the asset's own file)
    force: bool = False


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def _lenient(path: str) -> dict:
    """The parsed mixture for wiring the asset's dependencies at load time ({} when it cannot be read; errors are
    reported by the CLI's check and when it runs). Parsed once per process, aliases refused."""
    from curation.mixing.loading import read_mixture

    raw, _ = read_mixture(path)
    return raw if isinstance(raw, dict) else {}


def _classifier_summary(store) -> dict | None:
    """What the data card says about the quality score: the classifier's kind, recipe, bucket reference and its
    agreement with held-back human labels (from quality_classifier's classifier.json; None before it exists)."""
    import json

    if not store.side_exists(CLASSIFIER_TABLE, GLOBAL_PARTITION, CLASSIFIER_META):
        return None
    with store.fs.open(store.side_path(CLASSIFIER_TABLE, GLOBAL_PARTITION, CLASSIFIER_META), "r") as fh:
        meta = json.load(fh)
    return {k: meta.get(k) for k in ("kind", "human_labels", "reference")} | {
        "report": {"candidate": (meta.get("report") or {}).get("candidate")}}


def automation_condition(raw: dict) -> dg.AutomationCondition | None:
    try:
        kind, cron = automation_spec(raw.get("automation", "eager"))
    except ValueError:
        return None
    return EAGER if kind == "eager" else dg.AutomationCondition.on_cron(cron) if kind == "cron" else None


def _fingerprint(store, cfg: MixtureConfig, units: list[Unit], tid: str) -> str:
    """From Parquet footers only: staleness over thousands of shards without reading data."""
    from curation.mixing.mixture import input_fingerprints

    return digest(MIXTURE_VERSION, cfg.as_dict(), tid, input_fingerprints(store, cfg, units))


def _load(path: str, store) -> MixtureConfig:
    from curation.mixing.check import MixtureError

    try:
        return load_mixture(path, store.snapshots("dedup"))
    except MixtureError as exc:  # one line per problem, no traceback worth reading
        raise dg.Failure(description=str(exc), allow_retries=False) from None


def mixture_asset(path: str) -> dg.AssetsDefinition:
    """The asset building the mixture defined in ``path`` (``mixtures/<stem>``)."""
    from curation_assets.partitions import SHARDS

    from curation.mixing.check import validate_mixture_file

    stem = _safe(Path(path).stem)
    raw = _lenient(path)
    problems = validate_mixture_file(path)  # every number checked at load: a broken file is never automated
    reads = ["documents", "language", "dedup", "quality", "tokens", "contamination", "pii", "blocklist"] + (
        ["rewrites"] if raw.get("rewrites", True) else []) + ["corpora"]

    @dg.op(name=f"{stem}_plan", ins={a: dg.In(dg.Nothing) for a in reads},
           out={"plan": dg.Out(), "units": dg.DynamicOut()})
    def plan(context: dg.OpExecutionContext, config: MixtureRunConfig, storage: StorageResource):
        from curation.mixing.build import topic_model
        from curation.models.tokenizer import tokenizer_id
        from curation.mixing.mixture import plan_version
        from curation.mixing.publish import discard, new_version, note_unchanged, published, unchanged_note
        from curation.mixing.build import unweighted

        mpath = config.path or path
        store = storage.store()
        cfg = _load(mpath, store)
        snaps = store.snapshots("dedup") if cfg.snapshots == "all" else list(cfg.snapshots)
        units = mixture_units(cfg, snaps, SHARDS.get_partition_keys())
        tid = tokenizer_id(cfg.tokenizer)
        fp = _fingerprint(store, cfg, units, tid)
        old = published(store, cfg.name)
        note = unchanged_note(store, cfg.name) if old else {}
        if old and not config.force and (old.get("fingerprint") == fp or (note.get("fingerprint") == fp and
                                                                          note.get("version") == old["version"])):
            context.log.info(f"mixture {cfg.name} is up to date ({old.get('version')})")
            yield dg.Output({"path": mpath, "up_to_date": True, "fingerprint": old["fingerprint"],
                             "unweighted": note.get("unweighted") if old.get("fingerprint") != fp else None}, "plan")
            return
        t0, version = time.perf_counter(), new_version(fp)
        topics = topic_model(store, cfg, units, tid) if "topic" in cfg.group_by else None
        report, plans, pfp = plan_version(store, cfg, units, version, tid, topics)
        if old and old.get("plan_fingerprint") == pfp and not config.force:
            discard(store, cfg.name, version)  # the same plan over the same inputs: no new version
            note_unchanged(store, cfg.name, fp, old["version"], unweighted(report))
            context.log.info(f"mixture {cfg.name}: the plan and its inputs are unchanged; {old['version']} stays")
            yield dg.Output({"path": mpath, "up_to_date": True, "fingerprint": old["fingerprint"],
                             "unweighted": unweighted(report)}, "plan")
            return
        context.log.info(f"mixture {cfg.name}: plan for {len(plans)} groups over {len(units)} units ({version})")
        yield dg.Output({"path": mpath, "up_to_date": False, "fingerprint": fp, "plan_fingerprint": pfp,
                         "version": version, "tokenizer": tid,
                         "plans": {g: p.as_dict() for g, p in plans.items()}, "report": dict(report),
                         "plan_seconds": time.perf_counter() - t0}, "plan")
        for u in units:
            yield dg.DynamicOutput(u.__dict__, mapping_key=_safe(u.key), output_name="units")

    @dg.op(name=f"{stem}_write")
    def write(context: dg.OpExecutionContext, storage: StorageResource, plan: dict, unit: dict) -> dict:
        from curation.mixing.build import write_unit
        from curation.mixing.plan import GroupPlan

        store = storage.store()
        cfg = load_mixture(plan["path"])
        t0 = time.perf_counter()
        out = write_unit(store, cfg, Unit(**unit), plan["version"],
                         {g: GroupPlan.from_dict(p) for g, p in plan["plans"].items()})
        return {**out, "seconds": time.perf_counter() - t0}

    @dg.op(name=f"{stem}_publish")
    def publish(context: dg.OpExecutionContext, storage: StorageResource, plan: dict, outputs: list):
        from curation.mixing.plan import GroupPlan
        from curation.mixing.mixture import finalize
        from curation.mixing.publish import NotPublished, publish as flip, published

        store = storage.store()
        cfg = load_mixture(plan["path"])
        if plan["up_to_date"]:
            man, recomputed = published(store, cfg.name), False
            with store.fs.open(store.side_path("mixtures", cfg.name, f"{man['version']}/DATA_CARD.md"), "r") as fh:
                card = fh.read()
            if plan.get("unweighted") is not None:  # inputs changed, plan did not: what they left out is new
                man = {**man, "stats": {**man["stats"], "unweighted": plan["unweighted"]}}
        else:
            plans = {g: GroupPlan.from_dict(p) for g, p in plan["plans"].items()}
            seconds = plan["plan_seconds"] + sum(o["seconds"] for o in outputs)
            man, files = finalize(cfg, plans, outputs, Counter(plan["report"]), {
                "fingerprint": plan["fingerprint"], "plan_fingerprint": plan["plan_fingerprint"],
                "version": plan["version"], "tokenizer": plan["tokenizer"], "seconds": round(seconds, 2),
                "classifier": _classifier_summary(store)})
            try:
                man["removed_versions"] = flip(store, cfg, plan["version"], man, files, plans)
            except NotPublished as exc:  # the current version stays; one line, no retry
                raise dg.Failure(description=str(exc), allow_retries=False) from None
            card, recomputed = files["DATA_CARD.md"], True
        return dg.Output(None, data_version=dg.DataVersion(plan["fingerprint"]), metadata={
            "recomputed": recomputed, "mixture": cfg.name, "version": man["version"],
            "total_tokens": man["total_tokens"], "target_tokens": man["target_total_tokens"],
            "parts": len(man["shards"]), "data_card": dg.MetadataValue.md(card),
            "removed_by_keep_rules": dg.MetadataValue.json(man["stats"]["removed"]),
            "unweighted_groups": dg.MetadataValue.json(man["stats"].get("unweighted") or {}),
            "manifest": dg.MetadataValue.path(store.side_url("mixtures", cfg.name, "manifest.json")),
            "fingerprint": plan["fingerprint"]})

    def compose(**upstream):
        p, units = plan(**upstream)
        return publish(p, units.map(lambda u: write(p, u)).collect())

    compose.__signature__ = __import__("inspect").Signature(
        [__import__("inspect").Parameter(a, __import__("inspect").Parameter.KEYWORD_ONLY) for a in reads])
    return dg.graph_asset(
        compose_fn=compose, name=stem, key_prefix="mixtures", group_name=GROUP_MIXING, kinds={"parquet"},
        ins={a: dg.AssetIn(key=a, dagster_type=dg.Nothing) for a in reads},
        automation_condition=None if problems else automation_condition(raw),
        description=(f"NOT AUTOMATED: {problems[0]} " if problems else "") +
                    f"The training mixture defined in {os.path.relpath(path, PROJECT_ROOT)}: weighted groups of "
                    "kept documents (crawl snapshots, accepted rewrites, registered corpora) to a token budget, planned "
                    "from per-group statistics, written per shard (in parallel with the multiprocess execution config), "
                    "published as a new version with a "
                    "manifest and a data card.")


def mixture_assets(paths: list[str] | None = None) -> list[dg.AssetsDefinition]:
    return [mixture_asset(p) for p in (mixture_files() if paths is None else paths)]


MIXTURE_ASSETS = mixture_assets()
