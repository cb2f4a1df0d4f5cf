"""Rewriting documents with a language model (REWIRE, WRAP, Nemotron-CC): selection, chunking, generation through
a local transformers model or an OpenAI-compatible server, rejection rules, and a cache of generations.

The unit of generation is a *chunk*: a document longer than ``chunk_tokens`` is cut at paragraph (then sentence,
then word) boundaries, each chunk is rewritten on its own, and the rewrites are joined back in order. The cache
holds chunks keyed by (prompt name and version, model id, generation parameters, chunk text), so a rerun, a
resumed run or a second document containing the same chunk never generates it twice.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Callable, Protocol

from curation import keep
from curation.fingerprints import digest
from curation.prompts import Prompt, clean_output


class BackendError(RuntimeError):
    """The generation backend failed in a way retrying will not fix (bad request, bad model, unreachable)."""


@dataclass
class GenerationParams:
    max_new_tokens: int = 512
    temperature: float = 0.0  # 0: greedy decoding
    top_p: float = 1.0
    repetition_penalty: float = 1.0  # > 1 discourages loops (small models need it; 1.0: off)
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Generation:
    text: str
    tokens_in: int
    tokens_out: int
    finish_reason: str  # "stop" (the model ended) or "length" (cut at max_new_tokens)
    seconds: float = 0.0


class Backend(Protocol):
    model_id: str

    def generate(self, conversations: list[list[dict]], params: GenerationParams) -> list[Generation]: ...

    def count_tokens(self, texts: list[str]) -> list[int]: ...


# --------------------------------------------------------------------------------------------------- backends

class TransformersBackend:
    """Batched generation with a local transformers model: chat template, left padding (so every prompt ends
    where generation starts), prompts sorted by length so a batch pads little. A ``.gguf`` file is dequantised
    once into the model cache (``curation.models.converted_gguf``) and loaded from there afterwards."""

    def __init__(self, model: str | None = None, device: str | None = None, batch_size: int = 8,
                 model_id: str | None = None, cache_dir: str | None = None):
        import os

        from curation.models import default_causal_lm

        self.path = model or default_causal_lm()
        self.batch_size = max(1, batch_size)
        self.device_name = device
        self.cache_dir = cache_dir
        self.model_id = model_id or (os.path.basename(self.path.rstrip("/")) if os.path.exists(self.path) else self.path)
        self._tok = self._model = None

    def _load(self):
        if self._model is None:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            from curation.models import _quiet, converted_gguf, device

            _quiet()
            folder = converted_gguf(self.path, self.cache_dir) if self.path.endswith(".gguf") else self.path
            tok = AutoTokenizer.from_pretrained(folder)
            tok.padding_side = "left"
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token
            model = AutoModelForCausalLM.from_pretrained(folder).to(device(self.device_name)).eval()
            self._tok, self._model = tok, model
        return self._tok, self._model

    @property
    def tokenizer(self):
        return self._load()[0]

    def count_tokens(self, texts: list[str]) -> list[int]:
        tok = self.tokenizer
        return [len(ids) for ids in tok(list(texts), add_special_tokens=False)["input_ids"]] if texts else []

    def stop_ids(self) -> set[int]:
        tok, model = self._load()
        ids = model.generation_config.eos_token_id
        ids = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
        if tok.eos_token_id is not None:
            ids.add(tok.eos_token_id)
        return ids

    def generate(self, conversations: list[list[dict]], params: GenerationParams,
                 batch_size: int | None = None) -> list[Generation]:
        import torch

        tok, model = self._load()
        prompts = [tok.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in conversations]
        lengths = self.count_tokens(prompts)
        order = sorted(range(len(prompts)), key=lambda i: -lengths[i])
        stops = self.stop_ids()
        bs = batch_size or self.batch_size
        out: list[Generation | None] = [None] * len(prompts)
        for start in range(0, len(order), bs):
            idx = order[start:start + bs]
            enc = tok([prompts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False)
            enc = {k: v.to(model.device) for k, v in enc.items()}
            sampling = params.temperature > 0
            kwargs = dict(max_new_tokens=params.max_new_tokens, do_sample=sampling, pad_token_id=tok.pad_token_id,
                          repetition_penalty=params.repetition_penalty)
            if sampling:
                torch.manual_seed(params.seed)
                kwargs.update(temperature=params.temperature, top_p=params.top_p)
            else:
                kwargs.update(temperature=None, top_p=None, top_k=None)
            t0 = time.perf_counter()
            with torch.inference_mode():
                seq = model.generate(**enc, **kwargs)
            secs = time.perf_counter() - t0
            new = seq[:, enc["input_ids"].shape[1]:].tolist()
            for row, i in zip(new, idx):
                n, finish = len(row), "length"
                for j, t in enumerate(row):
                    if t in stops:
                        n, finish = j, "stop"
                        break
                text = tok.decode(row[:n], skip_special_tokens=True)
                out[i] = Generation(text, int(lengths[i]), n + (finish == "stop"), finish, secs / len(idx))
        return out  # type: ignore[return-value]


class OpenAIBackend:
    """Chat completions from an OpenAI-compatible server (vLLM, SGLang, TGI, ``transformers serve``):
    ``concurrency`` requests in flight, a timeout per request, retries with exponential backoff and jitter on
    429 and 5xx (honouring Retry-After) and on dropped connections, and a clear error naming the URL when the
    server cannot be reached or refuses the request."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, concurrency: int = 4,
                 timeout: float = 300.0, max_retries: int = 5, backoff: float = 1.0, max_backoff: float = 60.0,
                 tokenizer: str | None = None, model_id: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + ("/chat/completions" if self.base_url.endswith("/v1") else "/v1/chat/completions")
        self.model = model
        self.api_key = api_key
        self.concurrency = max(1, concurrency)
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.tokenizer_name = tokenizer
        self.model_id = model_id or model
        self.retries = 0  # retried requests, for the run's metadata
        self._lock = threading.Lock()
        self._session = None

    def count_tokens(self, texts: list[str]) -> list[int]:
        """With the model's tokenizer (``tokenizer``; by default SmolLM2's, which the offline default serves)."""
        from curation.mixing import count_tokens, load_tokenizer

        return [int(n) for n in count_tokens(list(texts), load_tokenizer(self.tokenizer_name))] if texts else []

    def _post(self, body: dict) -> dict:
        import requests

        if self._session is None:
            self._session = requests.Session()
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        last = ""
        for attempt in range(self.max_retries + 1):
            wait = min(self.max_backoff, self.backoff * 2 ** attempt) * (0.5 + random.random() / 2)
            try:
                resp = self._session.post(self.url, json=body, headers=headers, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = f"{type(exc).__name__}: {exc}"
                if attempt == self.max_retries:
                    break
            else:
                if resp.status_code == 200:
                    return resp.json()
                last = f"HTTP {resp.status_code}: {resp.text[:300]}"
                if resp.status_code != 429 and resp.status_code < 500:
                    raise BackendError(f"{self.url} refused the request ({last})")
                if attempt == self.max_retries:
                    break
                retry_after = resp.headers.get("Retry-After")
                if retry_after and retry_after.replace(".", "", 1).isdigit():
                    wait = min(self.max_backoff, float(retry_after))
            with self._lock:
                self.retries += 1
            time.sleep(wait)
        raise BackendError(f"cannot get a completion from {self.url} after {self.max_retries + 1} attempts "
                           f"(last: {last}); is the server running and is base_url right?")

    def _one(self, messages: list[dict], params: GenerationParams) -> Generation:
        body = {"model": self.model, "messages": messages, "max_tokens": params.max_new_tokens,
                "temperature": params.temperature, "top_p": params.top_p, "seed": params.seed}
        if params.repetition_penalty != 1.0:  # not in OpenAI's API; vLLM, SGLang and TGI accept it
            body["repetition_penalty"] = params.repetition_penalty
        t0 = time.perf_counter()
        data = self._post(body)
        try:
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise BackendError(f"{self.url} answered without choices[0].message: {json.dumps(data)[:300]}") from exc
        usage = data.get("usage") or {}
        tin = usage.get("prompt_tokens")
        tout = usage.get("completion_tokens")
        if tin is None:
            tin = sum(self.count_tokens([m["content"] for m in messages]))
        if tout is None:
            tout = self.count_tokens([text])[0]
        finish = choice.get("finish_reason") or "stop"
        return Generation(text, int(tin), int(tout), "length" if finish == "length" else "stop",
                          time.perf_counter() - t0)

    def generate(self, conversations: list[list[dict]], params: GenerationParams) -> list[Generation]:
        if not conversations:
            return []
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(lambda c: self._one(c, params), conversations))


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
    max_chars: int | None = 20_000  # longer documents are left alone (cost); None: no limit
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

