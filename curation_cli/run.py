"""``curation run``: materialise the whole asset graph for every snapshot x shard of a crawl, with a local Dagster
instance, on ``--workers`` processes.

Each item (assets of one topological level x one partition) runs as a real Dagster run recorded in the instance
(SQLite under the Dagster home), so ``dagster dev`` afterwards shows the runs, the metadata and the lineage.
Finished shards whose inputs did not change are not recomputed, so a killed run resumes where it stopped.
"""

import dataclasses
import sys
import time
from collections import Counter

HELP = "materialise every asset, from WARC files to the training mixture, for every snapshot x shard"


def register(subparsers) -> None:
    from curation_cli.options import add_run_arguments

    add_run_arguments(subparsers.add_parser("run", help=HELP, description=__doc__))


def _snapshots(source, wanted: str | None, warn=None) -> list[str]:
    """The snapshots to run; ``warn`` gets one line per folder under crawl-data/ skipped for its name."""
    from curation_cli.errors import CliError

    try:
        snapshots = source.list_snapshots()
    except (FileNotFoundError, NotADirectoryError, PermissionError, TimeoutError) as exc:
        raise CliError(str(exc)) from exc
    for line in source.refused if warn else ():
        warn(line)
    if wanted:
        names = [w.strip() for w in wanted.split(",") if w.strip()]
        missing = sorted(set(names) - set(snapshots))
        if missing:  # a name the rule refuses says why, even when a folder of that name exists
            raise CliError(f"snapshots not found under {source.root}: " + "; ".join(
                f"{n!r} ({source.name_problem(n)})" if source.name_problem(n) else n for n in missing))
        snapshots = [s for s in snapshots if s in names]
    if not snapshots:
        raise CliError(f"no snapshot under {source.root}/crawl-data")
    return snapshots


def _check_mixtures(err, snapshots: list[str]) -> None:
    """Every mixture definition in force is checked before any stage runs: one line per problem, naming the
    file and the key, and nothing runs."""
    from curation.mixing.check import validate_mixture_file
    from curation_assets.settings import current, mixture_files
    from curation_cli.errors import CliError

    files = mixture_files()
    if not files:
        raise CliError(f"no mixture definition (*.yaml) in {current().mixtures}")
    problems = [p for f in files for p in validate_mixture_file(f, snapshots)]
    for p in problems:
        err.print(f"[red]{p}", soft_wrap=True, highlight=False)
    if problems:
        raise CliError(f"{len(problems)} problem(s) in the mixture definitions above; nothing was run")


def run(args) -> int:
    import warnings

    warnings.filterwarnings("ignore")  # Dagster's beta/preview notices would break the progress display
    from rich.console import Console
    from rich.markup import escape

    from curation_assets import settings as settings_module
    from curation_cli import instance as inst
    from curation_cli.errors import CliError
    from curation_cli.options import mixture_config, settings_from_args

    try:
        settings, overrides, home = settings_from_args(args)
    except settings_module.SettingsError as exc:
        raise CliError(str(exc)) from exc
    settings_module.use(settings)  # before the definitions are imported: the shard count shapes the partitions
    console = Console(width=None if sys.stdout.isatty() else 110)
    err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

    from curation_assets.definitions import build_definitions
    from curation_assets.partitions import SHARDS, SNAPSHOTS
    from curation_cli import execute
    from curation_cli.plan import build_plan, item_pools, observable_sources
    from curation_cli.summary import print_summary

    defs = build_definitions(settings, overrides)
    snapshots = _snapshots(defs.resources["crawl"].source(), args.snapshots,
                           warn=lambda line: err.print(f"[yellow]warning: {escape(line)}", soft_wrap=True,
                                                       highlight=False))
    if not args.no_mixture:
        _check_mixtures(err, snapshots)
    lock = inst.lock_home(home)  # held (open) until this process exits
    instance = inst.open_instance(home)
    for run_id in inst.fail_orphaned_runs(instance):
        err.print(f"[yellow]warning: run {run_id} of a killed `curation run` was left STARTED; marked failed")
    removed = inst.remove_stale_temporaries(instance, settings.output)
    if removed:
        err.print(f"[yellow]warning: removed {removed} temporary files of interrupted writes under {settings.output}")
    known = instance.get_dynamic_partitions(SNAPSHOTS.name)
    stale = sorted(set(known) - set(defs.resources["crawl"].source().list_snapshots()))
    if stale:
        err.print(f"[yellow]warning: the instance {home} also knows snapshots not under {settings.crawl_root}: "
                  f"{', '.join(stale)}; skipped (a run against another crawl root registered them)", soft_wrap=True)
    new = [s for s in snapshots if s not in known]
    if new:
        instance.add_dynamic_partitions(SNAPSHOTS.name, new)
    shards = SHARDS.get_partition_keys()
    per_run = execute.share_cores(args.workers, getattr(args, "shard_workers", None) or settings.shard_workers)
    settings = dataclasses.replace(settings, shard_workers=per_run)  # what every run process of this command uses
    settings_module.use(settings)
    console.print(f"crawl root  {settings.crawl_root}\noutput      {settings.output}\ndagster     {home}\n"
                  f"snapshots   {', '.join(snapshots)} x {len(shards)} shards; {args.workers} workers x "
                  f"{per_run} processes per shard")
    tags = inst.run_tags()
    log_level = "ERROR" if getattr(args, "debug", False) else "CRITICAL"
    obs = observable_sources(defs)
    if obs:
        execute.observe(defs, instance, obs, tags, log_level)
    items, upstream = build_plan(defs, snapshots, shards, skip_groups={"mixing"} if args.no_mixture else set())
    counts = Counter()
    t0 = time.perf_counter()
    # the gpu pool keeps model-bound items one at a time; with rewriting off they load no model
    outcomes = _run_with_progress(console, items, upstream, args.workers,
                                  (settings, overrides, str(home), tags, log_level), mixture_config(args), counts,
                                  {} if args.no_rewrite else item_pools(defs, items))
    print_summary(console, defs.resources["storage"].store(), snapshots, shards, time.perf_counter() - t0, counts,
                  outcomes)
    lock.close()
    return 1 if any(o.status != "done" for o in outcomes) else 0


def _count(outcome, counts: Counter) -> None:
    for meta in outcome.materializations.get("documents", []):
        counts["recomputed" if meta.get("recomputed") else "up to date"] += 1
    for meta in outcome.materializations.get("dedup", []):
        counts["labels rewritten" if meta.get("recomputed") else "labels unchanged"] += 1
    for meta in outcome.materializations.get("rewrites", []):
        if meta.get("recomputed"):
            counts["chunks generated"] += int(meta.get("chunks_generated", 0))


def _run_with_progress(console, items, upstream, workers, init_args, op_config, counts, pools=None):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    from curation_cli import execute

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("partitions", total=len(items))

        def on_start(item):
            progress.update(task, description=f"{item.label:<48.48}")

        def on_done(outcome):
            _count(outcome, counts)
            progress.advance(task)

        return execute.execute(items, upstream, workers, init_args, op_config, on_start, on_done, pools)
