"""The flags of ``curation run`` and the settings they make: a ``Settings`` (crawl root, output, shards,
rewrite limits) over the environment's, resource overrides, and the Dagster instance folder."""

import argparse
import dataclasses
from pathlib import Path

from curation.core.pool import available_cpus


def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {n}")
        return n
    return parse


def add_run_arguments(r: argparse.ArgumentParser) -> None:
    r.add_argument("--crawl-root", help="local folder or s3:// URL (default: the bundled sample crawl)")
    r.add_argument("--output", help="base folder or s3:// URL for Parquet shards (default: ./curation_output)")
    r.add_argument("--shards", type=_int_at_least(1), help="shard count (default 4, or $CURATION_NUM_SHARDS)")
    cores = available_cpus()
    r.add_argument("--workers", type=_int_at_least(1), default=cores,
                   help="worker processes that run partitions side by side (default: the cores this process may "
                        f"use, {cores} here: its CPU affinity and cgroup quota)")
    r.add_argument("--shard-workers", type=_int_at_least(1),
                   help="processes each run's per-shard stages use (default: $CURATION_SHARD_WORKERS, else cores "
                        "// --workers, so the runs and their pools make about one process per core)")
    r.add_argument("--snapshots", help="comma-separated snapshots to run (default: all under the crawl root)")
    r.add_argument("--mixture", help="mixture YAML to build (default: every mixtures/*.yaml, or $CURATION_MIXTURES)")
    r.add_argument("--no-mixture", action="store_true", help="stop before the mixing assets")
    r.add_argument("--no-rewrite", action="store_true", help="select nothing for LLM rewriting")
    r.add_argument("--rewrite-docs", type=_int_at_least(0),
                   help="documents rewritten per shard at most (default $CURATION_REWRITE_MAX_DOCS or 1)")
    r.add_argument("--rewrite-max-chars", type=_int_at_least(1),
                   help="leave longer documents alone (default $CURATION_REWRITE_MAX_CHARS or 1500)")
    r.add_argument("--rewrite-server", help="base URL of an OpenAI-compatible server to rewrite with "
                                            "(default: the local SmolLM2-135M-Instruct model)")
    r.add_argument("--rewrite-model", help="model to rewrite with: a path / hub id, or the served model's name")
    r.add_argument("--perplexity", action="store_true",
                   help="also score perplexity under SmolLM2-135M (slow on a CPU: about 1 s per document)")
    r.add_argument("--dagster-home", help="Dagster instance folder (default $DAGSTER_HOME, else ./dagster_home)")


def settings_from_args(args):
    """(Settings, resource overrides, absolute Dagster home) for the parsed flags."""
    from curation_assets.settings import Settings

    s = Settings.from_env()
    changes = {}
    if args.crawl_root:
        root = args.crawl_root
        changes["crawl_root"] = root if "://" in root else str(Path(root).resolve())
    if args.output:
        changes["output"] = args.output if "://" in args.output else str(Path(args.output).resolve())
    if args.shards:
        changes["num_shards"] = args.shards
    if args.rewrite_docs is not None:
        changes["rewrite_max_documents"] = args.rewrite_docs
    if args.rewrite_max_chars is not None:
        changes["rewrite_max_chars"] = args.rewrite_max_chars
    if args.mixture:  # build this mixture definition only (one asset, mixtures/<file stem>)
        changes["mixtures"] = str(Path(args.mixture).resolve())
    s = dataclasses.replace(s, **changes)
    rewrite: dict = {"enabled": not args.no_rewrite}
    if args.rewrite_server:
        from curation.core.credentials import split_credentials

        # user:password never reaches the run config (stored in the instance): the settings hand it to the
        # backend in each worker process, and only the clean URL is shown or stored
        url, auth = split_credentials(args.rewrite_server)
        if auth:
            s = dataclasses.replace(s, rewrite_auth=":".join(auth))
        rewrite.update(backend="openai", base_url=url, model=args.rewrite_model or "default")
    elif args.rewrite_model:
        rewrite["model"] = args.rewrite_model
    overrides = {"rewrite_settings": rewrite}
    if args.perplexity:
        overrides["quality_settings"] = {"perplexity": True}
    from curation_assets.settings import dagster_home

    home = dagster_home(args.dagster_home)
    return s, overrides, home


def mixture_config(args) -> dict:
    """Op config for the run's items (none: ``--mixture`` selects the mixture definition through the settings)."""
    return {}
