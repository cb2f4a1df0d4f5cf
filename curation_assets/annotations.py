"""The quality_annotations asset: a language model grades a sample of the crawl with a named, versioned rubric
(FineWeb-Edu's additive 0-5 prompt), through the rewriting backends (local transformers or an
OpenAI-compatible server); grades, parse failures and the raw answers are stored, generations cached."""


from collections import Counter

import dagster as dg
import pyarrow as pa

from curation.llm import prompts
from curation.llm.annotate import annotate, id_fraction, sample_by_hash
from curation.llm.backends import BackendError, GenerationParams
from curation.llm.chunk_cache import StoreChunkCache
from curation.core.fingerprints import digest
from curation_assets.constants import ANNOTATION_VERSION, GPU_POOL, GROUP_QUALITY
from curation_assets import automation
from curation_assets.settings import rewrite_auth
from curation.core import tables
from curation_assets.common import fail_fast
from curation_assets.shard_step import shard_step
from curation_assets.documents import ASSET as DOCUMENTS, documents
from curation_assets.partitions import SHARDS
from resources import QualityResource, RewriteResource, StorageResource, make_backend
from curation.core.tables import GLOBAL_PARTITION

ANNOTATIONS = "quality_annotations"
GLOBAL, GLOBAL_SHARD = GLOBAL_PARTITION, "sample"


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
    pool=GPU_POOL,
    deps=[documents],
    automation_condition=automation.ONCE,
    code_version=ANNOTATION_VERSION,
    group_name=GROUP_QUALITY,
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

    def compute(_stored):
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
             "prompt": prompt.tag, "model": model_id} for r, g in zip(rows, grades)], schema=tables.ANNOTATIONS)
        counts = Counter("unparsed" if g.grade is None else str(g.grade) for g in grades)
        return table, {"grades": dict(counts), "prompt": prompt.tag, "model": model_id,
                       "generated": sum(not g.cached for g in grades)}

    step = shard_step(context, store, ANNOTATIONS, GLOBAL, GLOBAL_SHARD, fp, compute, columns=())
    info = step.info
    n = info.get("rows", 0)
    failures = info["grades"].get("unparsed", 0)
    lines = ["| grade | documents |", "|---|---:|"] + [f"| {k} | {v} |" for k, v in sorted(info["grades"].items())]
    return step.result(None, metadata={
        "prompt": info["prompt"], "model": str(info["model"]), "documents_graded": n, "parse_failures": failures,
        "parse_failure_rate": dg.MetadataValue.float(round(failures / n, 4) if n else 0.0),
        "generated": info.get("generated", 0), "grades": dg.MetadataValue.md("\n".join(lines))})
