"""`curation run` on bad input and shared state: one-line errors, a failed shard that fails only its own snapshot,
two commands on one fresh instance, a command killed with SIGKILL, and an instance that knows snapshots of another
crawl root. Tiny crawls (one file per snapshot, one shard, no rewriting, no mixture) keep this quick."""

import gzip
import re
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, sample_file, write_crawl

SMALL = {"CC-MAIN-2024-22": "jwarc-commoncrawl.org.warc.gz", "CC-MAIN-2020-34": "cc-main-2020-34.part-a.warc.gz"}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "curation_cli", *args]


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME",) and not k.startswith("CURATION_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _tiny(root: Path, snapshots: dict[str, str]) -> Path:
    for snap, name in snapshots.items():
        source = next(sample_file(s, name) for s in SMALL if sample_file(s, name).exists())
        write_crawl(root, snap, {name: source.read_bytes()})
    return root


def _run(tmp_path, crawl, home, out, *extra, popen=False):
    args = _cli("run", "--crawl-root", str(crawl), "--output", str(out), "--dagster-home", str(home), "--shards", "1",
                "--no-rewrite", "--no-mixture", "--workers", "1", *extra)
    if popen:
        return subprocess.Popen(args, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    return subprocess.run(args, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)


def _lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


def test_errors_and_bad_flags_are_one_line(tmp_path):
    for flags, expected in [(["--crawl-root", "/nonexistent"], "crawl root '/nonexistent' has no crawl-data/ folder"),
                            (["--shards", "0"], "--shards: must be >= 1, got 0"),
                            (["--workers", "0"], "--workers: must be >= 1, got 0"),
                            (["--rewrite-docs", "-1"], "--rewrite-docs: must be >= 0, got -1")]:
        p = subprocess.run(_cli("run", "--dagster-home", str(tmp_path / "h"), *flags), cwd=tmp_path, env=_env(),
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 2 and len(_lines(p.stderr)) == 1 and expected in p.stderr, (flags, p.stderr)
    env = {**_env(), "CURATION_NUM_SHARDS": "many"}
    p = subprocess.run(_cli("run"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and _lines(p.stderr) == ["curation run: error: CURATION_NUM_SHARDS must be an integer, "
                                                       "got 'many'"]
    p = subprocess.run(_cli("run", "--crawl-root", "/nonexistent", "--debug"), cwd=tmp_path, env=_env(),
                       capture_output=True, text=True, timeout=300)
    assert p.returncode != 0 and "Traceback" in p.stderr and "FileNotFoundError" in p.stderr
    assert not (tmp_path / "h").exists()  # nothing was created for a command that could not start


def test_root_cause_is_one_line_never_the_retry_wrapper():
    from dagster._utils.error import SerializableErrorInfo

    from curation_cli.errors import error_info_line

    cause = SerializableErrorInfo("PermissionError: [Errno 13] Permission denied: '/out/documents/x.parquet'\n",
                                  [], "PermissionError")
    wrapper = SerializableErrorInfo("Exceeded max_retries of 2\n", [], "RetryRequested", cause=cause)
    assert error_info_line(wrapper) == "PermissionError: [Errno 13] Permission denied: '/out/documents/x.parquet'"
    failure = SerializableErrorInfo("dagster._core.definitions.events.Failure: input file listed but missing: /a\n"
                                    "more\n", [], "Failure")
    assert error_info_line(failure) == "input file listed but missing: /a more"


def test_a_failed_shard_fails_only_its_snapshot(tmp_path):
    crawl = _tiny(tmp_path / "crawl", SMALL)
    listing = tmp_path / "crawl/crawl-data/CC-MAIN-2024-22/warc.paths.gz"
    paths = gzip.decompress(listing.read_bytes()).decode() + "crawl-data/CC-MAIN-2024-22/segments/s/warc/gone.warc.gz\n"
    listing.write_bytes(gzip.compress(paths.encode()))
    p = _run(tmp_path, crawl, tmp_path / "home", tmp_path / "out", "--workers", "2")
    assert p.returncode == 1, p.stdout[-2000:] + p.stderr[-2000:]
    failed = [ln for ln in p.stdout.splitlines() if ln.startswith("FAILED")]
    assert failed == ["FAILED documents+language+minhash_signatures+tokens CC-MAIN-2024-22 shard 0000: InputFileError: input "
                      f"file listed but missing: {crawl}/crawl-data/CC-MAIN-2024-22/segments/s/warc/gone.warc.gz"]
    assert "Exceeded max_retries" not in p.stdout + p.stderr and "Traceback" not in p.stdout + p.stderr
    assert "not run, downstream of a failure: 4 partitions" in p.stdout  # dedup_clusters, dedup, quality, labels
    # the other snapshot went all the way, its notes in the summary; the classifier trained on what existed
    assert (tmp_path / "out/dedup/CC-MAIN-2020-34/0000.parquet").exists()
    assert (tmp_path / "out/quality/CC-MAIN-2020-34/0000.parquet").exists()
    assert not (tmp_path / "out/dedup/CC-MAIN-2024-22").exists()
    # (its GB2312 page with GBK characters was charset_lossy before documents-v5: GB18030 now decodes it whole)
    assert re.search(r"^notes +(.*, )?extraction_guard 6(,|$)", p.stdout, re.M), p.stdout[-2000:]
    assert "charset_lossy" not in p.stdout


def test_concurrent_runs_killed_runs_and_stale_snapshots(tmp_path):
    import dagster as dg

    home = tmp_path / "home"
    other = _tiny(tmp_path / "other", {"CC-MAIN-2099-01": SMALL["CC-MAIN-2020-34"]})
    # two commands at once on a fresh instance: one runs, the other refuses in one line (or both finish)
    procs = [_run(tmp_path, other, home, tmp_path / "out-other", popen=True) for _ in range(2)]
    results = [(p.wait(timeout=600), *p.communicate(timeout=60)) for p in procs]
    codes = sorted(rc for rc, _, _ in results)
    assert codes in ([0, 0], [0, 2]), [(rc, out[-1500:], err[-1500:]) for rc, out, err in results]
    if codes == [0, 2]:
        refused = next(err for rc, _, err in results if rc == 2)
        assert len(_lines(refused)) == 1 and "is in use by another `curation run`" in refused, refused
    runs = dg.DagsterInstance.from_config(str(home)).get_runs()
    assert runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)

    # the same instance, another crawl root: killed with SIGKILL while a run is STARTED
    crawl = _tiny(tmp_path / "crawl", {"CC-MAIN-2024-22": SMALL["CC-MAIN-2024-22"]})
    proc = _run(tmp_path, crawl, home, tmp_path / "out", popen=True)
    started = dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED], tags={"curation/pid": str(proc.pid)})
    deadline = time.monotonic() + 300
    while not dg.DagsterInstance.from_config(str(home)).get_runs(filters=started):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    # the pipes close with the command: no child of it (Dagster's `tail -F` log mirror was one) outlives it
    proc.communicate(timeout=60)
    killed = dg.DagsterInstance.from_config(str(home)).get_runs(filters=started)
    assert killed
    tmp = tmp_path / "out/documents/CC-MAIN-2024-22/0000.parquet.tmp-0123abcd"  # a write the kill cut short
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_bytes(b"PAR1 half a file")

    p = _run(tmp_path, crawl, home, tmp_path / "out")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert f"run {killed[0].run_id} of a killed `curation run` was left STARTED; marked failed" in p.stderr
    assert "removed 1 temporary files of interrupted writes" in p.stderr and not tmp.exists()
    assert "also knows snapshots not under" in p.stderr and "CC-MAIN-2099-01; skipped" in p.stderr
    assert "shards recomputed: 1" in p.stdout or "up to date: 1" in p.stdout
    instance = dg.DagsterInstance.from_config(str(home))
    assert instance.get_run_by_id(killed[0].run_id).status == dg.DagsterRunStatus.FAILURE
    assert not instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    assert set(instance.get_dynamic_partitions("snapshots")) == {"CC-MAIN-2099-01", "CC-MAIN-2024-22"}


def _children() -> set[int]:
    me = str(os.getpid())
    kids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            kids.add(int(stat.parent.name))
    return kids


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_the_instance_captures_step_output_in_files_and_starts_no_process(tmp_path):
    """The instance `curation run` creates keeps each step's stdout and stderr in the files the Dagster UI reads,
    and starts no process for it: Dagster's default mirrors them with a `tail -F` child, which a command killed
    at the wrong moment leaves running, holding the command's stdout and stderr open (a CI job reading them
    waited 80 minutes)."""
    import dagster as dg

    from curation_cli.compute_logs import FileComputeLogManager
    from curation_cli.instance import open_instance

    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n# a run whose process died (killed, out of "
                                       "memory) is marked failed instead of staying STARTED forever\nrun_monitoring:\n"
                                       "  enabled: true\n  start_timeout_seconds: 300\n  poll_interval_seconds: 60\n"
                                       "  max_resume_run_attempts: 0\n")  # as an earlier version wrote it
    instance = open_instance(home)
    manager = instance.compute_log_manager
    assert isinstance(manager, FileComputeLogManager)
    before = _children()
    seen = {}

    @dg.asset
    def talks():
        print("to stdout from a step", flush=True)
        os.write(sys.stderr.fileno(), b"to the stderr descriptor from a step\n")  # as a C library writes
        seen["children"] = _children() - before

    result = dg.materialize([talks], instance=instance)
    assert result.success and seen["children"] == set(), seen
    captured = [e.event_specific_data for e in result.all_events if e.event_type_value == "LOGS_CAPTURED"]
    assert [c.step_keys for c in captured] == [["talks"]]
    key = manager.build_log_key_for_run(result.run_id, captured[0].file_key)
    data = manager.get_log_data(key)  # what the UI shows
    assert b"to stdout from a step" in data.stdout and b"to the stderr descriptor from a step" in data.stderr
    assert manager.is_capture_complete(key)
    assert str(home.resolve() / "storage") in (home / "dagster.yaml").read_text()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")  # a user's own file is left as it is
    open_instance(home)
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"


