"""Run the plan's items: each in a Dagster run (``execute_in_process``) recorded in the instance, on a pool of
worker processes that each load the definitions once and run many partitions.

An item starts when the items it depends on are done. A failed item blocks only the items downstream of it
(one snapshot's failure leaves the others alone); its root cause is kept as one line.
"""

import dataclasses
import multiprocessing
import warnings
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from curation.core.pool import available_cpus, limit_threads
from curation_cli.plan import SAMPLES_WHAT_EXISTS, Item



def share_cores(workers: int, shard_workers: int | None = None) -> int:
    """Processes per run for the per-shard stages (``curation.core.pool``; the caller puts them in the settings it
    gives its run processes): ``shard_workers`` if given (the flag, else $CURATION_SHARD_WORKERS through the
    settings), else cores // ``workers``. So ``--workers N`` runs side by side with a pool of cores // N each make about one busy
    process per core, never N x cores: N = cores (the default) runs shards side by side, one process each;
    --workers 1 runs one partition at a time on every core (a few large shards)."""
    return shard_workers or max(1, available_cpus() // workers)


def log_config(level: str = "CRITICAL") -> dict:
    """Run config for Dagster's console logger: quiet by default (the summary gives each failure's root cause);
    ``--debug`` shows errors with their tracebacks."""
    return {"loggers": {"console": {"config": {"log_level": level}}}}


_worker: dict = {}


@dataclasses.dataclass
class Outcome:
    item: Item
    status: str  # "done", "failed" or "blocked"
    error: str = ""
    materializations: dict = dataclasses.field(default_factory=dict)  # asset -> [metadata values we report]


def _die_with_parent() -> None:
    """A pool worker gets SIGKILL when the command dies (Linux): no orphan keeps running a partition that the
    next command will have marked failed."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def init_worker(settings, overrides: dict, home: str, tags: dict, log_level: str = "CRITICAL",
                pool_worker: bool = False, threads: int | None = None) -> None:
    """Load the settings, the definitions and the instance once per worker process."""
    if pool_worker:
        _die_with_parent()
    if threads:  # before torch is imported: N workers x all-core OpenMP pools would spin against each other
        limit_threads(threads)
    warnings.filterwarnings("ignore")  # Dagster's beta/preview notices would break the progress display
    from curation_assets import settings as settings_module

    settings_module.use(settings)
    import dagster as dg

    from curation_assets.definitions import build_definitions

    _worker.update(defs=build_definitions(settings, overrides), instance=dg.DagsterInstance.from_config(home),
                   tags=tags, jobs={}, logs=log_config(log_level))


def _partition_key(item: Item):
    import dagster as dg

    if item.shard is not None:
        return dg.MultiPartitionKey({"snapshot": item.snapshot, "shard": item.shard})
    return item.snapshot


def run_item(item: Item, op_config: dict) -> Outcome:
    """Materialise ``item`` in one Dagster run (in this worker); never raises."""
    from curation_cli.errors import error_info_line, exception_line

    import dagster as dg

    try:
        keys = [dg.AssetKey.from_user_string(a) for a in item.assets]
        job = _worker["jobs"].get(item.assets)
        if job is None:
            job = _worker["jobs"][item.assets] = _worker["defs"].resolve_implicit_job_def_def_for_assets(keys)
        config = dict(_worker["logs"])
        ops = {name: cfg for name, cfg in op_config.items() if name in item.assets}
        if ops:
            config["ops"] = ops
        result = job.execute_in_process(run_config=config, instance=_worker["instance"], partition_key=_partition_key(item),
                                        asset_selection=keys, raise_on_error=False,
                                        tags={**_worker["tags"], "curation/assets": "+".join(item.assets)})
    except Exception as exc:  # noqa: BLE001 - a bad config or definitions error fails this item only
        return Outcome(item, "failed", exception_line(exc))
    if _interrupted(result):  # Dagster turns SIGINT / SIGTERM into a failed run; the command must stop too
        raise KeyboardInterrupt
    mats = {}
    for event in result.all_events:
        if event.is_step_materialization:
            mat = event.step_materialization_data.materialization
            meta = {k: v.value for k, v in mat.metadata.items() if k in ("recomputed", "chunks_generated")}
            mats.setdefault(mat.asset_key.to_user_string(), []).append(meta)
    if result.success:
        return Outcome(item, "done", materializations=mats)
    errors = [error_info_line(e.step_failure_data.error) for e in result.all_events
              if e.is_step_failure and e.step_failure_data and e.step_failure_data.error]
    if not errors:
        errors = [e.message for e in result.all_events if e.is_failure and e.message] or ["run failed"]
    return Outcome(item, "failed", errors[0], mats)


def _interrupted(result) -> bool:
    for e in result.all_events:
        if e.is_step_failure and e.step_failure_data and e.step_failure_data.error and \
                e.step_failure_data.error.cls_name in ("DagsterExecutionInterruptedError", "KeyboardInterrupt"):
            return True
        reason = getattr(e.event_specific_data, "failure_reason", None)
        if e.is_failure and reason is not None and reason.value == "UNEXPECTED_TERMINATION":
            return True
    return False


class _Inline:
    """The pool's interface in this process (--workers 1): no spawn, the definitions already loaded."""

    def submit(self, fn, *args) -> Future:
        fut = Future()
        fut.set_result(fn(*args))
        return fut

    def shutdown(self, **_):
        pass


def execute(items, upstream, workers: int, init_args: tuple, op_config: dict, on_start, on_done,
            pools: dict[int, str] | None = None, run=run_item, init=init_worker) -> list[Outcome]:
    """Run every item once its upstream items are done; ``on_start(item)`` and ``on_done(outcome)`` report progress.

    ``pools`` names the Dagster pool of the items that have one (``gpu``: rewriting, annotation): as
    deploy/dagster.yaml does for launched runs, one item per pool runs at a time, so two workers never load
    the model on one device side by side."""
    pools = pools or {}
    if workers <= 1:
        init(*init_args)
        pool = _Inline()
    else:  # spawn: a worker never inherits the parent's Dagster threads or SQLite connections
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=init,
                                   initargs=(*init_args, True, max(1, available_cpus() // workers)))
    outcomes: dict[int, Outcome] = {}
    running: dict[Future, int] = {}
    waiting = list(range(len(items)))
    clean = False
    try:
        while waiting or running:
            still = []
            busy = {pools[j] for j in running.values() if j in pools}
            for i in waiting:
                deps = [outcomes.get(d) for d in upstream[i]]
                if any(d is None for d in deps) or pools.get(i) in busy:
                    still.append(i)
                    continue
                bad = [d for d in deps if d.status != "done"]
                tolerated = set(items[i].assets) <= SAMPLES_WHAT_EXISTS and len(bad) < len(deps)
                if bad and not tolerated:
                    outcomes[i] = Outcome(items[i], "blocked", f"upstream failed: {bad[0].item.label}")
                    on_done(outcomes[i])
                    continue
                on_start(items[i])
                if i in pools:
                    busy.add(pools[i])
                try:
                    running[pool.submit(run, items[i], op_config)] = i
                except Exception as exc:  # noqa: BLE001 - the pool broke (a worker was killed)
                    outcomes[i] = Outcome(items[i], "failed", f"worker pool unusable: {exc}")
                    on_done(outcomes[i])
            waiting = still
            if not running:
                continue
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                i = running.pop(fut)
                try:
                    outcomes[i] = fut.result()
                except Exception as exc:  # noqa: BLE001 - a worker process died (killed, out of memory)
                    from curation_cli.errors import exception_line

                    outcomes[i] = Outcome(items[i], "failed", f"worker process died: {exception_line(exc)}")
                on_done(outcomes[i])
        clean = True
    finally:
        if not clean:  # interrupted or crashed: stop the workers now (their runs are marked failed next time)
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.kill()
        pool.shutdown(wait=clean, cancel_futures=True)
    return [outcomes[i] for i in range(len(items))]


def observe(defs, instance, keys, tags: dict, log_level: str = "CRITICAL") -> None:
    """Record data versions of the observable sources (the crawl's file lists) in one run."""
    job = defs.resolve_implicit_job_def_def_for_assets(keys)
    result = job.execute_in_process(run_config=log_config(log_level), instance=instance, asset_selection=keys,
                                    raise_on_error=False, tags=tags)
    if _interrupted(result):
        raise KeyboardInterrupt
    if not result.success:
        from curation_cli.errors import CliError, error_info_line

        errors = [error_info_line(e.step_failure_data.error) for e in result.all_events
                  if e.is_step_failure and e.step_failure_data and e.step_failure_data.error]
        raise CliError(f"observing {', '.join(k.to_user_string() for k in keys)} failed: "
                       f"{errors[0] if errors else 'see the run in the Dagster UI'}")
