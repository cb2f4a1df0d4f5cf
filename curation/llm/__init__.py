"""Language-model generation shared by rewriting and annotation: backends (local transformers or an
OpenAI-compatible server), versioned prompts, the generation cache and LLM quality grades."""

from curation.core.exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "Backend": "backends",
    "BackendError": "backends",
    "ChunkCache": "chunk_cache",
    "GenerationParams": "backends",
    "MemoryCache": "chunk_cache",
    "OpenAIBackend": "backends",
    "Prompt": "prompts",
    "StoreChunkCache": "chunk_cache",
    "TransformersBackend": "backends",
    "annotate": "annotate",
    "cache_key": "chunk_cache",
    "clean_output": "prompts",
    "id_fraction": "annotate",
    "parse_grade": "annotate",
    "sample_by_hash": "annotate",
})
