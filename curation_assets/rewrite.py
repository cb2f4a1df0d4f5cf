"""The rewrites asset: documents that fail the quality decision but sit in a recoverable band (or, for style
rephrasing, documents that pass) rewritten by a language model, checked by rejection rules and by the quality
stage's own scorers, with provenance per document."""


import json
import tempfile
from collections import Counter

import dagster as dg
import numpy as np
import polars as pl
import pyarrow as pa

from curation.llm import prompts
from curation.quality.classifier import bucket_of
from curation.core.fingerprints import digest
from curation.quality.signals import SignalConfig, signals_table
from curation.quality.filters import Thresholds, decide
from curation_assets.constants import GPU_POOL, GROUP_REWRITING, REWRITE_VERSION
from curation_assets import automation
from curation_assets.settings import rewrite_auth
from curation.llm.backends import BackendError, GenerationParams
from curation.llm.chunk_cache import StoreChunkCache
from curation.rewrite.rewriter import RejectionRules, Selection, rewrite_documents, select
from curation.core import tables
from curation_assets.common import fail_fast, RETRY, check_specs, counts_table
from curation_assets.shard_step import shard_step
from curation_assets.dedup import DEDUP, dedup
from curation_assets.documents import ASSET as DOCUMENTS, documents
from curation_assets.language import ASSET as LANGUAGE, language
from curation_assets.partitions import SNAPSHOT_SHARDS, split_key
from curation_assets.classifier import classifier_meta, stored_classifier
from curation_assets.quality import QUALITY, quality
from resources import QualityResource, RewriteResource, StorageResource, make_backend

REWRITES = "rewrites"


def settings(cfg: RewriteResource):
    prompt = prompts.get(cfg.prompt)
    # OpenAI's API has no repetition_penalty (vLLM, SGLang and TGI accept it; `transformers serve` answers 422):
    # sent only when server_repetition_penalty is set, else recorded as 1.0, what the server then applies
    rp = cfg.repetition_penalty if cfg.backend != "openai" or cfg.server_repetition_penalty else 1.0
    params = GenerationParams(cfg.max_new_tokens, cfg.temperature, cfg.top_p, rp, cfg.seed)
    sel = Selection(mode=cfg.mode, min_bucket=cfg.min_bucket, max_bucket=cfg.max_bucket, keep_bucket=cfg.keep_bucket,
                    languages=list(cfg.languages), max_chars=cfg.max_source_chars,
                    max_documents=cfg.max_documents_per_shard)
    sel.validate()
    rules = RejectionRules(min_words=cfg.min_words, min_length_ratio=cfg.min_length_ratio,
                           copy_threshold=cfg.copy_threshold, min_source_overlap=cfg.min_source_overlap,
                           reject_truncated=cfg.reject_truncated)
    return prompt, params, sel, rules


def _candidates(store, snapshot: str, shard: str) -> pl.DataFrame:
    """Every document of the shard with the labels selection decides on (never the text)."""
    lang = pl.from_arrow(store.read(LANGUAGE, snapshot, shard, columns=["id", "language", "language_score"]))
    dd = pl.from_arrow(store.read(DEDUP, snapshot, shard, columns=["id", "keep"]))
    qq = pl.from_arrow(store.read(QUALITY, snapshot, shard, columns=["id", "quality_pass", "quality_reason",
                                                                       "classifier_score", "quality_bucket",
                                                                       "words", "chars"]))
    return lang.join(dd, on="id", how="left").join(qq, on="id", how="left")


def _with_text(store, snapshot: str, shard: str, chosen: pl.DataFrame) -> pl.DataFrame:
    """The chosen rows with their url and text, read for those rows only (in the chosen order)."""
    import pyarrow.compute as pc

    ids = pa.array(chosen["id"].to_list(), pa.string())
    docs = pl.from_arrow(store.read(DOCUMENTS, snapshot, shard, columns=["id", "url", "text"],
                                    filters=pc.field("id").isin(ids)))
    return chosen.join(docs, on="id", how="left", maintain_order="left")


