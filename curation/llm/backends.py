"""Generation backends shared by rewriting and LLM annotation: a local transformers model (batched, chat
template, left padding) or any OpenAI-compatible server (concurrency, retries with backoff), behind one
``Backend`` interface (``generate(conversations, params)``, ``count_tokens(texts)``)."""

from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Protocol

from curation.core.credentials import redact_text, split_credentials


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

        from curation.models.loading import default_causal_lm

        self.path = model or default_causal_lm()
        self.batch_size = max(1, batch_size)
        self.device_name = device
        self.cache_dir = cache_dir
        self.model_id = model_id or (os.path.basename(self.path.rstrip("/")) if os.path.exists(self.path) else self.path)
        self._tok = self._model = None

    def _load(self):
        if self._model is None:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            from curation.models.loading import quiet as _quiet, converted_gguf, device

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
        # user:password in the URL travels as HTTP basic auth; only the clean URL appears in messages and metadata
        base_url, self.auth = split_credentials(base_url)
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
        from curation.models.tokenizer import count_tokens, load_tokenizer

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
                resp = self._session.post(self.url, json=body, headers=headers, timeout=self.timeout, auth=self.auth)
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = redact_text(f"{type(exc).__name__}: {exc}")
                if attempt == self.max_retries:
                    break
            else:
                if resp.status_code == 200:
                    return resp.json()
                last = redact_text(f"HTTP {resp.status_code}: {resp.text[:300]}")
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
