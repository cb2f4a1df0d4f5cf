"""Names the Dagster side shares: asset groups, concurrency pools, job names and each asset's code version.

A code version is part of its asset's fingerprints: bump it when the asset's output changes for the same
inputs, and every stored partition of it (and what depends on it) is recomputed; leave it when only the code's
layout changes. Table (asset) names are in ``curation.core.tables``.
"""

# groups in the UI's asset graph
GROUP_CRAWL = "crawl"
GROUP_CURATION = "curation"
GROUP_DEDUP = "dedup"
GROUP_QUALITY = "quality"
GROUP_REWRITING = "rewriting"
GROUP_MIXING = "mixing"
GROUP_LABELS = "labels"

#: the concurrency pool of model-bound steps: deploy/dagster.yaml limits it, so they run one at a time per device
GPU_POOL = "gpu"

OBSERVE_JOB = "observe_warc_files"

# code versions
# documents v4: class-token skip rules, the emptying guard and the Trafilatura cascade; v5: the extractor column
# says "trafilatura" where the guard or the cascade took Trafilatura's text, WHATWG charset labels (ISO-8859-1 read
# as windows-1252...; valid UTF-8 as UTF-8), soft hyphens and other invisible characters removed from the default's
# text, Trafilatura deduplicates within a page only (its text no longer depends on the pages a worker read before)
DOCUMENTS_VERSION = "documents-v5"
LANGUAGE_VERSION = "language-v3"  # v2: the second opinion is a vote (fastText, py3langid, lingua low-accuracy); v3: lingua over the candidates only
TOKENS_VERSION = "tokens-v1"
SIGNATURES_VERSION = "minhash-signatures-v2"  # v2: signatures stored for the candidate check
CLUSTERS_VERSION = "dedup-clusters-v1"
DEDUP_VERSION = "dedup-v1"
ANNOTATION_VERSION = "quality-annotations-v1"
CLASSIFIER_VERSION = "quality-classifier-v2"
QUALITY_VERSION = "quality-v1"
REWRITE_VERSION = "rewrites-v1"
CORPORA_VERSION = "corpora-v2"
MIXTURE_VERSION = "mixture-v2"
