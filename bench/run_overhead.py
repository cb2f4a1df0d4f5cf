"""What a Dagster run costs when it has nothing to recompute.

Materialises the sample crawl once (every asset, in process; LLM rewriting capped at 0 documents so it does not
dominate), then times runs of one up-to-date snapshot x shard partition (every per-shard asset: documents,
language, minhash_signatures, dedup, quality, rewrites; each reports ``recomputed: false``):

- ``launched``: launched through the instance's run launcher the way the UI's *Materialize* button does (the
  GraphQL ``launchPipelineExecution`` mutation against a code server loaded from workspace.yaml), timed from the
  launch until the run is finished; plus the run's own start-to-end time from the run record;
- ``in_process``: ``execute_in_process`` of the same selection in this process (definitions already loaded).

Wall time only for ``launched`` (the work happens in the code server's child processes, not ours); wall and
CPU time (``time.process_time``) for ``in_process``. The machine is shared, so figures vary by a few seconds.

    python bench/run_overhead.py --label after                                  # this checkout
    git archive 5b3d1d3 | tar -x -C /tmp/base                                   # the code before the change
    python bench/run_overhead.py --label before --code-root /tmp/base            # (the bench runs there)

Results are merged into docs/run_overhead.json under the label.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
PER_SHARD = ["documents", "language", "minhash_signatures", "dedup", "quality", "rewrites"]


def materialise_all(defs, instance, log) -> float:
    """Every asset of the sample crawl, in dependency order, in process."""
    import dagster as dg

    from curation_assets.partitions import SHARDS, SNAPSHOTS, partition_key

    t0 = time.perf_counter()
    snapshots = defs.resources["crawl"].source().list_snapshots()
    instance.add_dynamic_partitions(SNAPSHOTS.name, snapshots)
    all_assets = [a for a in defs.assets if hasattr(a, "key")]
    keys = [a.key.to_user_string() for a in all_assets]
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

    pks = [str(partition_key(s, sh)) for s in snapshots for sh in SHARDS.get_partition_keys()]

    def run_sel(selection, pk=None):  # the whole asset list (deps must resolve), a subset selected
        res = dg.materialize(all_assets, partition_key=pk, instance=instance, resources=defs.resources,
                             run_config=quiet, selection=selection)
        assert res.success

    for pk in pks:
        run_sel(["documents", "language", "minhash_signatures"], pk)
    for s in snapshots:
        run_sel(["dedup_clusters"], s)
    run_sel(["quality_classifier"])
    for pk in pks:
        run_sel(["dedup", "quality", "rewrites"], pk)
    run_sel([k for k in keys if k.startswith(("corpora", "mixture"))])
    log(f"materialised {len(snapshots)} snapshots x {len(SHARDS.get_partition_keys())} shards in "
        f"{time.perf_counter() - t0:.0f} s")
    return time.perf_counter() - t0


def recomputed_flags(instance, run_id) -> list:
    import dagster as dg

    recs = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    return [r.event_log_entry.asset_materialization.metadata["recomputed"].value for r in recs]


def time_launched(instance, workspace: str, pk: str, repeats: int, log) -> list[dict]:
    from dagster import AssetKey
    from dagster._core.storage.dagster_run import DagsterRunStatus
    from dagster_graphql.client.query import LAUNCH_PIPELINE_EXECUTION_MUTATION
    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql, infer_job_selector

    shard, snapshot = pk.split("|")  # a multi-partition key names its dimensions in order: shard|snapshot
    tags = [{"key": "dagster/partition", "value": pk}, {"key": "dagster/partition/shard", "value": shard},
            {"key": "dagster/partition/snapshot", "value": snapshot}]  # what the UI's launch dialog sends
    out = []
    with define_out_of_process_context(workspace, None, instance) as ctx:
        selector = infer_job_selector(ctx, "__ASSET_JOB", asset_selection=[AssetKey(k).to_graphql_input()
                                                                           for k in PER_SHARD])
        for _ in range(repeats):
            t0 = time.perf_counter()
            res = execute_dagster_graphql(ctx, LAUNCH_PIPELINE_EXECUTION_MUTATION, variables={
                "executionParams": {"selector": selector, "executionMetadata": {"tags": tags}}})
            launched = res.data["launchPipelineExecution"]
            assert launched["__typename"] == "LaunchRunSuccess", launched
            run_id = launched["run"]["runId"]
            while not (run := instance.get_run_by_id(run_id)).is_finished:
                time.sleep(0.1)
            wall = time.perf_counter() - t0
            rec = instance.get_run_record_by_id(run_id)
            flags = recomputed_flags(instance, run_id)
            assert run.status == DagsterRunStatus.SUCCESS, run.status
            assert flags and not any(flags), flags
            out.append({"wall_s": round(wall, 2), "run_start_to_end_s": round(rec.end_time - rec.start_time, 2),
                        "materialisations": len(flags), "recomputed": sum(flags)})
            log(f"launched: {out[-1]}")
    return out


def time_in_process(defs, instance, pk: str, repeats: int, log) -> list[dict]:
    import dagster as dg

    out = []
    all_assets = [a for a in defs.assets if hasattr(a, "key")]
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        res = dg.materialize(all_assets, partition_key=pk, instance=instance, resources=defs.resources,
                             selection=PER_SHARD)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        flags = recomputed_flags(instance, res.run_id)
        assert res.success and flags and not any(flags), flags
        out.append({"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "materialisations": len(flags)})
        log(f"in process: {out[-1]}")
    return out


def child(args) -> dict:
    """Runs inside the code root (its modules first on sys.path): set up, materialise, time."""
    import warnings

    warnings.filterwarnings("ignore")
    import dagster as dg

    t0 = time.perf_counter()
    from curation_assets.definitions import defs
    from curation_assets.partitions import SHARDS, partition_key
    load_s = time.perf_counter() - t0
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    instance = dg.DagsterInstance.get()
    materialise_s = materialise_all(defs, instance, log)
    pk = str(partition_key("CC-MAIN-2024-22", SHARDS.get_partition_keys()[0]))
    launched = time_launched(instance, str(Path(args.code_root) / "workspace.yaml"), pk, args.repeats, log)
    in_process = time_in_process(defs, instance, pk, args.repeats, log)
    med = lambda rows, k: sorted(r[k] for r in rows)[len(rows) // 2]  # noqa: E731
    return {
        "code": subprocess.run(["git", "-C", args.code_root, "rev-parse", "--short", "HEAD"], capture_output=True,
                               text=True).stdout.strip() or args.code_root,
        "partition": pk, "assets": PER_SHARD, "definitions_import_s": round(load_s, 2),
        "materialise_sample_crawl_s": round(materialise_s, 1),
        "launched_runs": launched, "launched_median_wall_s": med(launched, "wall_s"),
        "in_process_runs": in_process, "in_process_median_wall_s": med(in_process, "wall_s"),
        "cpus": os.cpu_count(),
        "measured": "wall seconds (time.perf_counter); cpu_s = time.process_time of this process (in_process)",
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--label", required=True, help="key in the JSON file, e.g. before / after")
    p.add_argument("--code-root", default=str(HERE), help="checkout whose code is measured")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(HERE / "docs" / "run_overhead.json"))
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.code_root = str(Path(args.code_root).resolve())
    if args.child:
        print(json.dumps(child(args)))
        return
    with tempfile.TemporaryDirectory(prefix="run-overhead-") as tmp:
        # runs start at once (the UI's queued coordinator adds the daemon's dequeue interval on top)
        (Path(tmp) / "dagster.yaml").write_text("telemetry:\n  enabled: false\nrun_coordinator:\n  module: "
                                                "dagster._core.run_coordinator\n  class: DefaultRunCoordinator\n")
        env = {**os.environ, "PYTHONPATH": args.code_root, "DAGSTER_HOME": tmp, "CURATION_OUTPUT": f"{tmp}/out",
               "CURATION_CRAWL_ROOT": str(Path(args.code_root) / "sample_crawl"), "CURATION_NUM_SHARDS": "4",
               "CURATION_REWRITE_MAX_DOCS": "0"}
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", "--label", args.label,
                               "--code-root", args.code_root, "--repeats", str(args.repeats)],
                              cwd=args.code_root, env=env, stdout=subprocess.PIPE, text=True)
        if proc.returncode:
            sys.exit(f"bench failed (exit {proc.returncode})")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    out = Path(args.out)
    data = json.loads(out.read_text()) if out.exists() else {}
    data[args.label] = result
    out.write_text(json.dumps(data, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
