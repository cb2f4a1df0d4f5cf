"""LLM quality annotation (FineWeb-Edu, Nemotron-CC): a language model grades documents with a named, versioned
rubric prompt (``curation.llm.prompts``, purpose "grade"); the grade is parsed from its answer, a failure to
parse is recorded, and every generation is cached (``curation.llm.chunk_cache``), so a rerun grades only what is
new. The grades can train the quality classifier (``curation.quality.recipe.graded_rows``).

Sampling: ``sample_by_hash`` keeps a document when a hash of its id falls under a rate, so the sample is the
same whatever the sharding or the order, and only the chosen rows' text needs reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from curation.llm.backends import Backend, GenerationParams
from curation.llm.chunk_cache import ChunkCache, cache_key
from curation.llm.prompts import Prompt

MAX_GRADE = 5
# "Educational score: 3", "**Educational score:** 3/5", "Score: 4" (the last one the answer gives wins)
_SCORE = re.compile(r"score\s*[:=]?\s*\**\s*:?\s*\**\s*([0-9]+(?:\.[0-9]+)?)\s*(?:/\s*5|out of 5)?", re.IGNORECASE)
_ALONE = re.compile(r"^\s*\**\s*([0-5])\s*\**\s*(?:/\s*5)?\s*\.?\s*$")


def parse_grade(answer: str, max_grade: int = MAX_GRADE) -> int | None:
    """The grade an answer gives (0..max_grade), or None when it gives none or one out of range."""
    found = _SCORE.findall(answer or "")
    if found:
        value = float(found[-1])
    else:
        alone = _ALONE.match(answer or "")
        if not alone:
            return None
        value = float(alone.group(1))
    if value != int(value) or not 0 <= value <= max_grade:
        return None
    return int(value)


def id_fraction(doc_id: str) -> float:
    """A stable number in [0, 1) per document id (xxhash64)."""
    import xxhash

    return xxhash.xxh64_intdigest(doc_id.encode("utf-8", "surrogatepass"), seed=14) / 2 ** 64


def sample_by_hash(ids: list[str], rate: float) -> list[int]:
    """Positions of the ids whose hash fraction is below ``rate`` (the same ids at any sharding)."""
    return [i for i, d in enumerate(ids) if id_fraction(d) < rate]


@dataclass
class Grade:
    id: str
    grade: int | None
    answer: str
    finish_reason: str
    cached: bool


def annotate(ids: list[str], texts: list[str], prompt: Prompt, backend: Backend, params: GenerationParams,
             cache: ChunkCache, max_chars: int = 2000, flush_every: int = 16, progress=None) -> list[Grade]:
    """Grade each document (its first ``max_chars`` characters) with ``prompt``; generate only what the cache
    lacks, ``flush_every`` at a time (each flush is stored before the next starts)."""
    if prompt.purpose != "grade":
        raise ValueError(f"prompt {prompt.tag} is for {prompt.purpose}, not for grading")
    extracts = [(t or "")[:max_chars] for t in texts]
    keys = [cache_key(prompt, backend.model_id, params, e) for e in extracts]
    todo, seen = [], set()
    for k, e in zip(keys, extracts):
        if k not in seen and cache.get(k) is None:
            seen.add(k)
            todo.append((k, e))
    for start in range(0, len(todo), flush_every):
        part = todo[start:start + flush_every]
        gens = backend.generate([prompt.messages(e) for _, e in part], params)
        cache.put([{"key": k, "text": g.text, "tokens_in": g.tokens_in, "tokens_out": g.tokens_out,
                    "finish_reason": g.finish_reason, "seconds": g.seconds, "prompt": prompt.tag,
                    "model": backend.model_id} for (k, _), g in zip(part, gens)])
        if progress:
            progress(min(start + flush_every, len(todo)), len(todo))
    fresh = {k for k, _ in todo}
    out = []
    for doc_id, k in zip(ids, keys):
        e = cache.get(k)
        out.append(Grade(doc_id, parse_grade(e["text"]), e["text"], e["finish_reason"], k not in fresh))
    return out
