"""The Dagster definitions: assets, jobs, sensor, schedule and resources (``dagster dev -w workspace.yaml``)."""


import dagster as dg

from curation_assets.documents import documents
from curation_assets.language import language
from curation_assets.settings import crawl_root, output_base
from curation_assets.sources import warc_files
from resources import CrawlSourceResource, LanguageIdResource, StorageResource
from sensors import JOB_NAME, crawl_sensor, snapshot_schedule

curate_shards = dg.define_asset_job(
    JOB_NAME, selection=[documents, language],
    description="Extraction and language ID for one snapshot x shard partition.",
)
observe_warc_files = dg.define_asset_job("observe_warc_files", selection=[warc_files],
                                         description="Record a data version (file-list fingerprint) per shard.")


def resources() -> dict:
    return {
        "crawl": CrawlSourceResource(root=crawl_root()),
        "storage": StorageResource(base=output_base()),
        "langid": LanguageIdResource(),
    }


defs = dg.Definitions(
    assets=[warc_files, documents, language],
    jobs=[curate_shards, observe_warc_files],
    sensors=[crawl_sensor],
    schedules=[snapshot_schedule],
    resources=resources(),
)
