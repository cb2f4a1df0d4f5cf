"""Quality assets: a classifier trained from target examples (one per deployment), and per-shard quality
labels (heuristic signals and verdicts, classifier score, quality bucket, optional model scores)."""


import json
import os
import tempfile
import time
from collections import Counter

import dagster as dg
import numpy as np
import polars as pl

from curation.classifier import TrainConfig, bucket_of, classifier_scorer, deciles, labelled_examples, train_classifier
from curation.fingerprints import digest
from curation.quality import FILTERS, SignalConfig, Thresholds, decide, quality_schema, signals_table
from curation_assets import automation
from curation.scoring import CLASSIFIER_ASSET as CLASSIFIER, GLOBAL, MODEL_FILES
from curation_assets.common import fail_fast, RETRY, check_specs, counts_table
from curation_assets.annotations import ANNOTATIONS, GLOBAL_SHARD, quality_annotations
from curation_assets.documents import ASSET as DOCUMENTS, documents
from curation_assets.language import ASSET as LANGUAGE, language
from curation_assets.partitions import SHARDS, SNAPSHOT_SHARDS, split_key
from curation_assets.shard_step import shard_step
from curation_assets.settings import PROJECT_ROOT
from resources import QualityResource, StorageResource

QUALITY = "quality"
CLASSIFIER_VERSION = "quality-classifier-v2"
QUALITY_VERSION = "quality-v1"
SAMPLE_QUALITY = PROJECT_ROOT / "sample_data" / "quality"
DEFAULT_POSITIVES = [str(SAMPLE_QUALITY / "wikipedia-abstracts-en.jsonl"),
                     str(SAMPLE_QUALITY / "dclm-human-quality-labels.jsonl")]
DEFAULT_EVAL = str(SAMPLE_QUALITY / "dclm-human-quality-labels.jsonl")


def _model_name(kind: str) -> str:
    return MODEL_FILES[kind]


def _crawl_sample(store, n: int, snapshots: list[str] | None = None) -> tuple[list[str], list[str], list[str]]:
    """About ``n`` documents of the given (default: every) snapshot, chosen by a hash of their id, so the same
    documents are drawn whatever the sharding; each shard's id column is read, and the text of the chosen rows
    only (a row-group filter). Returns (ids, texts, fingerprints of the documents shards read)."""
    from curation.annotate import sample_by_hash

    shards = [(s, sh, info) for s in (snapshots or store.snapshots(DOCUMENTS)) for sh in SHARDS.get_partition_keys()
              if (info := store.info(DOCUMENTS, s, sh))]
    if not shards:
        raise FileNotFoundError("no documents materialised yet: the classifier samples the crawl from them")
    rate = min(1.0, n / max(1, sum(info.get("rows", 0) for _, _, info in shards)))
    ids, texts = [], []
    for s, sh, _ in shards:
        shard_ids = store.read(DOCUMENTS, s, sh, columns=["id"]).column("id").to_pylist()
        chosen = [shard_ids[i] for i in sample_by_hash(shard_ids, rate)]
        if chosen:
            t = store.read(DOCUMENTS, s, sh, columns=["id", "text"], filters=[("id", "in", chosen)])
            ids += t.column("id").to_pylist()
            texts += t.column("text").to_pylist()
    return ids, texts, [info["fingerprint"] for _, _, info in shards]


def _examples_identity(paths: list[str]) -> list:
    """What the example files hold (content digests), so an edited file retrains and an untouched one does not."""
    import hashlib

    out = []
    for p in paths:
        if os.path.isdir(p):
            out.append([p, sorted((f, os.path.getsize(os.path.join(p, f))) for f in os.listdir(p))])
        else:
            with open(p, "rb") as fh:
                out.append([os.path.basename(p), hashlib.sha256(fh.read()).hexdigest()])
    return out


def _stored_meta(store) -> dict | None:
    if not store.side_exists(CLASSIFIER, GLOBAL, "classifier.json"):
        return None
    with tempfile.TemporaryDirectory(prefix="curation-clf-") as tmp:
        return _classifier_meta(store, tmp)