def test_the_plan_follows_the_asset_graph():
    from curation_assets.definitions import defs
    from curation_cli.plan import build_plan

    items, upstream = build_plan(defs, ["A", "B"], ["0000", "0001"])
    index = {it.label: i for i, it in enumerate(items)}
    ups = {it.label: {items[d].label for d in upstream[i]} for i, it in enumerate(items)}
    # a shard's chain is one run; every shard of the level before anything that reads it
    chain = "documents+language+minhash_signatures+tokens"
    assert ups[f"{chain} A shard 0000"] == set()
    assert ups["dedup_clusters A"] == {f"{chain} A shard {s}" for s in ("0000", "0001")}
    # dedup and quality of a shard read the same partitions: one run
    assert ups["dedup+quality B shard 0001"] == {"dedup_clusters B", "quality_classifier", f"{chain} B shard 0001"}
    assert ups["quality_classifier"] >= {f"{chain} {x} shard {s}" for x in "AB" for s in ("0000", "0001")}
    assert ups["rewrites A shard 0000"] == {f"{chain} A shard 0000", "dedup+quality A shard 0000"}
    mixtures = [label for label in ups if label.startswith("mixture")]
    assert mixtures and max(index[m] for m in mixtures) == len(items) - 1
    for m in mixtures:  # every table a mixture reads is upstream of it (documents, language, tokens too)
        assert {u for u in ups[m] if " B " in u} == {f"{a} B shard {s}" for a in (chain, "dedup+quality", "rewrites",
                                                                                  "blocklist+contamination+pii")
                                                     for s in ("0000", "0001")}
    # the per-shard labels read their shard's documents and the global benchmark index, in one run per shard
    assert ups["blocklist+contamination+pii A shard 0001"] == {f"{chain} A shard 0001", "benchmark_index+corpora"}
    assert all(i > d for i in range(len(items)) for d in upstream[i])  # topological
    skipped = build_plan(defs, ["A"], ["0000"], skip_groups={"mixing"})[0]
    assert not any(a.startswith(("mixture", "corpora")) for it in skipped for a in it.assets)


