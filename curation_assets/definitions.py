"""The Dagster definitions: assets, jobs, sensor, schedule and resources (``dagster dev -w workspace.yaml``).

``defs`` is built from the environment's settings; ``build_definitions(settings, resources)`` builds them for
explicit settings (the ``curation`` CLI installs its settings with ``settings.use()`` before importing this).
"""


import dagster as dg

from curation_assets.annotations import quality_annotations
from curation_assets.dedup import dedup, dedup_clusters, minhash_signatures
from curation_assets.documents import documents
from curation_assets.executor import in_process_or_multiprocess
from curation_assets.mixing import MIXTURE_ASSETS, corpora
from curation_assets.classifier import quality_classifier
from curation_assets.quality import quality
from curation_assets.language import language
from curation_assets.rewrite import rewrites
from curation_assets import settings as _settings
from curation_assets.partitions import SHARDS
from curation_assets.sources import warc_files
from curation_assets.tokens import tokens
from resources import CrawlSourceResource, DedupResource, LanguageIdResource, QualityResource, RewriteResource, \
    StorageResource, s3_credentials
from sensors import OBSERVE_JOB, crawl_sensor, snapshot_schedule
from curation_assets.automation import automation_sensor

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


def _dask_job_def():
    """curate_shards with each step on a Dask cluster (dagster-dask; the `prod` and `test` extras). Importing
    dagster-dask costs about 1.7 s, so it is not done on every load of the definitions."""
    from dagster_dask import dask_executor

    return dg.define_asset_job(
        "curate_shards_dask", selection=[documents, language, minhash_signatures], executor_def=dask_executor,
        description="curate_shards with each step run on a Dask cluster (run config: execution.config.cluster, "
                    "e.g. existing.address of a dask-scheduler): scale-out on an existing engine.",
    )


def _dask_jobs(settings: _settings.Settings) -> list:
    """The Dask job in the UI when CURATION_DASK=1 (a deployment that runs a Dask cluster sets it)."""
    return [_dask_job_def()] if settings.dask else []


def dask_shard_job():
    """The resolved Dask job, whatever CURATION_DASK says (for reconstructable(), tests, scripts)."""
    return dg.Definitions(assets=ASSETS, jobs=[_dask_job_def()], resources=resources()).resolve_job_def(
        "curate_shards_dask")


build_mixture = dg.define_asset_job(
    "build_mixture", selection=[corpora, *MIXTURE_ASSETS],
    description="The training mixture from every stage's labels and the accepted rewrites (after label_shards "
                "and rewrite_shards).",
)
observe_warc_files = dg.define_asset_job(
    OBSERVE_JOB, selection=[warc_files],
    description="Register new snapshots and record a data version (file-list fingerprint) per changed shard.")


ASSETS = [warc_files, documents, language, minhash_signatures, tokens, dedup_clusters, dedup, quality_annotations,
          quality_classifier, quality, rewrites, corpora, *MIXTURE_ASSETS]


def resources(settings: _settings.Settings | None = None, overrides: dict | None = None) -> dict:
    """The resources for ``settings``; ``overrides`` maps a resource name to field values (the CLI's flags)."""
    s, o = settings or _settings.current(), overrides or {}
    return {
        "crawl": CrawlSourceResource(root=s.crawl_root, **{**s3_credentials(), **o.get("crawl", {})}),
        "storage": StorageResource(base=s.output, **{**s3_credentials(), **o.get("storage", {})}),
        "langid": LanguageIdResource(**o.get("langid", {})),
        "dedup_settings": DedupResource(**o.get("dedup_settings", {})),
        "quality_settings": QualityResource(**o.get("quality_settings", {})),
        "rewrite_settings": RewriteResource(**{"max_documents_per_shard": s.rewrite_max_documents,
                                               "max_source_chars": s.rewrite_max_chars,
                                               **o.get("rewrite_settings", {})}),
    }


def build_definitions(settings: _settings.Settings | None = None, overrides: dict | None = None) -> dg.Definitions:
    """The definitions for ``settings`` (default: the environment's). The shard count is fixed when the
    partitions are imported, so ``settings`` must carry the same count as ``settings.current()``."""
    s = settings or _settings.current()
    if len(SHARDS.get_partition_keys()) != s.num_shards:
        raise _settings.SettingsError(
            f"the partitions were built for {len(SHARDS.get_partition_keys())} shards, not {s.num_shards}: "
            "call curation_assets.settings.use() before importing curation_assets")
    return dg.Definitions(
        assets=ASSETS,
        jobs=[curate_shards, *_dask_jobs(s), cluster_snapshot, train_quality_classifier, label_shards,
              rewrite_shards, build_mixture, observe_warc_files],
        sensors=[crawl_sensor, automation_sensor()],
        schedules=[snapshot_schedule],
        resources=resources(s, overrides),
        # a run's steps in its own process: a run with nothing to recompute costs one process start, not one per
        # step (Dagster's multiprocess default); runs themselves go in parallel (run queue, `curation run
        # --workers`); a run may ask for several processes (a large mixture's write ops): curation_assets/executor.py
        executor=in_process_or_multiprocess,
    )


defs = build_definitions()
