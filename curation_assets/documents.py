"""Extraction asset: one shard's WARC files -> documents table (text written once, here)."""


import dagster as dg

from curation.core import tables as schema
from curation.extract.documents import DocumentBuilder, InputConfig, InputFileError, split_counts
from curation.extract.html import ExtractionConfig
from curation.core.fingerprints import digest
from curation.extract.sources import fingerprint
from curation.extract.warc import WarcLimits
from curation_assets.constants import DOCUMENTS_VERSION, GROUP_CURATION
from curation_assets import automation
from curation_assets.common import fail_fast, RETRY, check_specs, counts_table
from curation_assets.shard_step import shard_step
from curation_assets.partitions import SNAPSHOT_SHARDS, split_key
from curation_assets.settings import num_shards
from curation_assets.sources import warc_files
from resources import CrawlSourceResource, StorageResource

ASSET = "documents"


class ExtractionRunConfig(dg.Config):
    """Run options for extraction (part of each shard's fingerprint: changing one re-extracts)."""

    extractor: str = ExtractionConfig.extractor  # "resiliparse+clean"; or "resiliparse", "trafilatura" (FineWeb's)
    min_text_chars: int = ExtractionConfig.min_text_chars
    # 1.0: off (the default); 0.35: pages the cleaner cuts by over 35% go to Trafilatura (docs/stages/extraction.md)
    cascade_bad_share: float = ExtractionConfig.cascade_bad_share
    max_payload_bytes: int = WarcLimits.max_payload_bytes
    text_column: str = InputConfig.text_column  # for JSONL / Parquet inputs
    force: bool = False  # recompute even when the stored fingerprint matches


@dg.asset(
    retry_policy=RETRY,
    partitions_def=SNAPSHOT_SHARDS,
    deps=[warc_files],
    automation_condition=automation.ON_CHANGE,
    code_version=DOCUMENTS_VERSION,
    group_name=GROUP_CURATION,
    kinds={"parquet"},
    check_specs=check_specs(ASSET, extra=(("inputs_readable", "Every input file of the shard could be read "
                                           "(warns and names the files that could not; the shard completes)."),)),
    description="Main text of every HTTP 200 HTML response (Resiliparse + boilerplate removal by default), one row per document.",
)
@fail_fast
def documents(context: dg.AssetExecutionContext, config: ExtractionRunConfig, crawl: CrawlSourceResource,
              storage: StorageResource) -> dg.MaterializeResult:
    snapshot, shard = split_key(context)
    source, store = crawl.source(), storage.store()
    files = source.files_by_shard(snapshot, num_shards())[shard]
    extraction = ExtractionConfig(extractor=config.extractor, min_text_chars=config.min_text_chars,
                                  cascade_bad_share=config.cascade_bad_share)
    inputs = InputConfig(text_column=config.text_column, limits=WarcLimits(max_payload_bytes=config.max_payload_bytes))
    fp = digest(DOCUMENTS_VERSION, fingerprint(files), extraction, inputs)

    def compute(_stored):
        context.log.info(f"extracting {len(files)} files of {snapshot} shard {shard}")
        unreadable: list[str] = []

        def on_unreadable(f, why: str) -> None:
            context.log.warning(why)
            unreadable.append(why)

        try:
            table, counts = DocumentBuilder(source, extraction, inputs).build(
                snapshot, shard, files, on_file=lambda f, n: context.log.debug(f"{f.path}: {n} documents"),
                on_unreadable=on_unreadable)
        except InputFileError as exc:  # a missing input does not heal on retry
            raise dg.Failure(description=str(exc), allow_retries=False) from exc
        dropped, notes = split_counts(counts)
        return table, {"files_fingerprint": fingerprint(files), "records_in": counts["records_in"],
                       "dropped": dropped, "notes": notes, "input_files": len(files),
                       "input_bytes": sum(f.size or 0 for f in files), "extractor": extraction.extractor,
                       "unreadable_files": unreadable}

    step = shard_step(context, store, ASSET, snapshot, shard, fp, compute, force=config.force)
    info = step.info
    metadata = {
        "records_in": info["records_in"],
        "documents_out": info["rows"],
        "dropped": counts_table(info["dropped"]),
        "dropped_total": sum(info["dropped"].values()),
        "notes": dg.MetadataValue.json(info["notes"]),
        "input_files": info["input_files"],
        "input_bytes": dg.MetadataValue.int(info["input_bytes"]),
        "extractor": info["extractor"],
    }
    return step.result(schema.DOCUMENTS, had_input=bool(files), metadata=metadata, checks=[
        dg.AssetCheckResult(check_name="inputs_readable", passed=not info.get("unreadable_files"),
                            severity=dg.AssetCheckSeverity.WARN,
                            description="; ".join(info.get("unreadable_files", [])) or None,
                            metadata={"unreadable_files": dg.MetadataValue.json(info.get("unreadable_files", []))})])

