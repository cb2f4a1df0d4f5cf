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
import pyarrow as pa

from curation.classifier import TrainConfig, bucket_of, classifier_scorer, deciles, evaluate, labelled_examples, \
    read_examples, split_of, train_classifier
from curation.fingerprints import digest, file_identity
from curation.quality import FILTERS, SignalConfig, Thresholds, decide, quality_schema, signals_table
from curation_assets import automation
from curation_assets.common import RETRY, base_metadata, check_results, check_specs, counts_table
from curation_assets.documents import ASSET as DOCUMENTS, documents
from curation_assets.language import ASSET as LANGUAGE, language
from curation_assets.partitions import SHARDS, SNAPSHOT_SHARDS, SNAPSHOTS, split_key
from curation_assets.settings import PROJECT_ROOT
from resources import QualityResource, StorageResource

CLASSIFIER = "quality_classifier"
QUALITY = "quality"
CLASSIFIER_VERSION = "quality-classifier-v1"
QUALITY_VERSION = "quality-v1"
GLOBAL = "_all"  # the classifier's folder under <base>/quality_classifier/
SAMPLE_QUALITY = PROJECT_ROOT / "sample_data" / "quality"
DEFAULT_POSITIVES = [str(SAMPLE_QUALITY / "wikipedia-abstracts-en.jsonl"),
                     str(SAMPLE_QUALITY / "dclm-human-quality-labels.jsonl")]
DEFAULT_EVAL = str(SAMPLE_QUALITY / "dclm-human-quality-labels.jsonl")


def _model_name(kind: str) -> str:
    return "model.bin" if kind == "fasttext" else "head.npz"


