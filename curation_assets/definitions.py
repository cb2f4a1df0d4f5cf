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
from curation_assets.labels import LABEL_ASSETS, LabelsResource
from curation_assets.rewrite import rewrites
from curation_assets import settings as _settings
from curation_assets.partitions import SHARDS
from curation_assets.sources import warc_files
from curation_assets.tokens import tokens
from resources import CrawlSourceResource, DedupResource, LanguageIdResource, QualityResource, RewriteResource, \
    StorageResource, s3_credentials
from sensors import crawl_sensor, snapshot_schedule
from curation_assets.jobs import JOBS, dask_job_def
from curation_assets.automation import automation_sensor

def _dask_jobs(settings: _settings.Settings) -> list:
    """The Dask job in the UI when CURATION_DASK=1 (a deployment that runs a Dask cluster sets it)."""
    return [dask_job_def()] if settings.dask else []


def dask_shard_job():
    """The resolved Dask job, whatever CURATION_DASK says (for reconstructable(), tests, scripts)."""
    return dg.Definitions(assets=ASSETS, jobs=[dask_job_def()], resources=resources()).resolve_job_def(
        "curate_shards_dask")


ASSETS = [warc_files, documents, language, minhash_signatures, tokens, dedup_clusters, dedup, quality_annotations,
          quality_classifier, quality, rewrites, *LABEL_ASSETS, corpora, *MIXTURE_ASSETS]


def resources(settings: _settings.Settings | None = None, overrides: dict | None = None) -> dict:
    """The resources for ``settings``; ``overrides`` maps a resource name to field values (the CLI's flags)."""
    s, o = settings or _settings.current(), overrides or {}
    return {
        "crawl": CrawlSourceResource(root=s.crawl_root, **{**s3_credentials(), **o.get("crawl", {})}),
        "storage": StorageResource(base=s.output, **{**s3_credentials(), **o.get("storage", {})}),
        "langid": LanguageIdResource(**o.get("langid", {})),
        "dedup_settings": DedupResource(**o.get("dedup_settings", {})),
        "quality_settings": QualityResource(**o.get("quality_settings", {})),
        "labels": LabelsResource(**o.get("labels", {})),
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
        jobs=[*JOBS, *_dask_jobs(s)],
        sensors=[crawl_sensor, automation_sensor()],
        schedules=[snapshot_schedule],
        resources=resources(s, overrides),
        # a run's steps in its own process: a run with nothing to recompute costs one process start, not one per
        # step (Dagster's multiprocess default); runs themselves go in parallel (run queue, `curation run
        # --workers`); a run may ask for several processes (a large mixture's write ops): curation_assets/executor.py
        executor=in_process_or_multiprocess,
    )


defs = build_definitions()
