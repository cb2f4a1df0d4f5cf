"""Deployment settings, read from the environment in one place.

``Settings.from_env()`` reads every ``CURATION_*`` variable once and checks it (a bad value is a one-line
``SettingsError`` naming the variable). ``current()`` is what the definitions use; a front end such as the
``curation`` CLI builds its own ``Settings`` and installs it with ``use()`` before the definitions are
imported, instead of writing ``os.environ``.

The shard count shapes the partitions definition, so it is fixed per deployment (changing it re-shards every
snapshot) and must be chosen before ``curation_assets.partitions`` is imported; everything else can also be set
per run in the launchpad.
"""

import dataclasses
import os
from pathlib import Path
from typing import Mapping

from curation.core.pool import parse_workers, set_default_workers
from curation.rewrite.rewriter import Selection

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_CRAWL = PROJECT_ROOT / "sample_crawl"
MAX_SHARDS = 10_000


class SettingsError(ValueError):
    """A setting with a value that cannot be used (the message is one line)."""


def _limit(env: Mapping[str, str], name: str, default: int | None, minimum: int) -> int | None:
    raw = env.get(name, "none" if default is None else str(default)).strip().lower()
    if raw in ("all", "none", ""):
        return None
    try:
        n = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number or 'none', got {raw!r}") from None
    if n < minimum:
        raise SettingsError(f"{name} must be >= {minimum} (or 'none'), got {n}")
    return n


_OFF = ("0", "off", "false", "no", "stopped")
_ON = ("1", "on", "true", "yes", "running")


def _workers(env: Mapping[str, str], name: str, default: int | None) -> int | None:
    try:
        n = parse_workers(env.get(name), name)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    return default if n is None else n


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    return default if not raw else raw in _ON


def _seconds(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip() or str(default)
    try:
        n = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number of seconds, got {raw!r}") from None
    if n < 1:
        raise SettingsError(f"{name} must be >= 1 second, got {n}")
    return n


@dataclasses.dataclass(frozen=True)
class Settings:
    crawl_root: str = str(SAMPLE_CRAWL)
    output: str = str(Path.cwd() / "curation_output")
    num_shards: int = 4
    # documents rewritten per shard at most (None: all). 1 suits the bundled sample on a CPU; a deployment with
    # GPUs or an inference server sets CURATION_REWRITE_MAX_DOCS=all
    rewrite_max_documents: int | None = 1
    # documents longer than this are not rewritten (None: no limit); 1500 is one chunk on the CPU default
    rewrite_max_chars: int | None = Selection.max_chars
    dask: bool = False  # offer the curate_shards_dask job in the UI (a deployment running a Dask cluster)
    # the mixture definitions: a folder of *.yaml (one asset each) or a single .yaml file
    mixtures: str = str(PROJECT_ROOT / "mixtures")
    automation: bool = True  # the automation-condition sensor starts RUNNING (CURATION_AUTOMATION=off: stopped)
    automation_interval: int = 30  # seconds between its ticks
    sensor: bool = False  # crawl_sensor starts RUNNING (CURATION_SENSOR=on); else turned on in the UI
    sensor_interval: int = 300  # seconds between crawl_sensor ticks (each lists the crawl root)
    # where converted models and tokenizers are kept (None: ~/.cache/curation/models); see curation.core.packaged
    model_cache: str | None = None
    # "user:password" for the rewriting server's HTTP basic auth (CURATION_REWRITE_AUTH, or `curation run
    # --rewrite-server` with credentials in the URL): handed to the backend in this process, never stored in a
    # run's config or shown
    rewrite_auth: str | None = dataclasses.field(default=None, repr=False)
    # processes each run's per-shard stages use (None: the cores this process may use); see curation.core.pool
    shard_workers: int | None = None

    def __post_init__(self):
        if not isinstance(self.num_shards, int) or not 1 <= self.num_shards <= MAX_SHARDS:
            raise SettingsError(f"the shard count must lie in 1..{MAX_SHARDS}, got {self.num_shards!r}")
        if not self.crawl_root or not self.output:
            raise SettingsError("the crawl root and the output base must not be empty")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """The settings the environment sets; every variable left unset keeps the field's default above."""
        env = os.environ if env is None else env
        d = {f.name: f.default for f in dataclasses.fields(cls)}
        raw = env.get("CURATION_NUM_SHARDS", str(d["num_shards"])).strip()
        try:
            shards = int(raw)
        except ValueError:
            raise SettingsError(f"CURATION_NUM_SHARDS must be an integer, got {raw!r}") from None
        if not 1 <= shards <= MAX_SHARDS:
            raise SettingsError(f"CURATION_NUM_SHARDS must lie in 1..{MAX_SHARDS}, got {shards}")
        return cls(
            crawl_root=env.get("CURATION_CRAWL_ROOT") or d["crawl_root"],
            output=env.get("CURATION_OUTPUT") or str(Path.cwd() / "curation_output"),  # the cwd when read
            num_shards=shards,
            rewrite_max_documents=_limit(env, "CURATION_REWRITE_MAX_DOCS", d["rewrite_max_documents"], 0),
            rewrite_max_chars=_limit(env, "CURATION_REWRITE_MAX_CHARS", d["rewrite_max_chars"], 1),
            dask=_flag(env, "CURATION_DASK", d["dask"]),
            mixtures=env.get("CURATION_MIXTURES") or d["mixtures"],
            automation=env.get("CURATION_AUTOMATION", "").strip().lower() not in _OFF,  # on unless turned off
            automation_interval=_seconds(env, "CURATION_AUTOMATION_INTERVAL", d["automation_interval"]),
            sensor=_flag(env, "CURATION_SENSOR", d["sensor"]),
            sensor_interval=_seconds(env, "CURATION_SENSOR_INTERVAL", d["sensor_interval"]),
            model_cache=env.get("CURATION_MODEL_CACHE") or d["model_cache"],
            rewrite_auth=env.get("CURATION_REWRITE_AUTH") or d["rewrite_auth"],
            shard_workers=_workers(env, "CURATION_SHARD_WORKERS", d["shard_workers"]),
        )


_current: Settings | None = None


def current() -> Settings:
    """The settings in force: those given to ``use()``, else the environment's (read once)."""
    if _current is None:
        use(Settings.from_env())
    return _current


def use(settings: Settings) -> None:
    """Install ``settings`` for this process (call it before ``curation_assets.definitions`` is imported)."""
    global _current
    _current = settings
    from curation.core import packaged

    packaged.set_cache_dir(settings.model_cache)  # the library's default folder for converted models
    set_default_workers(settings.shard_workers)  # the per-shard stages' pool size in this process


# accessors the assets, sensors and resources use
def num_shards() -> int:
    return current().num_shards


def crawl_root() -> str:
    return current().crawl_root


def output_base() -> str:
    return current().output


def rewrite_max_documents() -> int | None:
    return current().rewrite_max_documents


def rewrite_max_chars() -> int | None:
    return current().rewrite_max_chars


def rewrite_auth() -> str | None:
    return current().rewrite_auth


def mixture_files() -> list[str]:
    """The mixture definitions in force: every ``*.yaml`` of the folder, or the one file named."""
    import glob

    where = current().mixtures
    if where.endswith((".yaml", ".yml")):
        return [str(Path(where).resolve())]
    return sorted(glob.glob(os.path.join(where, "*.yaml")))


def dagster_home(flag: str | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The Dagster instance folder: ``flag`` (``--dagster-home``), else ``$DAGSTER_HOME``, else ./dagster_home."""
    env = os.environ if env is None else env
    return Path(flag or env.get("DAGSTER_HOME") or "dagster_home").resolve()
