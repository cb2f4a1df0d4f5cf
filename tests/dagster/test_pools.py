"""The `gpu` concurrency pool of deploy/dagster.yaml holds model-bound steps to one at a time across runs: while one
run's step in the pool is running, a second run's step in the pool waits ("blocked by limit for pool gpu") and
starts only after the first ended, on an instance configured with deploy/dagster.yaml's `concurrency` section
(SQLite storage here; tests/test_postgres.py loads the whole file against PostgreSQL).

Deterministic by construction: the pool's slots are created from the configured default before either run (two
runs creating them at the same moment can both count zero slots and add one each), the second run starts once the
first step has its slot (SQLite has no row locks, so two claims in the same millisecond can both win, which is what
made this test fail once: both steps started 24 ms apart), and the first step holds its slot until the second run
has reported itself blocked, so no machine load can make the runs miss each other."""

import json
import os
import queue
import subprocess
import sys
import threading
import time

import dagster as dg
import yaml

from curation_assets.definitions import defs
from curation_assets.constants import GPU_POOL as POOL
from tests.conftest import ROOT

STEP = """
import json, os, sys, time, dagster as dg
@dg.asset(pool=sys.argv[1])
def model_step():
    t0 = time.time(); print("STARTED", flush=True)
    deadline = t0 + 240
    while not os.path.exists("release") and time.time() < deadline:
        time.sleep(0.05)
    print("SPAN", json.dumps([t0, time.time()]), flush=True)
assert dg.materialize([model_step], instance=dg.DagsterInstance.get()).success
"""
BLOCKED = f"Step blocked by limit for pool {POOL}"


def _start(env, cwd) -> tuple[subprocess.Popen, "queue.Queue[str]", list[str]]:
    proc = subprocess.Popen([sys.executable, "-c", STEP, POOL], env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []

    def pump():
        for line in proc.stdout:
            seen.append(line)
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return proc, lines, seen


def _wait_for(lines: "queue.Queue[str]", needle: str, proc, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if needle in lines.get(timeout=0.5):
                return
        except queue.Empty:
            assert proc.poll() is None, f"process ended before printing {needle!r}"
    raise AssertionError(f"no {needle!r} within {timeout} s")


def test_steps_in_the_gpu_pool_run_one_at_a_time(tmp_path):
    assert defs.resolve_assets_def("rewrites").node_def.pool == POOL == "gpu"
    deploy = yaml.safe_load((ROOT / "deploy/dagster.yaml").read_text())
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump({"concurrency": deploy["concurrency"],
                                                        "telemetry": {"enabled": False}}))
    with dg.DagsterInstance.from_config(str(home)) as instance:  # the pool's slots, from the configured default
        instance.event_log_storage.initialize_concurrency_limit_to_default(POOL)
        assert instance.event_log_storage.get_concurrency_info(POOL).slot_count == 1
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    first, first_lines, first_out = _start(env, tmp_path)
    procs = [first]
    try:
        _wait_for(first_lines, "STARTED", first)  # the first run's step holds the pool's slot...
        second, second_lines, second_out = _start(env, tmp_path)
        procs.append(second)
        _wait_for(second_lines, BLOCKED, second)  # ... so the second run's step waits for it
        (tmp_path / "release").write_text("")
        for p in procs:
            p.wait(timeout=240)
    finally:
        (tmp_path / "release").write_text("")
        for p in procs:
            if p.poll() is None:
                p.kill()
    outs = ["".join(first_out), "".join(second_out)]
    assert all(p.returncode == 0 for p in procs), outs
    spans = [json.loads(line.split("SPAN ", 1)[1]) for out in outs for line in out.splitlines() if "SPAN " in line]
    assert len(spans) == 2
    assert spans[1][0] >= spans[0][1] - 0.05, spans  # the second step started after the first ended
