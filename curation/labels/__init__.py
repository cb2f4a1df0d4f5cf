"""Labels that make the data shippable (issue 23): benchmark contamination, personal data, URL blocklists.

Each is a per-document label table; nothing is dropped here. The mixture applies the decisions (drop a
blocklisted document, cut or drop contaminated text, redact personal data) and ``curation.core.keep`` holds
the rules.
"""

from curation.core.exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "WHEELS": "benchmarks", "BenchmarkSource": "benchmarks", "read_items": "benchmarks", "read_sources": "benchmarks",
    "BLOCKLIST_SCHEMA": "blocklist", "BLOCKLIST_VERSION": "blocklist", "DEFAULT_LISTS": "blocklist",
    "Blocklist": "blocklist", "blocklist_table": "blocklist", "load_blocklist": "blocklist",
    "CONTAMINATION_SCHEMA": "decontaminate", "DECONTAMINATION_VERSION": "decontaminate",
    "Contamination": "decontaminate", "contamination_table": "decontaminate", "scan": "decontaminate",
    "BenchmarkIndex": "index", "IndexParams": "index", "build_index": "index",
    "PII_SCHEMA": "pii", "PII_TYPES": "pii", "PII_VERSION": "pii", "PLACEHOLDERS": "pii", "find_pii": "pii",
    "pii_table": "pii", "redact": "pii",
})
