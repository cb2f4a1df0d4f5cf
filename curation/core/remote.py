"""Remote filesystems (S3 through fsspec) with bounded patience: an endpoint that accepts connections and never
answers fails in about two minutes, naming what was being read, instead of after seven minutes of silence."""

from __future__ import annotations

import fsspec

#: an S3 endpoint that accepts connections and never answers: botocore's 60 s read timeout, its retries and s3fs's
#: five retries gave 7 minutes of silence (issue 25); these bound it to about 2 minutes (explicit options win)
S3_CONFIG = {"connect_timeout": 10, "read_timeout": 30, "retries": {"max_attempts": 2, "mode": "standard"}}
S3_RETRIES = 2


def bounded_options(url: str, options: dict | None) -> dict:
    """``options`` for fsspec with S3's timeouts and retries bounded (S3_CONFIG under the caller's config_kwargs)."""
    options = dict(options or {})
    if url.startswith(("s3://", "s3a://")):
        options["config_kwargs"] = {**S3_CONFIG, **options.get("config_kwargs", {})}
    return options


def bounded_fs(url: str, options: dict | None):
    """(filesystem, path) for ``url`` with bounded_options, and s3fs's own retries lowered to S3_RETRIES."""
    fs, path = fsspec.core.url_to_fs(url, **bounded_options(url, options))
    if url.startswith(("s3://", "s3a://")) and getattr(fs, "retries", 0) > S3_RETRIES:
        fs.retries = S3_RETRIES
    return fs, path


def timeout_error(exc: BaseException) -> bool:
    """True for a network timeout (botocore's ReadTimeoutError and ConnectTimeoutError, asyncio's, the socket's)."""
    return isinstance(exc, TimeoutError) or type(exc).__name__ in ("ReadTimeoutError", "ConnectTimeoutError")
