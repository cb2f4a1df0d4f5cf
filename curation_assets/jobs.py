"""The jobs of the definitions: one per stage of the graph, for the launchpad and backfills (automation needs
none: it requests the assets themselves)."""

import dagster as dg

from curation_assets.annotations import quality_annotations
from curation_assets.classifier import quality_classifier
from curation_assets.constants import OBSERVE_JOB
from curation_assets.dedup import dedup, dedup_clusters, minhash_signatures
from curation_assets.documents import documents
from curation_assets.labels import benchmark_index, text_labels
from curation_assets.language import language
from curation_assets.mixing import MIXTURE_ASSETS, corpora
from curation_assets.quality import quality
from curation_assets.rewrite import rewrites
from curation_assets.sources import warc_files
from curation_assets.tokens import tokens

curate_shards = dg.define_asset_job(
    "curate_shards", selection=[documents, language, minhash_signatures, tokens],
    description="Extraction, language ID, MinHash signatures and token counts for one snapshot x shard partition.",
)
cluster_snapshot = dg.define_asset_job(
    "cluster_snapshot", selection=[dedup_clusters],
    description="Dedup clusters of one snapshot, from every shard's signatures (after curate_shards).",
)
train_quality_classifier = dg.define_asset_job(
    "train_quality_classifier", selection=[quality_annotations, quality_classifier],
    description="LLM grades of a crawl sample (when configured), then the quality classifier from labelled "
                "examples and a crawl sample (after curate_shards).",
)
label_shards = dg.define_asset_job(
    "label_shards", selection=[dedup, quality],
    description="Per-shard dedup and quality labels (after cluster_snapshot and train_quality_classifier).",
)
rewrite_shards = dg.define_asset_job(
    "rewrite_shards", selection=[rewrites],
    description="LLM rewrites of one snapshot x shard's recoverable documents (after label_shards). Its step is in "
                "the `gpu` concurrency pool: model-bound steps queue for the device while CPU stages run beside.",
    # on Kubernetes (deploy/k8s/values.yaml) the K8sRunLauncher gives this job's run pods a GPU; ignored elsewhere
    tags={"dagster-k8s/config": {"container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}}}}},
)


def dask_job_def():
    """curate_shards with each step on a Dask cluster (dagster-dask; the `prod` and `test` extras). Importing
    dagster-dask costs about 1.7 s, so it is not done on every load of the definitions."""
    from dagster_dask import dask_executor

    return dg.define_asset_job(
        "curate_shards_dask", selection=[documents, language, minhash_signatures], executor_def=dask_executor,
        description="curate_shards with each step run on a Dask cluster (run config: execution.config.cluster, "
                    "e.g. existing.address of a dask-scheduler): scale-out on an existing engine.",
    )


label_text = dg.define_asset_job(
    "label_text", selection=[text_labels],
    description="Contamination, personal-data and blocklist labels of one snapshot x shard partition, its documents "
                "read once (after curate_shards and build_benchmark_index).",
)
build_benchmark_index = dg.define_asset_job(
    "build_benchmark_index", selection=[benchmark_index],
    description="The benchmark n-gram index that the contamination labels match against (resource `labels`).",
)
build_mixture = dg.define_asset_job(
    "build_mixture", selection=[corpora, *MIXTURE_ASSETS],
    description="The training mixture from every stage's labels and the accepted rewrites (after label_shards "
                "and rewrite_shards).",
)
observe_warc_files = dg.define_asset_job(
    OBSERVE_JOB, selection=[warc_files],
    description="Register new snapshots and record a data version (file-list fingerprint) per changed shard.")

JOBS = [curate_shards, cluster_snapshot, train_quality_classifier, label_shards, rewrite_shards, build_benchmark_index,
        label_text, build_mixture, observe_warc_files]
