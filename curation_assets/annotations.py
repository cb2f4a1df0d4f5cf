"""The quality_annotations asset: a language model grades a sample of the crawl with a named, versioned rubric
(FineWeb-Edu's additive 0-5 prompt), through the rewriting backends (local transformers or an
OpenAI-compatible server); grades, parse failures and the raw answers are stored, generations cached."""


import time
from collections import Counter

import dagster as dg
import pyarrow as pa

from curation.llm import prompts
from curation.llm.annotate import annotate, id_fraction, sample_by_hash
from curation.llm.backends import BackendError, GenerationParams
from curation.llm.chunk_cache import StoreChunkCache
from curation.core.fingerprints import digest
from curation_assets import automation
from curation_assets.settings import rewrite_auth
from curation_assets.common import fail_fast
from curation_assets.documents import ASSET as DOCUMENTS, documents
from curation_assets.partitions import SHARDS
from resources import QualityResource, RewriteResource, StorageResource
from resources.backends import make_backend

ANNOTATIONS = "quality_annotations"
ANNOTATION_VERSION = "quality-annotations-v1"
GLOBAL, GLOBAL_SHARD = "_all", "sample"
POOL = "gpu"


def annotations_schema() -> pa.Schema:
    return pa.schema([pa.field("id", pa.string(), nullable=False), pa.field("snapshot", pa.string()),
                      pa.field("url", pa.string()), pa.field("text", pa.string()), pa.field("grade", pa.int8()),
                      pa.field("parsed", pa.bool_()), pa.field("answer", pa.string()),
                      pa.field("finish_reason", pa.string()), pa.field("prompt", pa.string()),
                      pa.field("model", pa.string())],
                     metadata={"description": "LLM grades (0-5) of a crawl sample, with the raw answers."})


def _sample(store, n: int) -> tuple[list[dict], list[str]]:
    """About ``n`` documents of every snapshot chosen by id hash (rows: id, snapshot, url, text)."""
    shards = [(s, sh, i) for s in store.snapshots(DOCUMENTS) for sh in SHARDS.get_partition_keys()
              if (i := store.info(DOCUMENTS, s, sh))]
    # draw about twice what is needed by id hash, then keep the n lowest hashes: the same n at any sharding
    rate = min(1.0, 2 * n / max(1, sum(i.get("rows", 0) for *_, i in shards)) + 1e-3) if n > 0 else 0.0
    rows = []
    for s, sh, _ in shards:
        ids = store.read(DOCUMENTS, s, sh, columns=["id"]).column("id").to_pylist()
        chosen = [ids[k] for k in sample_by_hash(ids, rate)]
        if chosen:
            t = store.read(DOCUMENTS, s, sh, columns=["id", "url", "text"], filters=[("id", "in", chosen)])
            rows += [dict(r, snapshot=s) for r in t.to_pylist()]
    rows.sort(key=lambda r: id_fraction(r["id"]))
    return rows[:n] if n > 0 else [], [i["fingerprint"] for *_, i in shards]


@dg.asset(
    pool=POOL,
    deps=[documents],
    automation_condition=automation.ONCE,
    code_version=ANNOTATION_VERSION,
    group_name="quality",
    kinds={"pytorch", "parquet"},
    description="A sample of the crawl graded by a language model with a named, versioned rubric prompt "
                "(FineWeb-Edu's additive 0-5 score): grade, parse failures and raw answers per document. The "
                "quality classifier can train on these grades (quality_settings.train_on_annotations).",
)
@fail_fast
def quality_annotations(context: dg.AssetExecutionContext, storage: StorageResource, quality_settings: QualityResource,
                        rewrite_settings: RewriteResource) -> dg.MaterializeResult:

    store = storage.store()
    qs = quality_settings
    prompt = prompts.get(qs.annotation_prompt)
    params = GenerationParams(max_new_tokens=qs.annotation_max_new_tokens, temperature=0.0,
                              repetition_penalty=rewrite_settings.repetition_penalty)
    backend = make_backend(rewrite_settings, auth=rewrite_auth()) if qs.annotation_documents > 0 else None
    rows, doc_fps = _sample(store, qs.annotation_documents)
    model_id = backend.model_id if backend else None
    fp = digest(ANNOTATION_VERSION, prompt.tag, model_id, params.as_dict(), qs.annotation_max_chars,
                qs.annotation_documents, doc_fps)
    info = store.info(ANNOTATIONS, GLOBAL, GLOBAL_SHARD)
    recomputed = not (info and info.get("fingerprint") == fp)
    if recomputed:
        t0 = time.perf_counter()
        grades = []
        if rows:
            cache = StoreChunkCache(store, GLOBAL, GLOBAL_SHARD, asset="annotation_cache")
            try:
                grades = annotate([r["id"] for r in rows], [r["text"] for r in rows], prompt, backend, params, cache,
                                  max_chars=qs.annotation_max_chars,
                                  progress=lambda d, n: context.log.info(f"graded {d}/{n} documents"))
            except BackendError as exc:
                raise dg.Failure(description=f"annotation: {exc}", allow_retries=False) from exc
        table = pa.Table.from_pylist([
            {"id": r["id"], "snapshot": r["snapshot"], "url": r["url"], "text": r["text"], "grade": g.grade,
             "parsed": g.grade is not None, "answer": g.answer, "finish_reason": g.finish_reason,
             "prompt": prompt.tag, "model": model_id} for r, g in zip(rows, grades)], schema=annotations_schema())
        counts = Counter("unparsed" if g.grade is None else str(g.grade) for g in grades)
        info = {"fingerprint": fp, "rows": len(grades), "grades": dict(counts), "prompt": prompt.tag,
                "model": model_id, "generated": sum(not g.cached for g in grades),
                "seconds": time.perf_counter() - t0}
        store.write(ANNOTATIONS, GLOBAL, GLOBAL_SHARD, table, info)
    else:
        context.log.info("annotations are up to date; not regenerated")
    n = info.get("rows", 0)
    failures = info["grades"].get("unparsed", 0)
    lines = ["| grade | documents |", "|---|---:|"] + [f"| {k} | {v} |" for k, v in sorted(info["grades"].items())]
    return dg.MaterializeResult(
        metadata={"recomputed": recomputed, "prompt": info["prompt"], "model": str(info["model"]),
                  "documents_graded": n, "parse_failures": failures,
                  "parse_failure_rate": dg.MetadataValue.float(round(failures / n, 4) if n else 0.0),
                  "generated": info.get("generated", 0), "grades": dg.MetadataValue.md("\n".join(lines)),
                  "path": dg.MetadataValue.path(store.url(ANNOTATIONS, GLOBAL, GLOBAL_SHARD)),
                  "fingerprint": fp},
        data_version=dg.DataVersion(fp))
