"""Rewriting documents with a language model (REWIRE, WRAP, Nemotron-CC): selection, chunking, generation through
a local transformers model or an OpenAI-compatible server, rejection rules, and a cache of generations.

The unit of generation is a *chunk*: a document longer than ``chunk_tokens`` is cut at paragraph (then sentence,
then word) boundaries, each chunk is rewritten on its own, and the rewrites are joined back in order. The cache
holds chunks keyed by (prompt name and version, model id, generation parameters, chunk text), so a rerun, a
resumed run or a second document containing the same chunk never generates it twice.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Callable

from curation.llm.backends import Backend, GenerationParams
from curation.llm.chunk_cache import ChunkCache, cache_key
from curation.core import keep
from curation.llm.prompts import Prompt, clean_output


# --------------------------------------------------------------------------------------------------- chunking

_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+")


def _word_windows(words: list[str], n_tokens: int, max_tokens: int, count) -> list[tuple[str, int]]:
    """Runs of words of at most ``max_tokens`` tokens (estimated, then checked: a run over the limit is halved)."""
    step = max(1, int(len(words) * max_tokens / max(n_tokens, 1) * 0.9))
    runs = [words[i:i + step] for i in range(0, len(words), step)]
    out = []
    for run, n in zip(runs, count([" ".join(r) for r in runs])):
        if n <= max_tokens or len(run) == 1:
            out.append((" ".join(run), n))
        else:
            half = len(run) // 2
            out += _word_windows(run[:half], n // 2, max_tokens, count)
            out += _word_windows(run[half:], n - n // 2, max_tokens, count)
    return out


def chunk_text(text: str, max_tokens: int, count: Callable[[list[str]], list[int]]) -> list[str]:
    """Pieces of ``text`` of at most ``max_tokens`` tokens each, cut at line breaks, else at sentence ends,
    else between words; consecutive pieces are packed together up to the limit. Joining the pieces with
    newlines gives back the text's words in order."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return []
    units: list[tuple[str, int]] = []
    for line, n in zip(lines, count(lines)):
        if n <= max_tokens:
            units.append((line, n))
            continue
        sentences = [s for s in _SENTENCE.split(line) if s]
        for sent, m in zip(sentences, count(sentences)):
            if m <= max_tokens:
                units.append((sent, m))
                continue
            units += _word_windows(sent.split(), m, max_tokens, count)
    chunks, cur, cur_n = [], [], 0
    for unit, n in units:
        if cur and cur_n + n + 1 > max_tokens:
            chunks.append("\n".join(cur))
            cur, cur_n = [], 0
        cur.append(unit)
        cur_n += n + 1
    if cur:
        chunks.append("\n".join(cur))
    return chunks


# --------------------------------------------------------------------------------------------------- rejection

REFUSAL = re.compile(
    r"^\s*(?:i'?m sorry|i am sorry|sorry,|i apologi[sz]e|i cannot|i can'?t|i can not|i'?m unable|i am unable|"
    r"i'?m not able|i am not able|i won'?t|i will not|as an ai\b|as a language model)", re.IGNORECASE)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class RejectionRules:
    min_words: int = 30  # a rewrite shorter than this is "too_short" whatever its source
    min_length_ratio: float = 0.2  # ... or shorter than this fraction of the source's words
    copy_threshold: float = 0.9  # "copy" when this share of the rewrite's word 3-grams is in the source
    reject_truncated: bool = True  # a chunk cut at max_new_tokens leaves a truncated ending
    min_source_overlap: float = 0.5  # "unfaithful" when fewer of the rewrite's content words occur in the source


def _trigrams(text: str) -> set[tuple[str, ...]]:
    w = [x.lower() for x in _WORD.findall(text)]
    return {tuple(w[i:i + 3]) for i in range(len(w) - 2)}


