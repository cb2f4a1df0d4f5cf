"""Quality assets: a classifier trained from target examples (one per deployment), and per-shard quality
labels (heuristic signals and verdicts, classifier score, quality bucket, optional model scores)."""

import json
import tempfile
import time
from collections import Counter
import dagster as dg
import numpy as np
import polars as pl
from curation.quality.classifier import bucket_of
from curation.core.fingerprints import digest
from curation.quality.filters import FILTERS, Thresholds, decide
from curation.quality.signals import SignalConfig, quality_schema, signals_table
from curation_assets.constants import GROUP_QUALITY, QUALITY_VERSION
from curation_assets import automation
from curation_assets.common import fail_fast, RETRY, check_specs, counts_table
from curation_assets.documents import ASSET as DOCUMENTS, documents
from curation_assets.language import ASSET as LANGUAGE, language
from curation_assets.partitions import SNAPSHOT_SHARDS, split_key
from curation_assets.shard_step import shard_step
from curation_assets.classifier import classifier_meta, quality_classifier, stored_classifier
from resources import QualityResource, StorageResource

QUALITY = "quality"


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


@dg.asset(
    retry_policy=RETRY,
    partitions_def=SNAPSHOT_SHARDS,
    deps=[documents, language, quality_classifier],
    automation_condition=automation.ON_CHANGE,
    code_version=QUALITY_VERSION,
    group_name=GROUP_QUALITY,
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
        clf_meta = classifier_meta(store, work)
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
            scorer = stored_classifier(store, clf_meta, work)
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
                from curation.models.scorers import SequenceRegressionScorer

                edu = SequenceRegressionScorer(quality_settings.edu_model, batch_size=quality_settings.batch_size).score(texts)
            if quality_settings.perplexity:
                from curation.models.scorers import PerplexityScorer

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
