"""A per-shard process pool: the cores a process may use, and an ordered map over a shard's work items.

Sizing (:func:`pool_size`): the CPUs this process may run on (``os.sched_getaffinity``), capped by the cgroup
CPU quota of its container (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``, rounded up:
a quota of 1.5 CPUs gives 2 workers). An explicit setting overrides it: the ``workers`` argument, else the
settings' ``shard_workers`` (``$CURATION_SHARD_WORKERS``; ``curation run --workers N`` sets it to cores // N in its
run processes, so N runs x their pools make about one process per core, not N x cores).

Mapping (:class:`ShardPool`): ``pool.map(fn, items)`` returns ``[fn(state, item) for item in items]`` in the
items' order, where ``state = setup(*setup_args)`` is built once per worker process (the models: a fastText
model, an extractor, a tokenizer). One worker runs everything in this process, with the same ``setup`` and
``fn``, so a stage's output is the same whatever the worker count: the pool decides where each item runs,
never what it computes or in which order results are combined. Workers are spawned (never forked: a Dagster
run process has threads and database connections a fork would copy), get SIGKILL when this process dies, and
run one item at a time: memory is one item's worth per worker (plus the results on their way back). At most
``2 x workers`` items are handed out ahead, largest first when ``cost`` is given (fewer stragglers at the end);
``imap`` yields results in item order as they come. ``CPU_LOG`` keeps each set-up's and task's CPU seconds by
process (bench/shard_workers.py computes the critical path from it).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Self

ENV = "CURATION_SHARD_WORKERS"  # read by curation_assets.settings, never here
#: thread pools of native libraries, pinned to one thread in pool workers: N workers x N threads would oversubscribe
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS",
               "POLARS_MAX_THREADS")


def limit_threads(threads: int, variables: tuple[str, ...] = THREAD_VARS[:3]) -> None:
    """Cap the native thread pools of this process (and what it spawns) at ``threads``, unless the user set them.
    The one place besides the settings and the resources that touches the environment, because only the
    environment reaches OpenMP/BLAS: it must hold before torch or numpy's BLAS is first loaded."""
    for var in variables:
        os.environ.setdefault(var, str(threads))


def _read(path: str) -> str | None:
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return None


def _own_cgroups(proc_cgroup: str) -> dict[str, str]:
    """controller -> this process's cgroup path ("" for the unified v2 hierarchy), from /proc/self/cgroup."""
    out: dict[str, str] = {}
    for line in (_read(proc_cgroup) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for ctrl in parts[1].split(",") if parts[1] else [""]:
                out[ctrl] = parts[2]
    return out


def cgroup_cpu_limit(root: str = "/sys/fs/cgroup", proc_cgroup: str = "/proc/self/cgroup") -> float | None:
    """The CPU quota of this process's cgroup in CPUs (1.5 for "150000 100000"), or None without a quota.

    Looks in the process's own cgroup first, then at the hierarchy's root (inside a container the namespace
    usually makes the container's cgroup the root)."""
    own = _own_cgroups(proc_cgroup)
    limits = []
    v2 = own.get("", "/").lstrip("/")
    for d in dict.fromkeys([os.path.join(root, v2), root]):  # v2: "max 100000" or "150000 100000"
        raw = _read(os.path.join(d, "cpu.max"))
        if raw:
            quota, _, period = raw.partition(" ")
            if quota != "max" and period and int(period) > 0:
                limits.append(int(quota) / int(period))
            break
    for ctrl in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):  # v1: quota -1 means none
        sub = own.get("cpu", "/").lstrip("/")
        for d in dict.fromkeys([os.path.join(root, ctrl, sub), os.path.join(root, ctrl)]):
            quota, period = _read(os.path.join(d, "cpu.cfs_quota_us")), _read(os.path.join(d, "cpu.cfs_period_us"))
            if quota and period and int(quota) > 0 and int(period) > 0:
                limits.append(int(quota) / int(period))
                break
        if limits:
            break
    return min(limits) if limits else None


