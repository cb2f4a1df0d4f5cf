"""The rewriting and annotation backend a ``RewriteResource`` describes: a local transformers model (loaded once
per process and reused across partitions) or an OpenAI-compatible server, whose API key and basic-auth
credentials are read from the environment variables the resource names (never stored in a run's config)."""

import os

from curation.llm.backends import OpenAIBackend, TransformersBackend
from resources import RewriteResource

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
