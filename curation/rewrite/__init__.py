"""LLM rewriting of low-quality documents (REWIRE, WRAP, Nemotron-CC): selection, chunking, generation and
rejection rules."""

from curation.core.exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "RejectionRules": "rewriter",
    "Selection": "rewriter",
    "chunk_text": "rewriter",
    "copy_share": "rewriter",
    "reject_reason": "rewriter",
    "rewrite_documents": "rewriter",
    "select": "rewriter",
    "source_overlap": "rewriter",
})
