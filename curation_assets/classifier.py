"""The quality classifier asset (global): the default recipe trained on labelled examples, LLM grades
when configured and a crawl sample; its bucket boundaries and agreement with people in the metadata. Also how
later assets load it (``classifier_meta``, ``classifier_scorer``)."""

import json
import os
import tempfile
import time
import dagster as dg
from curation.quality.classifier import TrainConfig, classifier_scorer, deciles, labelled_examples, train_classifier
from curation.core.fingerprints import digest
from curation_assets.constants import CLASSIFIER_VERSION, GROUP_QUALITY
from curation_assets import automation
from curation.quality.scoring import CLASSIFIER_ASSET as CLASSIFIER, GLOBAL, MODEL_FILES
from curation_assets.common import fail_fast
from curation_assets.annotations import ANNOTATIONS, GLOBAL_SHARD, quality_annotations
from curation_assets.documents import ASSET as DOCUMENTS, documents
from curation_assets.partitions import SHARDS
from curation_assets.settings import PROJECT_ROOT
from resources import QualityResource, StorageResource
from curation.core.tables import CLASSIFIER_META
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
    from curation.llm.annotate import sample_by_hash

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
    if not store.side_exists(CLASSIFIER, GLOBAL, CLASSIFIER_META):
        return None
    with tempfile.TemporaryDirectory(prefix="curation-clf-") as tmp:
        return classifier_meta(store, tmp)


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
    group_name=GROUP_QUALITY,
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
    from curation.quality.recipe import agreement, graded_rows, heldback, labelled_rows, train_stacked

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
            with open(os.path.join(tmp, CLASSIFIER_META), "w") as fh:
                json.dump(meta, fh, indent=1)
            for name in (_model_name(kind), CLASSIFIER_META):
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


def classifier_meta(store, work: str) -> dict:
    """The classifier's evaluation and bucket boundaries (a small JSON; the model is fetched only to score)."""
    with open(store.local_side(CLASSIFIER, GLOBAL, CLASSIFIER_META, work)) as fh:
        return json.load(fh)


def stored_classifier(store, meta: dict, work: str):
    """The trained classifier of ``meta`` (``classifier_meta``), its model file fetched into ``work``."""
    return classifier_scorer(meta["kind"], store.local_side(CLASSIFIER, GLOBAL, _model_name(meta["kind"]), work))
