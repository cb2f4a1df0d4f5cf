"""Extraction (datatrove's readers + extractors): crawl sources (local or S3), WARC/WET/JSONL/Parquet reading,
charset decoding, the page budget, HTML to text (Resiliparse, boilerplate cleaning, Trafilatura) and the
per-shard documents table."""

from curation.core.exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "CrawlSource": "sources",
    "DocumentBuilder": "documents",
    "EXTRACTORS": "html",
    "ExtractionConfig": "html",
    "Extractor": "html",
    "GATE_TAGS": "page_budget",
    "InputConfig": "documents",
    "InputFileError": "documents",
    "SKIP_SELECTORS": "boilerplate",
    "UndecodableError": "html",
    "WarcLimits": "warc",
    "blocks_from_minimal_html": "boilerplate",
    "classify_blocks": "boilerplate",
    "clean_minimal_html": "boilerplate",
    "decode_html": "html",
    "file_opener": "warc",
    "fingerprint": "sources",
    "gzip_member": "warc_writer",
    "is_notice": "boilerplate_phrases",
    "iter_pages": "warc",
    "iter_wet": "warc",
    "record": "warc_writer",
    "render": "boilerplate",
    "response": "warc_writer",
    "split_counts": "documents",
    "too_deep": "page_budget",
    "warc_gz": "warc_writer",
    "warcinfo": "warc_writer",
})
