"""The `gpu` concurrency pool of deploy/dagster.yaml holds model-bound steps to one at a time across runs: two
runs started together, each with a step in the pool, run those steps one after the other (the second is
"blocked by limit for pool gpu"), on an instance configured with deploy/dagster.yaml's `concurrency` section
(SQLite storage here; tests/test_postgres.py loads the whole file against PostgreSQL)."""

import json
import os
import subprocess
import sys

import yaml

from curation_assets.definitions import defs
from curation_assets.rewrite import POOL
from tests.conftest import ROOT

STEP = """
import json, sys, time, dagster as dg
@dg.asset(pool=sys.argv[1])
def model_step():
    t0 = time.time(); time.sleep(8); print("SPAN", json.dumps([t0, time.time()]), flush=True)
assert dg.materialize([model_step], instance=dg.DagsterInstance.get()).success
"""


def test_steps_in_the_gpu_pool_run_one_at_a_time(tmp_path):
    assert defs.resolve_assets_def("rewrites").node_def.pool == POOL == "gpu"
    deploy = yaml.safe_load((ROOT / "deploy/dagster.yaml").read_text())
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump({"concurrency": deploy["concurrency"],
                                                        "telemetry": {"enabled": False}}))
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    procs = [subprocess.Popen([sys.executable, "-c", STEP, POOL], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    spans = sorted(json.loads(line.split("SPAN ", 1)[1]) for out in outs for line in out.splitlines() if "SPAN " in line)
    assert len(spans) == 2
    assert spans[1][0] >= spans[0][1] - 0.05, spans  # the second step started after the first ended
    assert any(f"Step blocked by limit for pool {POOL}" in out for out in outs)