def available_cpus(root: str = "/sys/fs/cgroup", proc_cgroup: str = "/proc/self/cgroup") -> int:
    """CPUs this process may use: its affinity mask, capped by its cgroup quota rounded up; at least 1."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        n = os.cpu_count() or 1
    quota = cgroup_cpu_limit(root, proc_cgroup)
    if quota is not None:
        n = min(n, math.ceil(quota - 1e-9))
    return max(1, n)


def parse_workers(value: str | int | None, where: str = ENV) -> int | None:
    """An explicit worker count: a positive integer; None, "" or "auto": not set. Anything else is an error
    naming ``where``."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "auto")):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: expected a positive integer or 'auto', got {value!r}") from None
    if n < 1:
        raise ValueError(f"{where}: expected a positive integer or 'auto', got {value!r}")
    return n


_DEFAULT: dict = {"workers": None}


def set_default_workers(workers: int | None) -> None:
    """The pool size of this process when a stage names none (the settings' ``shard_workers``, from
    ``$CURATION_SHARD_WORKERS`` or ``curation run``; installed by ``curation_assets.settings.use``); None: size by
    the cores (:func:`available_cpus`)."""
    _DEFAULT["workers"] = parse_workers(workers, "shard_workers")


def pool_size(workers: int | None = None) -> int:
    """Worker processes for one shard: ``workers`` if given, else the default set for this process, else
    :func:`available_cpus`."""
    explicit = parse_workers(workers, "workers") if workers is not None else _DEFAULT["workers"]
    return explicit if explicit is not None else available_cpus()


def explicit_size() -> bool:
    return _DEFAULT["workers"] is not None


# ------------------------------------------------------------------------------------------ the workers
_state: dict = {}
#: (pool name, process id, "setup" or "task", CPU seconds) of the recent set-ups and tasks of this process's pools:
#: how the work spread over the workers (bench/shard_workers.py reads it)
CPU_LOG: deque = deque(maxlen=100_000)


def _init_worker(setup: Callable, setup_args: tuple) -> None:
    try:  # SIGKILL when the parent dies (Linux): no orphan keeps reading a shard nobody will write
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    c0 = time.process_time()
    _state["value"] = setup(*setup_args)
    _state["setup_cpu"] = time.process_time() - c0


def _started() -> tuple[int, float]:
    return os.getpid(), _state["setup_cpu"]


def _call(fn: Callable, item):
    c0 = time.process_time()
    out = fn(_state["value"], item)
    return out, os.getpid(), time.process_time() - c0


class WorkerDied(RuntimeError):
    """A pool worker process died (killed, out of memory); the message says which stage."""