def test_settings_are_read_in_one_place_and_bad_values_are_one_line():
    from curation_assets.settings import Settings, SettingsError

    s = Settings.from_env({"CURATION_AUTOMATION": "off", "CURATION_AUTOMATION_INTERVAL": "7",
                           "CURATION_SENSOR": "on", "CURATION_SENSOR_INTERVAL": "60", "CURATION_MODEL_CACHE": "/m"})
    assert (s.automation, s.automation_interval, s.sensor, s.sensor_interval, s.model_cache) == (False, 7, True, 60, "/m")
    d = Settings.from_env({})
    assert (d.automation, d.automation_interval, d.sensor, d.sensor_interval, d.model_cache) == (True, 30, False, 300, None)
    for env, name in (({"CURATION_SENSOR_INTERVAL": "soon"}, "CURATION_SENSOR_INTERVAL"),
                      ({"CURATION_AUTOMATION_INTERVAL": "0"}, "CURATION_AUTOMATION_INTERVAL"),
                      ({"CURATION_NUM_SHARDS": "x"}, "CURATION_NUM_SHARDS")):
        with pytest.raises(SettingsError, match=name) as err:
            Settings.from_env(env)
        assert "\n" not in str(err.value)


def _record_init(*args):
    pass


def _record_run(item, op_config):
    """A stand-in for one Dagster run: notes when it started and ended (in a file the test reads)."""
    from curation_cli.execute import Outcome

    with open(op_config["log"], "a") as fh:
        fh.write(f"start {item.assets[0]} {time.monotonic()}\n")
    time.sleep(0.4)
    with open(op_config["log"], "a") as fh:
        fh.write(f"end {item.assets[0]} {time.monotonic()}\n")
    return Outcome(item, "done")