def copy_share(source: str, rewrite: str) -> float:
    """The share of the rewrite's word 3-grams that occur in the source (1.0: the rewrite only copies)."""
    out = _trigrams(rewrite)
    return len(out & _trigrams(source)) / len(out) if out else 0.0


_STOP = frozenset(
    "about above after again against also among because been before being below between both could does doing "
    "down during each every from further have having here into itself just more most much must never once only "
    "other over same should some such than that their theirs them then there these they this those through under "
    "until upon very were what when where which while whom will with within without would your yours".split())


def _content_words(text: str) -> list[str]:
    return [w for w in (x.lower() for x in _WORD.findall(text)) if (len(w) >= 4 or w.isdigit()) and w not in _STOP]


def source_overlap(source: str, rewrite: str) -> float:
    """The share of the rewrite's content words (4+ letters, not stop words; numbers) found in the source: a
    cheap faithfulness check (a rewrite that invents names, places and numbers scores low)."""
    out = _content_words(rewrite)
    if not out:
        return 0.0
    src = set(_content_words(source))
    return sum(w in src for w in out) / len(out)


def reject_reason(source: str, rewrite: str, finish_reasons: list[str], rules: RejectionRules) -> str | None:
    """Why a rewrite is unusable, or None: empty, refusal, truncated, too_short, copy, unfaithful (checked in that
    order)."""
    text = rewrite.strip()
    if not text:
        return "empty"
    if REFUSAL.match(text):
        return "refusal"
    if rules.reject_truncated and "length" in finish_reasons:
        return "truncated"
    n_out, n_src = len(_WORD.findall(text)), len(_WORD.findall(source))
    if n_out < max(rules.min_words, rules.min_length_ratio * n_src):
        return "too_short"
    if copy_share(source, text) >= rules.copy_threshold:
        return "copy"
    if source_overlap(source, text) < rules.min_source_overlap:
        return "unfaithful"
    return None


# --------------------------------------------------------------------------------------------------- selection

@dataclass
class Selection:
    """Which documents go to the model. ``recover``: documents that fail the quality decision (a heuristic filter,
    or a quality bucket below ``keep_bucket``) but whose classifier bucket is at least ``min_bucket``: the
    recoverable band. ``rephrase``: documents that pass, for style rephrasing (Nemotron-CC does both)."""

    mode: str = "recover"
    min_bucket: int = 5
    max_bucket: int = 9
    keep_bucket: int = 0  # the mixture's min_quality_bucket: a document below it fails the quality decision
    languages: list[str] = field(default_factory=lambda: ["en"])
    min_language_score: float = keep.MIN_LANGUAGE_SCORE
    dedup: bool = keep.DEDUP  # only documents the dedup stage kept
    min_words: int = 50
    # longer documents are left alone (cost); None: no limit. 1,500 characters is one chunk on the CPU default model;
    # a deployment with GPUs or a server raises it (CURATION_REWRITE_MAX_CHARS, or the resource's max_source_chars)
    max_chars: int | None = 1500
    exclude_reasons: list[str] = field(default_factory=list)  # heuristic failures not worth rewriting
    max_documents: int | None = None  # per shard; the highest buckets first, then a stable hash order

    def validate(self) -> None:
        if self.mode not in ("recover", "rephrase"):
            raise ValueError(f"selection mode must be recover or rephrase, not {self.mode!r}")
        if not 0 <= self.min_bucket <= self.max_bucket <= 9:
            raise ValueError("selection buckets must satisfy 0 <= min_bucket <= max_bucket <= 9")