def _agreement_md(agree: dict) -> str:
    rows = [("this classifier", agree["roc_auc"], agree["accuracy"]),
            ("document length alone", agree["length"]["roc_auc"], agree["length"]["accuracy"]),
            ("heuristic verdict", None, agree["heuristics"]["accuracy"])]
    md = [f"Held-back human labels: {agree['examples']} documents ({agree['good']} good).", "",
          "| scorer | ROC AUC | keep-decision accuracy |", "|---|---:|---:|"]
    md += [f"| {n} | {'' if a is None else f'{a:.3f}'} | {c:.3f} |" for n, a, c in rows]
    return "\n".join(md)


@dg.asset(
    deps=[documents, quality_annotations],
    automation_condition=automation.ONCE,
    code_version=CLASSIFIER_VERSION,
    group_name="quality",
    kinds={"python"},
    check_specs=[dg.AssetCheckSpec("beats_length", asset=CLASSIFIER,
                                   description="The classifier ranks the held-back human labels better than "
                                               "document length alone (warns otherwise).")],
    description="The quality classifier (default: logistic regression over the quality signals, trained on "
                "labelled in-domain documents, chosen by cross-validation), its agreement with held-back human "
                "labels beside document length alone, and the decile boundaries of its score on a reference "
                "sample of the crawl (the quality buckets). Retrained only when its inputs change.",
)
@fail_fast
def quality_classifier(context: dg.AssetExecutionContext, storage: StorageResource,
                       quality_settings: QualityResource) -> dg.MaterializeResult:
    from curation.recipe import agreement, graded_rows, heldback, labelled_rows, train_stacked

    store = storage.store()
    qs = quality_settings
    kind = qs.classifier
    positives_paths = qs.positives or (DEFAULT_POSITIVES if kind != "stacked" else [DEFAULT_EVAL])
    eval_path = qs.evaluate_on or (DEFAULT_EVAL if not qs.positives else None)
    stored = _stored_meta(store)
    # the reference sample (negatives, bucket deciles) stays on the snapshots it was first drawn from, so a new
    # snapshot does not move every bucket; retrain_on_new_snapshots draws it again from every snapshot
    snaps = store.snapshots(DOCUMENTS)
    if stored and stored.get("reference_snapshots") and not qs.retrain_on_new_snapshots:
        snaps = [s for s in stored["reference_snapshots"] if s in snaps] or snaps
    annotations = _annotations(store) if qs.train_on_annotations != "no" else None
    cfg = TrainConfig()
    doc_fps = [i["fingerprint"] for x in sorted(snaps) for sh in SHARDS.get_partition_keys()
               if (i := store.info(DOCUMENTS, x, sh))]
    inputs = digest(CLASSIFIER_VERSION, kind, qs.crawl_sample, cfg, qs.train_on_annotations,
                    _examples_identity(positives_paths), _examples_identity(qs.negatives),
                    _examples_identity([eval_path]) if eval_path else None, sorted(snaps), doc_fps,
                    annotations["fingerprint"] if annotations else None)
    recomputed = not (stored and stored.get("inputs_fingerprint") == inputs)
    if recomputed:
        t0 = time.perf_counter()
        _, crawl, _ = _crawl_sample(store, qs.crawl_sample, snaps)
        with tempfile.TemporaryDirectory(prefix="curation-clf-") as tmp:
            local = os.path.join(tmp, _model_name(kind))
            if kind == "stacked":
                texts, labels = labelled_rows(positives_paths, True)
                neg_t, neg_y = labelled_rows(qs.negatives, False)
                texts, labels = texts + neg_t, labels + neg_y
                if annotations:
                    g_t, g_y = graded_rows(annotations["rows"])
                    texts, labels = (g_t, g_y) if qs.train_on_annotations == "only" else (texts + g_t, labels + g_y)
                if all(labels):  # plain target examples only: the crawl sample is the other side (DCLM, BETR)
                    texts, labels = texts + crawl, labels + [False] * len(crawl)
                try:
                    report = train_stacked(texts, labels, crawl, local)
                except ValueError as exc:
                    raise dg.Failure(description=f"quality classifier: {exc}", allow_retries=False) from exc
                threshold = report["keep_threshold"]
            else:
                positives = labelled_examples(positives_paths, label=1, half="train")
                negatives = crawl + (labelled_examples(qs.negatives, label=0, half="train") if qs.negatives else [])
                report = train_classifier(kind, positives, negatives, local, cfg)
                threshold = 0.5
            scorer = classifier_scorer(kind, local)
            boundaries = deciles(scorer.score(crawl))
            agree = {}
            if eval_path:
                texts_h = heldback(eval_path)[0]
                agree = agreement(scorer.score(texts_h), threshold, eval_path)
            with open(local, "rb") as fh:
                import hashlib

                model_digest = hashlib.sha256(fh.read()).hexdigest()
            meta = {"kind": kind, "deciles": boundaries, "keep_threshold": threshold, "report": report,
                    "human_labels": agree, "positives": positives_paths, "negatives": qs.negatives,
                    "evaluate_on": eval_path, "reference_snapshots": snaps, "crawl_documents": len(crawl),
                    "reference": f"deciles of the score on {len(crawl)} crawl documents drawn by id hash from "
                                 f"{', '.join(snaps)}; fixed until the classifier is retrained",
                    "train_config": cfg.__dict__, "model_bytes": os.path.getsize(local),
                    "inputs_fingerprint": inputs, "seconds": time.perf_counter() - t0}
            # the data version is the model itself: retraining that gives the same model rescores nothing
            meta["fingerprint"] = digest(CLASSIFIER_VERSION, kind, model_digest, boundaries, threshold)
            with open(os.path.join(tmp, "classifier.json"), "w") as fh:
                json.dump(meta, fh, indent=1)
            for name in (_model_name(kind), "classifier.json"):
                store.put_side(CLASSIFIER, GLOBAL, name, os.path.join(tmp, name))
    else:
        context.log.info("quality classifier is up to date (same examples, settings and reference sample); "
                         "not retrained")
        meta = stored
    agree = meta.get("human_labels") or {}
    report = meta["report"]
    metadata = {
        "recomputed": recomputed,
        "classifier": meta["kind"],
        "recipe": report.get("candidate", meta["kind"]),
        "human_label_roc_auc": dg.MetadataValue.float(agree.get("roc_auc", float("nan"))),
        "human_label_accuracy": dg.MetadataValue.float(agree.get("accuracy", float("nan"))),
        "length_roc_auc": dg.MetadataValue.float(agree.get("length", {}).get("roc_auc", float("nan"))),
        "length_accuracy": dg.MetadataValue.float(agree.get("length", {}).get("accuracy", float("nan"))),
        "agreement": dg.MetadataValue.md(_agreement_md(agree) if agree else "_no labelled file to measure on_"),
        "training": dg.MetadataValue.json(report["train"]),
        "crawl_documents_sampled": meta["crawl_documents"],
        "bucket_boundaries": dg.MetadataValue.json([round(b, 4) for b in meta["deciles"]]),
        "bucket_reference": meta["reference"],
        "model": dg.MetadataValue.path(store.side_url(CLASSIFIER, GLOBAL, _model_name(meta["kind"]))),
        "model_bytes": dg.MetadataValue.int(meta["model_bytes"]),
        "fingerprint": meta["fingerprint"],
    }
    if "holdout" in report:
        metadata["holdout_accuracy"] = dg.MetadataValue.float(report["holdout"].get("accuracy", float("nan")))
        metadata["holdout_roc_auc"] = dg.MetadataValue.float(report["holdout"].get("roc_auc", float("nan")))
    if "cv" in report:
        best = max(report["cv"], key=lambda r: r["cv_roc_auc"])
        metadata["cv_roc_auc"] = dg.MetadataValue.float(best["cv_roc_auc"])
        metadata["cv_accuracy"] = dg.MetadataValue.float(best["cv_accuracy"])
    check = dg.AssetCheckResult(
        check_name="beats_length", asset_key=CLASSIFIER, passed=bool(agree.get("beats_length", not agree)),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"roc_auc": agree.get("roc_auc"), "length_roc_auc": agree.get("length", {}).get("roc_auc"),
                  "measured": bool(agree)})
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(meta["fingerprint"]),
                                check_results=[check])