def test_the_cli_runs_one_item_per_pool_at_a_time(tmp_path):
    """Rewriting and annotation sit in Dagster's ``gpu`` pool: `curation run` keeps to one item of a pool at a
    time, as deploy/dagster.yaml does for launched runs, while other items use every worker."""
    from curation_assets.definitions import defs
    from curation_cli.execute import execute
    from curation_cli.plan import Item, build_plan, item_pools

    items, _ = build_plan(defs, ["CC-MAIN-2024-22"], ["0000", "0001"])
    pools = item_pools(defs, items)
    assert {items[i].assets for i in pools} == {("rewrites",), ("quality_annotations",)}
    assert set(pools.values()) == {"gpu"}

    fake = [Item(0, (name,), "S", sh) for name, sh in (("gpu-a", "0"), ("gpu-b", "1"), ("cpu-a", "0"), ("cpu-b", "1"))]
    log = tmp_path / "log"
    outcomes = execute(fake, [[], [], [], []], 2, (), {"log": str(log)}, lambda i: None, lambda o: None,
                       pools={0: "gpu", 1: "gpu"}, run=_record_run, init=_record_init)
    assert [o.status for o in outcomes] == ["done"] * 4
    spans = {}
    for line in log.read_text().splitlines():
        what, name, t = line.split()
        spans.setdefault(name, {})[what] = float(t)
    a, b = spans["gpu-a"], spans["gpu-b"]
    assert a["end"] <= b["start"] or b["end"] <= a["start"]  # the two gpu items never overlapped
    overlapping = [(x, y) for x in spans for y in spans if x < y and spans[x]["start"] < spans[y]["end"]
                   and spans[y]["start"] < spans[x]["end"]]
    assert overlapping  # and the two workers did run items side by side