def select(df, sel: Selection):
    """The rows of ``df`` to rewrite, best candidates first, decided from labels alone: id, language,
    language_score (language table), keep (dedup), quality_pass, quality_reason, quality_bucket, words and chars
    (quality table). The caller reads the text of the chosen rows only."""
    import polars as pl

    sel.validate()
    rules = keep.KeepRules(languages=sel.languages, min_language_score=sel.min_language_score, dedup=sel.dedup)
    passes = pl.col("quality_pass").fill_null(False) & (pl.col("quality_bucket") >= sel.keep_bucket)
    cond = (~passes if sel.mode == "recover" else passes)
    cond = cond & pl.col("quality_bucket").is_between(sel.min_bucket, sel.max_bucket)
    cond = cond & rules.condition(rules.language_rules() + rules.dedup_rules())
    cond = cond & (pl.col("words") >= sel.min_words)
    if sel.max_chars:
        cond = cond & (pl.col("chars") <= sel.max_chars)
    if sel.exclude_reasons:
        cond = cond & ~pl.col("quality_reason").fill_null("").is_in(sel.exclude_reasons)
    out = df.filter(cond.fill_null(False))
    out = out.with_columns(pl.col("id").hash(seed=17).alias("_order")).sort(
        ["quality_bucket", "_order"], descending=[True, False]).drop("_order")
    if sel.max_documents is not None:
        out = out.head(sel.max_documents)
    return out


# --------------------------------------------------------------------------------------------------- cache + run


@dataclass
class RewriteResult:
    source_id: str
    text: str
    chunks: int
    tokens_in: int
    tokens_out: int
    seconds: float
    finish_reasons: list[str]
    cached_chunks: int
    reject_reason: str | None


def rewrite_documents(ids: list[str], texts: list[str], prompt: Prompt, backend: Backend, params: GenerationParams,
                      chunk_tokens: int, rules: RejectionRules, cache: ChunkCache, flush_every: int = 16,
                      progress: Callable[[int, int], None] | None = None,
                      stats: dict | None = None) -> list[RewriteResult]:
    """Rewrite each document chunk by chunk, generating only chunks the cache lacks, ``flush_every`` chunks at a
    time (each flush is written to the cache before the next batch starts, so a killed run loses at most one)."""
    per_doc = [chunk_text(t, chunk_tokens, backend.count_tokens) for t in texts]
    keys = [[cache_key(prompt, backend.model_id, params, c) for c in chunks] for chunks in per_doc]
    todo, seen = [], set()
    for chunks, ks in zip(per_doc, keys):
        for c, k in zip(chunks, ks):
            if k not in seen and cache.get(k) is None:
                seen.add(k)
                todo.append((k, c))
    done, t_gen, generated_tokens = 0, 0.0, 0
    for start in range(0, len(todo), flush_every):
        part = todo[start:start + flush_every]
        t0 = time.perf_counter()
        gens = backend.generate([prompt.messages(c) for _, c in part], params)
        t_gen += time.perf_counter() - t0
        generated_tokens += sum(g.tokens_out for g in gens)
        cache.put([{"key": k, "text": g.text, "tokens_in": g.tokens_in, "tokens_out": g.tokens_out,
                    "finish_reason": g.finish_reason, "seconds": g.seconds, "prompt": prompt.tag,
                    "model": backend.model_id} for (k, _), g in zip(part, gens)])
        done += len(part)
        if progress:
            progress(done, len(todo))
    if stats is not None:
        stats.update(generated_chunks=len(todo), generation_seconds=t_gen, generated_tokens=generated_tokens,
                     chunks=sum(len(k) for k in keys))
    fresh = {k for k, _ in todo}
    results = []
    for doc_id, text, ks in zip(ids, texts, keys):
        entries = [cache.get(k) for k in ks]
        pieces = [clean_output(prompt, e["text"]) for e in entries]
        out = "\n\n".join(p for p in pieces if p)
        finishes = [e["finish_reason"] for e in entries]
        results.append(RewriteResult(
            source_id=doc_id, text=out, chunks=len(ks), tokens_in=sum(e["tokens_in"] for e in entries),
            tokens_out=sum(e["tokens_out"] for e in entries), seconds=sum(e["seconds"] for e in entries),
            finish_reasons=finishes, cached_chunks=sum(k not in fresh for k in ks),
            reject_reason=reject_reason(text, out, finishes, rules) if ks else "empty"))
    return results