def _annotations(store) -> dict | None:
    """The stored LLM grades (``quality_annotations``), or None when that asset has not run."""
    info = store.info(ANNOTATIONS, GLOBAL, GLOBAL_SHARD)
    if not info:
        return None
    rows = store.read(ANNOTATIONS, GLOBAL, GLOBAL_SHARD, columns=["id", "text", "grade"]).to_pylist()
    return {"fingerprint": info["fingerprint"], "rows": rows}


def _info(df, scores_fp, t_sig, urls, scores, ppl, rescored=True, perplexity_median=None) -> dict:
    reasons = Counter(df["quality_reason"].drop_nulls().to_list())
    sample_url = {}
    for r, u in zip(df["quality_reason"].to_list(), urls):
        if r and r not in sample_url:
            sample_url[r] = u
    return {
        "scores_fingerprint": scores_fp, "models_run": rescored, "signal_seconds": t_sig,
        "pass_rate": {f: float(df[f"{f}_pass"].mean() or 0.0) for f in FILTERS + ("quality",)},
        "reasons": dict(reasons), "sample_url": sample_url,
        "buckets": {str(k): int(v) for k, v in zip(*np.unique(df["quality_bucket"].to_numpy(), return_counts=True))},
        "classifier_mean": float(np.mean(scores)) if len(scores) else 0.0,
        "perplexity_median": float(np.median(ppl)) if ppl is not None and len(ppl) else perplexity_median,
    }


