"""Language-ID asset: labels per document (language, score, top-k); the keep rule is applied downstream."""


from collections import Counter

import dagster as dg
import pyarrow.compute as pc

from curation.core import tables as schema
from curation.core.keep import MIN_LANGUAGE_SCORE
from curation.core.fingerprints import digest, file_identity
from curation.langid.identify import language_table
from curation_assets.constants import LANGUAGE_VERSION, GROUP_CURATION
from curation_assets import automation
from curation_assets.common import fail_fast, RETRY, check_specs, counts_table
from curation_assets.shard_step import shard_step
from curation_assets.documents import ASSET as DOCUMENTS, documents
from curation_assets.partitions import SNAPSHOT_SHARDS, split_key
from resources import LanguageIdResource, StorageResource

ASSET = "language"
FINEWEB_MIN_SCORE = MIN_LANGUAGE_SCORE  # shown in metadata only: the threshold is applied where documents are selected


@dg.asset(
    retry_policy=RETRY,
    partitions_def=SNAPSHOT_SHARDS,
    deps=[documents],
    automation_condition=automation.ON_CHANGE,
    code_version=LANGUAGE_VERSION,
    group_name=GROUP_CURATION,
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
    fp = digest(LANGUAGE_VERSION, docs_info["fingerprint"], cfg, file_identity(cfg.resolved_model_path))

    def compute(_stored):
        docs = store.read(DOCUMENTS, snapshot, shard, columns=["id", "text"])
        table = language_table(docs, langid.identifier())
        scores = table.column("language_score")
        return table, {"languages": dict(Counter(table.column("language").to_pylist())),
                       "models": dict(Counter(table.column("langid_model").to_pylist())),
                       "above_fineweb_threshold": int(pc.sum(pc.greater_equal(scores, FINEWEB_MIN_SCORE)).as_py() or 0),
                       "mean_score": float(pc.mean(scores).as_py() or 0.0)}

    step = shard_step(context, store, ASSET, snapshot, shard, fp, compute)
    info, ids = step.info, step.table.column("id")
    docs = store.read(DOCUMENTS, snapshot, shard, columns=["id"])
    covered = len(ids) == docs.num_rows and pc.all(pc.equal(ids, docs.column("id"))).as_py() in (True, None)
    return step.result(schema.LANGUAGE, had_input=docs.num_rows > 0, metadata={
        "languages": counts_table(info["languages"], ("language", "documents")),
        "distinct_languages": len(info["languages"]),
        "top_language": max(info["languages"], key=info["languages"].get) if info["languages"] else "none",
        "mean_score": dg.MetadataValue.float(round(info["mean_score"], 4)),
        f"score_at_least_{FINEWEB_MIN_SCORE}": info["above_fineweb_threshold"],
        "labelled_by": dg.MetadataValue.json(info["models"]),
    }, checks=[dg.AssetCheckResult(check_name="covers_documents", passed=bool(covered),
                                   metadata={"documents": docs.num_rows, "labels": len(ids)})])