def _md_cell(text: str, n: int = 400) -> str:
    t = " ".join((text or "").split())
    t = t[:n] + (" …" if len(t) > n else "")
    return t.replace("|", "\\|")


@dg.asset(
    pool=GPU_POOL,
    retry_policy=RETRY,
    partitions_def=SNAPSHOT_SHARDS,
    deps=[documents, language, dedup, quality],
    automation_condition=automation.ON_CHANGE,
    code_version=REWRITE_VERSION,
    group_name=GROUP_REWRITING,
    kinds={"pytorch", "parquet"},
    check_specs=check_specs(REWRITES, (("rewrites_scored", "Every rewrite carries the quality stage's verdict."),)),
    description="Documents that fail the quality decision but sit in a recoverable quality band (REWIRE, "
                "Nemotron-CC), or good documents for style rephrasing (WRAP), rewritten by a language model with a "
                "named, versioned prompt; rejected with a reason (empty, refusal, truncated, too short, copy) or "
                "by the quality stage's own heuristics and classifier. Generated chunks are cached.",
)
@fail_fast
def rewrites(context: dg.AssetExecutionContext, storage: StorageResource, rewrite_settings: RewriteResource,
             quality_settings: QualityResource) -> dg.MaterializeResult:
    snapshot, shard = split_key(context)
    store = storage.store()
    infos = [store.require_info(a, snapshot, shard) for a in (DOCUMENTS, LANGUAGE, DEDUP, QUALITY)]
    cfg = rewrite_settings
    prompt, params, sel, rules = settings(cfg)
    backend = make_backend(cfg, auth=rewrite_auth())
    thresholds = Thresholds(**json.loads(quality_settings.thresholds_json or "{}"))
    with tempfile.TemporaryDirectory(prefix="curation-rewrite-") as work:
        clf_meta = classifier_meta(store, work)
        fp = digest(REWRITE_VERSION, [i["fingerprint"] for i in infos], prompt.tag, backend.model_id, params.as_dict(),
                    sel.__dict__, rules.__dict__, cfg.accept_min_bucket, repr(thresholds), clf_meta["fingerprint"],
                    cfg.enabled, cfg.chunk_tokens)

        def compute(_stored):
            cands = _candidates(store, snapshot, shard)
            chosen = _with_text(store, snapshot, shard, select(cands, sel) if cfg.enabled else cands.head(0))
            ids, texts = chosen["id"].to_list(), chosen["text"].to_list()
            context.log.info(f"{snapshot} shard {shard}: {len(ids)} of {cands.height} documents selected for "
                             f"rewriting with {prompt.tag} on {backend.model_id}")
            stats: dict = {}
            cache = StoreChunkCache(store, snapshot, shard)
            try:
                results = rewrite_documents(
                    ids, texts, prompt, backend, params, cfg.chunk_tokens, rules, cache,
                    flush_every=max(cfg.batch_size, cfg.concurrency) * 2, stats=stats,
                    progress=lambda d, n: context.log.info(f"generated {d}/{n} chunks"))
            except BackendError as exc:
                raise dg.Failure(description=f"{snapshot} shard {shard}: {exc}", allow_retries=False) from exc
            out = [r.text for r in results]
            langs = chosen["language"].to_list()
            if results:
                sig = signals_table([r.source_id for r in results], out, langs, SignalConfig()).with_columns(
                    pl.Series("language", langs, dtype=pl.String))
                verdict = decide(sig, thresholds)
                scores = stored_classifier(store, clf_meta, work).score(out)
            else:
                verdict = pl.DataFrame({"quality_pass": [], "quality_reason": []},
                                       schema={"quality_pass": pl.Boolean, "quality_reason": pl.String})
                scores = np.zeros(0, np.float32)
            buckets = bucket_of(scores, clf_meta["deciles"]) if len(scores) else np.zeros(0, np.int8)
            rows, reasons = [], Counter()
            params_json = json.dumps(params.as_dict(), sort_keys=True)
            for k, r in enumerate(results):
                qpass = bool(verdict["quality_pass"][k])
                reason = r.reject_reason
                if reason is None and not qpass:
                    reason = f"quality:{verdict['quality_reason'][k]}"
                if reason is None and int(buckets[k]) < cfg.accept_min_bucket:
                    reason = f"bucket<{cfg.accept_min_bucket}"
                reasons[reason or "accepted"] += 1
                src = chosen.row(k, named=True)
                rows.append({
                    "id": f"{r.source_id}:rw:{prompt.tag}", "source_id": r.source_id, "snapshot": snapshot,
                    "url": src["url"], "language": src["language"], "prompt": prompt.name,
                    "prompt_version": prompt.version, "model": backend.model_id, "params": params_json,
                    "text": r.text, "chunks": r.chunks, "tokens_in": r.tokens_in, "tokens_out": r.tokens_out,
                    "cached_chunks": r.cached_chunks, "seconds": r.seconds, "accepted": reason is None,
                    "reject_reason": reason, "quality_pass": qpass, "quality_reason": verdict["quality_reason"][k],
                    "classifier_score": float(scores[k]), "quality_bucket": int(buckets[k]),
                    "source_quality_reason": src["quality_reason"], "source_classifier_score": src["classifier_score"],
                    "source_quality_bucket": src["quality_bucket"]})
            table = pa.Table.from_pylist(rows, schema=tables.REWRITES)
            gen_s = stats.get("generation_seconds", 0.0)
            samples = [{"url": row["url"], "before": texts[k][:1500], "after": row["text"][:1500],
                        "accepted": row["accepted"], "reason": row["reject_reason"]} for k, row in enumerate(rows[:4])]
            return table, {"candidates": cands.height, "selected": len(ids),
                           "accepted": int(reasons.get("accepted", 0)),
                           "rejected": {k: v for k, v in reasons.items() if k != "accepted"},
                           "chunks": stats.get("chunks", 0), "generated_chunks": stats.get("generated_chunks", 0),
                           "generated_tokens": stats.get("generated_tokens", 0), "generation_seconds": gen_s,
                           "tokens_per_second": stats.get("generated_tokens", 0) / gen_s if gen_s else None,
                           "prompt": prompt.tag, "model": backend.model_id, "backend": cfg.backend,
                           "retries": getattr(backend, "retries", 0), "samples": samples}

        step = shard_step(context, store, REWRITES, snapshot, shard, fp, compute, columns=["id", "quality_pass"])
    info = step.info
    md = ["| | before | after | verdict |", "|---|---|---|---|"]
    for i, s in enumerate(info.get("samples", [])):
        md.append(f"| [{i + 1}]({s['url']}) | {_md_cell(s['before'])} | {_md_cell(s['after'])} | "
                  f"{'accepted' if s['accepted'] else s['reason']} |")
    tps = info.get("tokens_per_second")
    metadata = {
        "prompt": info["prompt"], "model": info["model"], "backend": info["backend"],
        "documents_selected": info["selected"], "documents_accepted": info["accepted"],
        "rejected": counts_table(info["rejected"], ("reason", "rewrites")),
        "chunks_generated": info["generated_chunks"], "chunks_from_cache": info["chunks"] - info["generated_chunks"],
        "tokens_generated": info["generated_tokens"],
        "tokens_per_second": dg.MetadataValue.float(round(tps, 1) if tps else 0.0),
        "samples": dg.MetadataValue.md("\n".join(md) if info.get("samples") else "_no rewrites in this shard_"),
    }
    return step.result(tables.REWRITES, had_input=info.get("selected", 0) > 0, metadata=metadata, checks=[
        dg.AssetCheckResult(check_name="rewrites_scored", passed=step.table.column("quality_pass").null_count == 0)])