def _classifier_meta(store, work: str) -> dict:
    """The classifier's evaluation and bucket boundaries (a small JSON; the model is fetched only to score)."""
    with open(store.local_side(CLASSIFIER, GLOBAL, "classifier.json", work)) as fh:
        return json.load(fh)


def _classifier_scorer(store, meta: dict, work: str):
    return classifier_scorer(meta["kind"], store.local_side(CLASSIFIER, GLOBAL, _model_name(meta["kind"]), work))


@dg.asset(
    retry_policy=RETRY,
    partitions_def=SNAPSHOT_SHARDS,
    deps=[documents, language, quality_classifier],
    automation_condition=automation.ON_CHANGE,
    code_version=QUALITY_VERSION,
    group_name="quality",
    kinds={"parquet"},
    check_specs=check_specs(QUALITY, (("covers_documents", "One quality row per document of the shard."),)),
    description="Per document: the Gopher quality / repetition, C4 and FineWeb signals and verdicts (published "
                "thresholds, reason codes), the trained classifier's score and quality bucket (crawl deciles), "
                "and optional FineWeb-Edu-style and perplexity scores. Labels only.",
)
@fail_fast
def quality(context: dg.AssetExecutionContext, storage: StorageResource,
            quality_settings: QualityResource) -> dg.MaterializeResult:
    snapshot, shard = split_key(context)
    store = storage.store()
    docs_info = store.require_info(DOCUMENTS, snapshot, shard)
    lang_info = store.require_info(LANGUAGE, snapshot, shard)
    thresholds = Thresholds(**json.loads(quality_settings.thresholds_json or "{}"))
    with tempfile.TemporaryDirectory(prefix="curation-quality-") as work:
        clf_meta = _classifier_meta(store, work)
        sig_cfg = SignalConfig()
        models = {"edu": quality_settings.edu_model, "perplexity": quality_settings.perplexity,
                  "perplexity_model": quality_settings.perplexity_model,
                  "perplexity_max_tokens": quality_settings.perplexity_max_tokens}
        scores_fp = digest(QUALITY_VERSION, docs_info["fingerprint"], lang_info["fingerprint"], sig_cfg,
                           clf_meta["fingerprint"], models)
        fp = digest(scores_fp, repr(thresholds))

        def compute(stored):
            if stored and stored.get("scores_fingerprint") == scores_fp:
                # only the thresholds changed: re-apply them to the stored signals, run no model
                old = pl.from_arrow(store.read(QUALITY, snapshot, shard))
                langs = store.read(LANGUAGE, snapshot, shard, columns=["id", "language"])
                old = old.join(pl.from_arrow(langs), on="id", how="left", maintain_order="left")
                keep = [c for c in old.columns if not c.endswith(("_pass", "_reason"))]
                df = decide(old.select(keep), thresholds)
                table = df.select([f.name for f in quality_schema()]).to_arrow().cast(quality_schema())
                urls = store.read(DOCUMENTS, snapshot, shard, columns=["url"]).column("url").to_pylist()
                return table, _info(df, scores_fp, 0.0, urls, df["classifier_score"].to_numpy(), None,
                                    rescored=False, perplexity_median=stored.get("perplexity_median"))
            t0 = time.perf_counter()
            docs = store.read(DOCUMENTS, snapshot, shard, columns=["id", "url", "text"])
            langs = store.read(LANGUAGE, snapshot, shard, columns=["id", "language"])
            texts = docs.column("text").to_pylist()
            ids = docs.column("id").to_pylist()
            lang_of = dict(zip(langs.column("id").to_pylist(), langs.column("language").to_pylist()))
            languages = [lang_of.get(i) for i in ids]
            df = signals_table(ids, texts, languages, sig_cfg).with_columns(pl.Series("language", languages,
                                                                                      dtype=pl.String))
            t_sig = time.perf_counter() - t0
            df = decide(df, thresholds)
            scorer = _classifier_scorer(store, clf_meta, work)
            if not texts:
                scores = np.zeros(0, np.float32)
            elif hasattr(scorer, "score_signals"):  # the stacked model reads the signals just measured
                scores = scorer.score_signals(decide(df, Thresholds()))
            else:
                scores = scorer.score(texts)
            df = df.with_columns(pl.Series("classifier_score", scores, dtype=pl.Float32),
                                 pl.Series("quality_bucket", bucket_of(scores, clf_meta["deciles"]), dtype=pl.Int8))
            edu = ppl = None
            if quality_settings.edu_model:
                from curation.models import SequenceRegressionScorer

                edu = SequenceRegressionScorer(quality_settings.edu_model, batch_size=quality_settings.batch_size).score(texts)
            if quality_settings.perplexity:
                from curation.models import PerplexityScorer

                ppl = PerplexityScorer(quality_settings.perplexity_model, batch_size=quality_settings.batch_size,
                                       max_length=quality_settings.perplexity_max_tokens).score(texts)
            df = df.with_columns(pl.Series("edu_score", edu, dtype=pl.Float32) if edu is not None
                                 else pl.lit(None, dtype=pl.Float32).alias("edu_score"),
                                 pl.Series("perplexity", ppl, dtype=pl.Float32) if ppl is not None
                                 else pl.lit(None, dtype=pl.Float32).alias("perplexity"))
            table = df.select([f.name for f in quality_schema()]).to_arrow().cast(quality_schema())
            return table, _info(df, scores_fp, t_sig, docs.column("url").to_pylist(), scores, ppl)

        step = shard_step(context, store, QUALITY, snapshot, shard, fp, compute)
    info, table = step.info, step.table
    top = sorted(info["reasons"].items(), key=lambda kv: -kv[1])[:10]
    md = ["| first failing rule | documents | sample URL |", "|---|---:|---|"]
    md += [f"| `{r}` | {n:,} | {info['sample_url'].get(r) or ''} |" for r, n in top]
    metadata = {
        "pass_rate": dg.MetadataValue.json({k: round(v, 4) for k, v in info["pass_rate"].items()}),
        "passes_all_filters": round(info["pass_rate"]["quality"], 4),
        "drop_reasons": dg.MetadataValue.md("\n".join(md) if top else "_none_"),
        "quality_buckets": counts_table(info["buckets"], ("bucket (crawl decile of the classifier score)", "documents")),
        "classifier_mean_score": dg.MetadataValue.float(round(info["classifier_mean"], 4)),
        "models_run": info.get("models_run", True),
    }
    if info.get("perplexity_median") is not None:
        metadata["perplexity_median"] = dg.MetadataValue.float(round(info["perplexity_median"], 2))
    return step.result(quality_schema(), had_input=docs_info.get("rows", 0) > 0, metadata=metadata, checks=[
        dg.AssetCheckResult(check_name="covers_documents", passed=table.num_rows == docs_info.get("rows"),
                            metadata={"documents": docs_info.get("rows"), "rows": table.num_rows})])