class ShardPool:
    """``setup(*setup_args)`` once per worker, then ``map(fn, items)`` in item order. Use as a context manager.

    ``workers``: the processes to start, at most; 1 (or a single item) runs in this process, with ``local`` as the
    state if given (the caller's own, already loaded), else ``setup(*setup_args)``. ``name`` appears in errors."""

    def __init__(self, setup: Callable, setup_args: tuple = (), workers: int = 1, name: str = "shard pool",
                 local=None):
        self.setup, self.setup_args, self.workers, self.name = setup, tuple(setup_args), max(1, workers), name
        if multiprocessing.current_process().daemon:  # a daemonic process may not start children: run in it
            self.workers = 1
        self._executor: ProcessPoolExecutor | None = None
        self._local = local  # the state to use in this process, when the caller has it already
        self._has_local = local is not None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close(kill=exc[0] is not None)

    def close(self, kill: bool = False) -> None:
        if self._executor is not None:
            if kill:
                for proc in list((getattr(self._executor, "_processes", None) or {}).values()):
                    proc.kill()
            self._executor.shutdown(wait=not kill, cancel_futures=True)
            self._executor = None

    def _local_state(self):
        if not self._has_local:
            self._local, self._has_local = self.setup(*self.setup_args), True
        return self._local

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            env = {v: os.environ.get(v) for v in THREAD_VARS}
            for v in THREAD_VARS:  # inherited by the spawned workers, set back at once here
                os.environ[v] = "1"
            try:
                self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                     initializer=_init_worker, initargs=(self.setup, self.setup_args))
                # start every worker now, while the variables hold (a spawn pool starts them as work arrives)
                for fut in [self._executor.submit(_started) for _ in range(self.workers)]:
                    pid, cpu = fut.result()
                    CPU_LOG.append((self.name, pid, "setup", cpu))
            except BrokenProcessPool as exc:
                self.close(kill=True)
                raise WorkerDied(f"{self.name}: the worker processes did not start (an error in their set-up, "
                                 f"or a main module without an `if __name__ == '__main__':` guard)") from exc
            finally:
                for v, old in env.items():
                    if old is None:
                        os.environ.pop(v, None)
                    else:
                        os.environ[v] = old
        return self._executor

    def map(self, fn: Callable, items: Sequence, cost: Sequence[float] | None = None,
            prepare: Callable | None = None) -> list:
        """``[fn(state, prepare(item)) for item in items]``: see :meth:`imap`."""
        return list(self.imap(fn, items, cost, prepare))

    def imap(self, fn: Callable, items: Sequence, cost: Sequence[float] | None = None,
             prepare: Callable | None = None):
        """``fn(state, prepare(item))`` for each item, yielded in item order as they become ready (``prepare``:
        identity by default; it runs in this process right before the item is handed out, so only the items in
        flight are ever materialised: slices of a shard's text, say). ``cost``: hand out the largest first. An
        item's exception is raised where its result would come (the first failed item's, in item order); no
        further item starts, and the workers are stopped."""
        items = list(items)
        prep = prepare or (lambda it: it)
        if self.workers == 1 or len(items) <= 1:
            state = self._local_state()
            for it in items:
                c0 = time.process_time()
                out = fn(state, prep(it))
                CPU_LOG.append((self.name, os.getpid(), "task", time.process_time() - c0))
                yield out
            return
        order = list(range(len(items)))
        if cost is not None:
            order.sort(key=lambda i: -cost[i])  # largest first, a stable sort: ties keep item order
        pool = self._pool()
        ready: dict[int, object] = {}
        errors: dict[int, BaseException] = {}
        running: dict = {}
        ahead = 2 * self.workers
        nxt = emitted = 0
        try:
            while emitted < len(items):
                while nxt < len(order) and len(running) < ahead and not errors:
                    i = order[nxt]
                    running[pool.submit(_call, fn, prep(items[i]))] = i
                    nxt += 1
                if emitted in ready:
                    yield ready.pop(emitted)
                    emitted += 1
                elif emitted in errors or (errors and not running):
                    raise errors[min(errors)]  # the first failure in item order (among the items run)
                else:
                    done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                    for fut in done:
                        i = running.pop(fut)
                        try:
                            ready[i], pid, cpu = fut.result()
                            CPU_LOG.append((self.name, pid, "task", cpu))
                        except BrokenProcessPool as exc:
                            raise WorkerDied(f"{self.name}: a worker process died (killed, or out of memory?) "
                                             f"while processing item {i + 1} of {len(items)}") from exc
                        except Exception as exc:  # noqa: BLE001 - raised in item order
                            errors[i] = exc
        except BaseException:  # an error, or the caller stopped early (GeneratorExit): stop the workers now
            self.close(kill=True)
            raise


def row_slices(n_rows: int, step: int, workers: int = 1, per_worker: int = 4,
               smallest: int = 64) -> list[tuple[int, int]]:
    """(offset, length) of consecutive slices covering ``n_rows``: ``step`` rows each, or fewer (down to
    ``smallest``) so that ``workers`` processes get ``per_worker`` slices each and finish together."""
    if workers > 1:
        step = min(step, max(smallest, -(-n_rows // (workers * per_worker))))
    return [(i, min(step, n_rows - i)) for i in range(0, n_rows, step)]


def workers_for(n_items: int, work: float = 0.0, min_work_per_worker: float = 0.0, workers: int | None = None) -> int:
    """Processes worth starting for ``n_items`` items: the pool size, at most one per item and, when the size was
    not set explicitly, at most one per ``min_work_per_worker`` of ``work`` (a spawned worker costs about a
    second of start-up: a small shard runs in this process)."""
    size = pool_size(workers)
    n = min(size, max(1, n_items))
    if workers is None and not explicit_size() and min_work_per_worker > 0:
        n = min(n, max(1, int(work // min_work_per_worker)))
    return n