def cache_key(prompt: Prompt, model_id: str, params: GenerationParams, chunk: str) -> str:
    return digest("rewrite-chunk-v1", prompt.name, prompt.version, model_id, params.as_dict(), chunk)


class ChunkCache(Protocol):
    def get(self, key: str) -> dict | None: ...

    def put(self, entries: list[dict]) -> None: ...


class MemoryCache:
    def __init__(self):
        self.entries: dict[str, dict] = {}

    def get(self, key: str) -> dict | None:
        return self.entries.get(key)

    def put(self, entries: list[dict]) -> None:
        for e in entries:
            self.entries[e["key"]] = e


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


class StoreChunkCache:
    """The chunks generated for one shard, kept as Parquet parts under
    ``<base>/rewrite_cache/<snapshot>/<shard>/`` (local or S3). Every flush writes one new part, atomically, so a
    killed run keeps every batch it finished and a rerun generates only what is missing."""

    ASSET = "rewrite_cache"

    def __init__(self, store, snapshot: str, shard: str):
        import pyarrow.parquet as pq

        self.store, self.snapshot, self.shard = store, snapshot, shard
        self.entries: dict[str, dict] = {}
        pattern = store.side_path(self.ASSET, snapshot, f"{shard}/part-*.parquet")
        if not store.is_local:
            store.fs.invalidate_cache()
        self.parts = sorted(store.fs.glob(pattern))
        for path in self.parts:
            try:
                with store.fs.open(path, "rb") as fh:
                    rows = pq.read_table(fh).to_pylist()
            except Exception as exc:  # a part is written whole or not at all; say which one is unreadable
                raise ValueError(f"unreadable rewrite cache part {path}: {exc}") from exc
            for r in rows:
                self.entries[r["key"]] = r

    def get(self, key: str) -> dict | None:
        return self.entries.get(key)

    def put(self, entries: list[dict]) -> None:
        import os
        import tempfile
        import uuid

        import pyarrow as pa
        import pyarrow.parquet as pq

        if not entries:
            return
        name = f"{self.shard}/part-{time.time_ns()}-{uuid.uuid4().hex[:8]}.parquet"
        with tempfile.TemporaryDirectory(prefix="curation-rwcache-") as tmp:
            local = os.path.join(tmp, "part.parquet")
            pq.write_table(pa.Table.from_pylist(entries), local)
            self.store.put_side(self.ASSET, self.snapshot, name, local)
        self.parts.append(name)
        for e in entries:
            self.entries[e["key"]] = e
