"""Model loading shared by the stages: sentence embeddings and linear heads, regression and perplexity scorers,
GGUF conversion, devices, and the tokenizers that count training tokens."""

from curation.core.exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "Embedder": "scorers",
    "EmbeddingClassifier": "scorers",
    "LinearHead": "scorers",
    "PerplexityScorer": "scorers",
    "SequenceRegressionScorer": "scorers",
    "converted_gguf": "loading",
    "count_tokens": "tokenizer",
    "default_causal_lm": "loading",
    "default_embedder_path": "loading",
    "device": "loading",
    "load_tokenizer": "tokenizer",
    "quiet": "loading",
    "tokenizer_id": "tokenizer",
})