def _crawl_sample(store, n: int, seed: int = 0) -> list[str]:
    """Up to ``n`` documents drawn evenly from every materialised documents shard."""
    shards = [(s, sh) for s in store.snapshots(DOCUMENTS) for sh in SHARDS.get_partition_keys()
              if store.info(DOCUMENTS, s, sh)]
    if not shards:
        raise FileNotFoundError("no documents materialised yet: the classifier samples its negatives from them")
    per = max(1, n // len(shards))
    rng = np.random.default_rng(seed)
    out = []
    for s, sh in shards:
        texts = store.read(DOCUMENTS, s, sh, columns=["text"]).column("text").to_pylist()
        if len(texts) > per:
            texts = [texts[i] for i in sorted(rng.choice(len(texts), per, replace=False))]
        out += texts
    return out


@dg.asset(
    deps=[documents],
    automation_condition=automation.ONCE,
    code_version=CLASSIFIER_VERSION,
    group_name="quality",
    kinds={"fasttext"},
    description="A quality classifier trained from target examples (positives) against documents sampled from "
                "the crawl (negatives), with its held-back accuracy, its agreement with human labels, and the "
                "decile boundaries of its score on the crawl sample (the quality buckets).",
)
def quality_classifier(context: dg.AssetExecutionContext, storage: StorageResource,
                       quality_settings: QualityResource) -> dg.MaterializeResult:
    store = storage.store()
    kind = quality_settings.classifier
    positives_paths = quality_settings.positives or DEFAULT_POSITIVES
    eval_path = quality_settings.evaluate_on or (DEFAULT_EVAL if not quality_settings.positives else None)
    t0 = time.perf_counter()
    positives = labelled_examples(positives_paths, label=1, half="train")
    crawl = _crawl_sample(store, quality_settings.crawl_sample)
    negatives = crawl + (labelled_examples(quality_settings.negatives, label=0, half="train")
                         if quality_settings.negatives else [])
    cfg = TrainConfig()
    with tempfile.TemporaryDirectory(prefix="curation-clf-") as tmp:
        local = os.path.join(tmp, _model_name(kind))
        report = train_classifier(kind, positives, negatives, local, cfg)
        scorer = classifier_scorer(kind, local)
        crawl_scores = scorer.score(crawl)
        boundaries = deciles(crawl_scores)
        human = {}
        if eval_path:
            rows = [r for r in read_examples(eval_path) if "label" in r and split_of(r["text"], 0.5) == "holdout"]
            human = evaluate(scorer, [r["text"] for r in rows], [int(r["label"]) == 1 for r in rows])
            unanimous = [r for r in rows if r.get("annotators_unanimous")]
            if unanimous:
                human["unanimous"] = evaluate(scorer, [r["text"] for r in unanimous],
                                              [int(r["label"]) == 1 for r in unanimous])
        meta = {"kind": kind, "deciles": boundaries, "report": report, "human_labels": human,
                "positives": positives_paths, "negatives": quality_settings.negatives,
                "crawl_documents": len(crawl), "train_config": cfg.__dict__, "seconds": time.perf_counter() - t0}
        meta["fingerprint"] = digest(CLASSIFIER_VERSION, meta["report"], boundaries, kind, positives_paths)
        with open(os.path.join(tmp, "classifier.json"), "w") as fh:
            json.dump(meta, fh, indent=1)
        for name in (_model_name(kind), "classifier.json"):
            src = os.path.join(tmp, name)
            store.put_side(CLASSIFIER, GLOBAL, name, src)
    hold = report["holdout"]
    return dg.MaterializeResult(
        metadata={
            "classifier": kind,
            "holdout_accuracy": dg.MetadataValue.float(hold.get("accuracy", float("nan"))),
            "holdout_roc_auc": dg.MetadataValue.float(hold.get("roc_auc", float("nan"))),
            "human_label_accuracy": dg.MetadataValue.float(human.get("accuracy", float("nan"))),
            "human_label_roc_auc": dg.MetadataValue.float(human.get("roc_auc", float("nan"))),
            "training": dg.MetadataValue.json(report["train"]),
            "crawl_documents_sampled": len(crawl),
            "bucket_boundaries": dg.MetadataValue.json([round(b, 4) for b in boundaries]),
            "model": dg.MetadataValue.path(store.side_url(CLASSIFIER, GLOBAL, _model_name(kind))),
            "fingerprint": meta["fingerprint"],
        },
        data_version=dg.DataVersion(meta["fingerprint"]),
    )


def _info(df, fp, scores_fp, t0, t_sig, urls, scores, ppl, rescored=True, perplexity_median=None) -> dict:
    reasons = Counter(df["quality_reason"].drop_nulls().to_list())
    sample_url = {}
    for r, u in zip(df["quality_reason"].to_list(), urls):
        if r and r not in sample_url:
            sample_url[r] = u
    return {
        "fingerprint": fp, "scores_fingerprint": scores_fp, "rows": df.height, "models_run": rescored,
        "seconds": time.perf_counter() - t0, "signal_seconds": t_sig,
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
        info = store.info(QUALITY, snapshot, shard)
        recomputed = not (info and info.get("fingerprint") == fp)
        if recomputed and info and info.get("scores_fingerprint") == scores_fp:
            # only the thresholds changed: re-apply them to the stored signals, run no model
            t0 = time.perf_counter()
            old = pl.from_arrow(store.read(QUALITY, snapshot, shard))
            langs = store.read(LANGUAGE, snapshot, shard, columns=["id", "language"])
            old = old.join(pl.from_arrow(langs), on="id", how="left", maintain_order="left")
            keep = [c for c in old.columns if not c.endswith(("_pass", "_reason"))]
            df = decide(old.select(keep), thresholds)
            table = df.select([f.name for f in quality_schema()]).to_arrow().cast(quality_schema())
            urls = store.read(DOCUMENTS, snapshot, shard, columns=["url"]).column("url").to_pylist()
            info = _info(df, fp, scores_fp, t0, 0.0, urls, df["classifier_score"].to_numpy(), None,
                         rescored=False, perplexity_median=info.get("perplexity_median"))
            nbytes = store.write(QUALITY, snapshot, shard, table, info)
        elif recomputed:
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
            scores = scorer.score(texts) if texts else np.zeros(0, np.float32)
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
            info = _info(df, fp, scores_fp, t0, t_sig, docs.column("url").to_pylist(), scores, ppl)
            nbytes = store.write(QUALITY, snapshot, shard, table, info)
        else:
            context.log.info(f"{snapshot} shard {shard} quality labels are up to date; not recomputed")
            table = store.read(QUALITY, snapshot, shard, columns=["id"])
            nbytes = store.size(QUALITY, snapshot, shard)
    results = check_results(store.schema(QUALITY, snapshot, shard), quality_schema(), table.column("id"),
                            had_input=docs_info.get("rows", 0) > 0)
    results.append(dg.AssetCheckResult(check_name="covers_documents", passed=table.num_rows == docs_info.get("rows"),
                                       metadata={"documents": docs_info.get("rows"), "rows": table.num_rows}))
    metadata = base_metadata(info, store.url(QUALITY, snapshot, shard), recomputed, nbytes)
    top = sorted(info["reasons"].items(), key=lambda kv: -kv[1])[:10]
    md = ["| first failing rule | documents | sample URL |", "|---|---:|---|"]
    md += [f"| `{r}` | {n:,} | {info['sample_url'].get(r) or ''} |" for r, n in top]
    metadata.update({
        "pass_rate": dg.MetadataValue.json({k: round(v, 4) for k, v in info["pass_rate"].items()}),
        "passes_all_filters": round(info["pass_rate"]["quality"], 4),
        "drop_reasons": dg.MetadataValue.md("\n".join(md) if top else "_none_"),
        "quality_buckets": counts_table(info["buckets"], ("bucket (crawl decile of the classifier score)", "documents")),
        "classifier_mean_score": dg.MetadataValue.float(round(info["classifier_mean"], 4)),
        "models_run": info.get("models_run", True),
    })
    if info.get("perplexity_median") is not None:
        metadata["perplexity_median"] = dg.MetadataValue.float(round(info["perplexity_median"], 2))
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(fp), check_results=results)
