"""Language-ID asset: labels per document (language, score, top-k); the keep rule is applied downstream."""


import time
from collections import Counter

import dagster as dg
import pyarrow.compute as pc

from curation import schema
from curation.keep import MIN_LANGUAGE_SCORE
from curation.fingerprints import digest, file_identity
from curation.langid import language_table
from curation_assets import automation
from curation_assets.common import fail_fast, RETRY, base_metadata, check_results, check_specs, counts_table
from curation_assets.documents import ASSET as DOCUMENTS, documents
from curation_assets.partitions import SNAPSHOT_SHARDS, split_key
from resources import LanguageIdResource, StorageResource

ASSET = "language"
CODE_VERSION = "language-v2"  # v2: the second opinion is a vote (fastText, py3langid, lingua low-accuracy)
FINEWEB_MIN_SCORE = MIN_LANGUAGE_SCORE  # shown in metadata only: the threshold is applied where documents are selected


@dg.asset(
    retry_policy=RETRY,
    partitions_def=SNAPSHOT_SHARDS,
    deps=[documents],
    automation_condition=automation.ON_CHANGE,
    code_version=CODE_VERSION,
    group_name="curation",
    kinds={"parquet"},
    check_specs=check_specs(ASSET, (("covers_documents", "Exactly one label per document of the shard."),)),
    description="fastText lid.176 language, score and top-k per document, with a second opinion on low scores.",
)
@fail_fast
def language(context: dg.AssetExecutionContext, storage: StorageResource, langid: LanguageIdResource) -> dg.MaterializeResult:
    snapshot, shard = split_key(context)
    store = storage.store()
    docs_info = store.require_info(DOCUMENTS, snapshot, shard)
    cfg = langid.config()
    fp = digest(CODE_VERSION, docs_info["fingerprint"], cfg, file_identity(cfg.resolved_model_path))
    info = store.info(ASSET, snapshot, shard)
    recomputed = not (info and info.get("fingerprint") == fp)
    docs = store.read(DOCUMENTS, snapshot, shard, columns=["id", "text"] if recomputed else ["id"])
    if recomputed:
        t0 = time.perf_counter()
        table = language_table(docs, langid.identifier())
        langs = Counter(table.column("language").to_pylist())
        scores = table.column("language_score")
        info = {"fingerprint": fp, "rows": table.num_rows, "languages": dict(langs),
                "models": dict(Counter(table.column("langid_model").to_pylist())),
                "above_fineweb_threshold": int(pc.sum(pc.greater_equal(scores, FINEWEB_MIN_SCORE)).as_py() or 0),
                "mean_score": float(pc.mean(scores).as_py() or 0.0), "seconds": time.perf_counter() - t0}
        nbytes = store.write(ASSET, snapshot, shard, table, info)
    else:
        context.log.info(f"{snapshot} shard {shard} language labels are up to date; not recomputed")
        table = store.read(ASSET, snapshot, shard)
        nbytes = store.size(ASSET, snapshot, shard)

    ids = table.column("id")
    results = check_results(table.schema, schema.LANGUAGE, ids, had_input=docs.num_rows > 0)
    covered = table.num_rows == docs.num_rows and pc.all(pc.equal(ids, docs.column("id"))).as_py() in (True, None)
    results.append(dg.AssetCheckResult(check_name="covers_documents", passed=bool(covered),
                                       metadata={"documents": docs.num_rows, "labels": table.num_rows}))
    metadata = base_metadata(info, store.url(ASSET, snapshot, shard), recomputed, nbytes)
    metadata.update({
        "languages": counts_table(info["languages"], ("language", "documents")),
        "distinct_languages": len(info["languages"]),
        "top_language": max(info["languages"], key=info["languages"].get) if info["languages"] else "none",
        "mean_score": dg.MetadataValue.float(round(info["mean_score"], 4)),
        f"score_at_least_{FINEWEB_MIN_SCORE}": info["above_fineweb_threshold"],
        "labelled_by": dg.MetadataValue.json(info["models"]),
    })
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(fp), check_results=results)
