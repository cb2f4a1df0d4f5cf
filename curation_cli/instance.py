"""The local Dagster instance ``curation run`` records its runs in, made safe to share.

- One ``curation run`` at a time per instance: an exclusive ``fcntl`` lock on ``<home>/curation-run.lock``,
  held for the whole run. A second command refuses with one line (two processes creating the SQLite
  storage at once used to corrupt it: "alembic_version has more than one head").
- Runs of a command that was killed (SIGKILL, OOM) stay STARTED in the instance; the next command, holding the
  lock, marks them failed. ``run_monitoring`` in the ``dagster.yaml`` written here does the same for runs the
  daemon launched (``dagster dev``).
- Temporary files of killed writes (``*.tmp-*`` beside output shards) are removed.
"""

import fcntl
import json
import os
import socket
import time
from pathlib import Path

from curation_cli.errors import CliError

LOCK_NAME = "curation-run.lock"
CLI_TAG, PID_TAG = "curation/cli", "curation/pid"
_MONITORING = """\
telemetry:
  enabled: false
# a run whose process died (killed, out of memory) is marked failed instead of staying STARTED forever
run_monitoring:
  enabled: true
  start_timeout_seconds: 300
  poll_interval_seconds: 60
  max_resume_run_attempts: 0
"""
# step output into the same files as Dagster's default, without its `tail -F` child, which a killed command
# could leave holding the terminal (curation_cli/compute_logs.py)
DAGSTER_YAML = _MONITORING + """\
compute_logs:
  module: curation_cli.compute_logs
  class: FileComputeLogManager
  config:
    base_dir: {base_dir}
"""
_EARLIER_YAMLS = (_MONITORING,)  # what earlier versions wrote: replaced, since nobody edited them
TMP_GRACE_S = 3600  # while other runs are in progress, only temporary files older than this are removed


def lock_home(home: Path):
    """Take the instance's run lock (the open file; keep it open for the whole run) or refuse."""
    home.mkdir(parents=True, exist_ok=True)
    fh = open(home / LOCK_NAME, "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "another process"
        fh.close()
        raise CliError(f"the Dagster instance {home} is in use by another `curation run` ({holder}); wait for it "
                       "to finish or pass another --dagster-home") from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"pid {os.getpid()} on {socket.gethostname()}")
    fh.flush()
    return fh


def open_instance(home: Path):
    """The instance under ``home`` (``dagster.yaml`` written if missing), its storages created now, under the lock."""
    import dagster as dg

    cfg = home / "dagster.yaml"
    if not cfg.exists() or cfg.read_text() in _EARLIER_YAMLS:  # SQLite storage is Dagster's default
        cfg.write_text(DAGSTER_YAML.format(base_dir=json.dumps(str(home.resolve() / "storage"))))
    instance = dg.DagsterInstance.from_config(str(home))
    instance.get_runs(limit=1)  # run storage
    instance.get_dynamic_partitions("snapshots")  # event log storage
    instance.all_instigator_state()  # schedule storage
    return instance


def run_tags() -> dict:
    return {CLI_TAG: "run", PID_TAG: str(os.getpid())}


def fail_orphaned_runs(instance) -> list[str]:
    """Mark failed the runs a killed ``curation run`` left STARTED (call with the lock held: no other command of
    this instance is alive, so every such run is an orphan)."""
    import dagster as dg

    statuses = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.NOT_STARTED]
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=statuses, tags={CLI_TAG: "run"}))
    for run in runs:
        instance.report_run_failed(run, message=f"the `curation run` process (pid {run.tags.get(PID_TAG)}) that "
                                                "ran this was killed; marked failed by the next `curation run`")
    return [r.run_id for r in runs]


def remove_stale_temporaries(instance, output: str) -> int:
    """Delete ``*.tmp-*`` files under a local output base: all of them when no run of the instance is in progress,
    else those untouched for an hour (a run of ``dagster dev`` may be writing the others)."""
    import dagster as dg

    if "://" in output and not output.startswith("file://"):
        return 0  # object stores: an object appears only when its upload completes, nothing is left behind
    base = Path(output.removeprefix("file://"))
    if not base.is_dir():
        return 0
    busy = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]), limit=1)
    cutoff = time.time() - (TMP_GRACE_S if busy else 0)
    removed = 0
    for folder, _, files in os.walk(base):
        for name in files:
            if ".tmp-" in name:
                path = os.path.join(folder, name)
                try:
                    if os.stat(path).st_mtime <= cutoff:
                        os.remove(path)
                        removed += 1
                except FileNotFoundError:
                    pass
    return removed
