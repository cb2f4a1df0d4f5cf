"""Dagster at Common Crawl scale, simulated (issue 26 part 2): S snapshots x N shards on PostgreSQL.

    python bench/dagster_scale.py                                   # 100 snapshots x 512 shards, 90,000 files each
    python bench/dagster_scale.py --snapshots 3 --shards 16 --files 2000 --json /tmp/smoke.json   # smoke run

1. Starts PostgreSQL (scripts/postgres.sh) with an instance configured by deploy/dagster.yaml.
2. A simulated crawl stands in for S3 (bench/dagster_scale_sim.py: an fsspec filesystem ``simcrawl://`` serving
   generated ``warc.paths.gz`` listings and per-segment listings with sizes and ETags), so ``CrawlSource`` and
   ``crawl_sensor`` run unchanged. The sensor's first tick over every snapshot registers them and yields every
   shard's data version (the old design's tick, timed as ``sensor_tick_all_snapshots``).
3. Records, without computing anything, those ``warc_files`` observations and a materialisation with a data
   version for every asset and partition (bench/dagster_scale_events.py; ``--writer``).
4. Times (a) the automation sensor's tick as the daemon runs it (evaluate, store the evaluations, serialise
   the cursor); (b) the crawl sensor's tick (now verifying snapshots in rotation within a time budget); both
   with nothing changed, after one replaced WARC file, and after a new snapshot appears; (c) the UI's own
   GraphQL queries for ``documents`` (read from dagster-webserver's bundle) through a code server started from
   workspace.yaml; (d) launching a backfill of the new snapshot's shard assets (the UI's mutation) and the
   backfill daemon submitting its runs. Writes every figure to ``--json`` as it goes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from dagster_scale_events import record_everything
from dagster_scale_sim import SimCrawlFS, snapshot_names, ui_query

SHARD_ASSETS = ["documents", "language", "minhash_signatures", "tokens"]  # the curate_shards job
UI_QUERIES = ["AssetViewDefinitionQuery", "AssetGraphLiveQuery", "AssetOverviewMetadataEventsQuery",
              "PartitionHealthQuery", "AssetPartitionDetailQuery", "AssetPartitionStaleQuery",
              "LatestAssetPartitionsQuery", "AssetHealthQuery", "AssetAutomationQuery"]
TARGETS = {"automation_tick_unchanged": 30, "automation_tick_one_file": 60, "sensor_tick": 60, "ui_query": 5}


def timed(fn, *a, **kw):
    t0 = time.perf_counter()
    out = fn(*a, **kw)
    return out, round(time.perf_counter() - t0, 3)


def start_postgres(work: str) -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.chmod(work, 0o777)  # the server runs as the postgres user when we are root
    out = subprocess.run([str(ROOT / "scripts/postgres.sh"), "start", f"{work}/pg", str(port)], check=True,
                         capture_output=True, text=True, timeout=600).stdout.strip().splitlines()[-1]
    return out.replace("postgresql://", "postgresql+psycopg2://")


def configure(args, work: str, url: str) -> None:
    """Environment of this process and of the code server the GraphQL context starts."""
    home = Path(work) / "home"
    home.mkdir()
    shutil.copy(ROOT / "deploy/dagster.yaml", home / "dagster.yaml")
    os.environ.update({"DAGSTER_HOME": str(home), "DAGSTER_PG_URL": url, "CURATION_NUM_SHARDS": str(args.shards),
                       "CURATION_CRAWL_ROOT": "simcrawl://cc", "CURATION_OUTPUT": f"{work}/out",
                       "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))})
    SimCrawlFS.snapshots = snapshot_names(args.snapshots)
    SimCrawlFS.files_per_snapshot = args.files


def sensor_tick(instance, cursor: str | None, budget_s: float | None = None):
    """One crawl_sensor tick as the daemon runs it: evaluate, then store its observations (one by one, as the
    sensor daemon does; the first tick's 51,200 are left to the caller) and register its new snapshots."""
    import dagster as dg

    import sensors
    from curation_assets.definitions import resources

    SimCrawlFS.calls.update(list=0, get=0)
    budget, sensors.TICK_BUDGET_SECONDS = sensors.TICK_BUDGET_SECONDS, budget_s or sensors.TICK_BUDGET_SECONDS
    try:
        ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources())
        result, seconds = timed(sensors.crawl_sensor, ctx)
    finally:
        sensors.TICK_BUDGET_SECONDS = budget
    t0 = time.perf_counter()
    for req in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    if cursor is not None:
        for e in result.asset_events:
            instance.report_runless_asset_event(e)
    state = json.loads(result.cursor)
    return result, {"seconds": round(seconds + time.perf_counter() - t0, 3), "evaluate_seconds": seconds,
                    "snapshots_verified": sum(v["tick"] == state["tick"] for v in state["snapshots"].values()),
                    "observations": len(result.asset_events), "cursor_bytes": len(result.cursor),
                    "s3_list_requests": SimCrawlFS.calls["list"], "s3_get_requests": SimCrawlFS.calls["get"]}


def automation_tick(defs, instance, cursor):
    """One tick of the automation sensor as the daemon runs it (AssetDaemon._evaluate_auto_materialize_tick):
    evaluate every condition, store the evaluations (chunks of 500) and serialise the new cursor. The daemon's
    asset graph comes from the code server's snapshot; here from the same definitions in process."""
    import dagster as dg
    from dagster._core.definitions.asset_daemon_cursor import AssetDaemonCursor
    from dagster._core.definitions.automation_tick_evaluation_context import (
        AutomationTickEvaluationContext,
    )
    from dagster._core.definitions.partitions.context import partition_loading_context
    from dagster._serdes import serialize_value

    cursor = cursor or AssetDaemonCursor.empty()
    t0 = time.perf_counter()
    tick = AutomationTickEvaluationContext(
        evaluation_id=cursor.evaluation_id + 1, instance=instance, asset_graph=defs.resolve_asset_graph(),
        cursor=cursor, materialize_run_tags={}, observe_run_tags={}, auto_observe_asset_keys=set(),
        asset_selection=dg.AssetSelection.all(), logger=logging.getLogger("automation"), emit_backfills=False)
    run_requests, new_cursor, evaluations = tick.evaluate()
    t1 = time.perf_counter()
    evaluations = [e.with_run_ids(set()) for e in evaluations]
    with partition_loading_context(dynamic_partitions_store=instance):
        for i in range(0, len(evaluations), 500):
            instance.schedule_storage.add_auto_materialize_asset_evaluations(new_cursor.evaluation_id,
                                                                             evaluations[i:i + 500])
        blob = serialize_value(new_cursor)
    t2 = time.perf_counter()
    requested: dict = {}
    for rr in run_requests:
        for key in rr.asset_selection or []:
            requested[key.to_user_string()] = requested.get(key.to_user_string(), 0) + 1
    return new_cursor, {"seconds": round(t2 - t0, 3), "evaluate_seconds": round(t1 - t0, 3),
                        "store_seconds": round(t2 - t1, 3), "runs": len(run_requests), "requested": requested,
                        "evaluations_stored": len(evaluations), "cursor_bytes": len(blob)}


def ui_and_backfill(instance, snapshot: str, new_snapshot: str, shard_keys: list[str], limit_s: float) -> dict:
    """(c) the UI's queries for ``documents`` (partition views on ``snapshot``), each run twice (a first view,
    then the same page again), on an instance set up as dagster-webserver sets up its own (pooled connection,
    15 s statement timeout); (d) a backfill of ``new_snapshot``'s shard assets launched as the UI launches it,
    then the backfill daemon's iteration (plain instance, as the daemon's) submitting its runs to the queue
    (one iteration submits them all, in chunks of 25), cancelled after ``limit_s``."""
    import threading

    import dagster as dg
    from dagster._core.execution.backfill import BulkActionStatus
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster._daemon.backfill import execute_backfill_iteration
    from dagster_graphql.test.utils import execute_dagster_graphql

    from curation_assets.partitions import partition_key

    out: dict = {"queries": {}}
    doc = {"path": ["documents"]}
    variables = {"assetKey": doc, "assetKeys": [doc], "partitionKey": str(partition_key(snapshot, shard_keys[0])),
                 "limit": 1}
    target = WorkspaceFileTarget(paths=[str(ROOT / "workspace.yaml")])
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with dg.DagsterInstance.get() as web:
            web.optimize_for_webserver(statement_timeout=15000, pool_recycle=3600, max_overflow=20)
            (pctx, out["code_server_start_seconds"]) = timed(WorkspaceProcessContext, web, target)
            with pctx:
                for name in UI_QUERIES:
                    query, runs = ui_query(name), []
                    for _ in range(2):  # first view, then the same page again
                        res, s = timed(execute_dagster_graphql, pctx.create_request_context(), query, variables)
                        runs.append(s)
                    out["queries"][name] = {"seconds": runs, "bytes": len(json.dumps(res.data))}
                params = {"partitionNames": [str(partition_key(new_snapshot, s)) for s in shard_keys],
                          "assetSelection": [{"path": [a]} for a in SHARD_ASSETS], "tags": []}
                res, s = timed(execute_dagster_graphql, pctx.create_request_context(),
                               ui_query("LaunchPartitionBackfill", "mutation"), {"backfillParams": params})
        backfill_id = res.data["launchPartitionBackfill"]["backfillId"]
        out["backfill_launch"] = {"seconds": s, "asset_partitions": len(shard_keys) * len(SHARD_ASSETS),
                                  "runs_to_submit": len(shard_keys)}
        with WorkspaceProcessContext(instance, target) as dctx:
            before, t0, first = instance.get_runs_count(), time.perf_counter(), None
            worker = threading.Thread(target=lambda: list(execute_backfill_iteration(dctx, logging.getLogger("bf"))))
            worker.start()
            while worker.is_alive():
                n = instance.get_runs_count() - before
                first = first or (n and time.perf_counter() - t0)
                if time.perf_counter() - t0 > limit_s:
                    instance.update_backfill(instance.get_backfill(backfill_id).with_status(BulkActionStatus.CANCELING))
                    break
                time.sleep(0.5)
            worker.join()
            s, n = time.perf_counter() - t0, instance.get_runs_count() - before
        out["backfill_daemon"] = {"seconds": round(s, 1), "runs_submitted": n,
                                  "seconds_to_first_run": round(first or 0, 1),
                                  "seconds_per_run": round(s / max(n, 1), 2),
                                  "extrapolated_seconds_all_runs": round(s / max(n, 1) * len(shard_keys))}
    finally:
        os.chdir(cwd)
    return out


def save(out: dict, path: str) -> None:
    """Written after every step, so a long run shows its figures as they come."""
    Path(path).write_text(json.dumps(out, indent=1) + "\n")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snapshots", type=int, default=100)
    ap.add_argument("--shards", type=int, default=512)
    ap.add_argument("--files", type=int, default=90_000, help="WARC files per snapshot")
    ap.add_argument("--pg-url", help="an existing PostgreSQL database (default: start one with scripts/postgres.sh)")
    ap.add_argument("--writer", choices=["copy", "dagster"], default="copy",
                    help="how the simulated materialisations are written (bench/dagster_scale_events.py)")
    ap.add_argument("--backfill-seconds", type=float, default=600,
                    help="cancel the backfill (the daemon stops after its chunk of 25 runs) after this long")
    ap.add_argument("--skip-ui", action="store_true", help="skip (c) and (d)")
    ap.add_argument("--json", default=str(ROOT / "docs/dagster_scale.json"))
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="dagster-scale-")
    url = args.pg_url or start_postgres(work)
    configure(args, work, url)
    t_start = time.perf_counter()
    out: dict = {"command": " ".join(["python bench/dagster_scale.py", *(argv if argv is not None else sys.argv[1:])]),
                 "date": datetime.date.today().isoformat(), "snapshots": args.snapshots, "shards": args.shards,
                 "files_per_snapshot": args.files, "targets_seconds": TARGETS,
                 "machine": "2 cores shared with other sessions, no GPU; PostgreSQL 15 on loopback"}
    try:
        import dagster as dg

        from curation_assets.definitions import defs
        from curation_assets.partitions import SHARDS

        with dg.DagsterInstance.get() as instance:
            # the first tick over the whole crawl, every snapshot in one tick (what every tick did before the
            # rotation in sensors/__init__.py): registers the snapshots, yields every shard's data version
            first, out["sensor_tick_all_snapshots"] = sensor_tick(instance, None, budget_s=1e9)
            save(out, args.json)
            obs = {e.partition: e.tags["dagster/data_version"] for e in first.asset_events}
            out["events"], out["record_seconds"] = timed(record_everything, instance, defs, obs, args.writer, url)
            save(out, args.json)
            out["writer"] = args.writer
            cursor, out["automation_first_tick"] = automation_tick(defs, instance, None)
            save(out, args.json)
            cursor, out["automation_tick_unchanged"] = automation_tick(defs, instance, cursor)
            save(out, args.json)
            res, out["sensor_tick_unchanged"] = sensor_tick(instance, first.cursor)
            save(out, args.json)
            from sensors import due_order, load_cursor

            state = load_cursor(res.cursor)
            due = due_order(list(state["snapshots"]), state["snapshots"])[0]
            fs = SimCrawlFS()
            fs.replace(fs.some_file(due))  # a replaced WARC file in the snapshot the next tick verifies
            res, out["sensor_tick_one_file"] = sensor_tick(instance, res.cursor)
            save(out, args.json)
            per_tick = out["sensor_tick_unchanged"]["snapshots_verified"]
            out["sensor_rotation_ticks"] = -(-args.snapshots // max(per_tick, 1))
            cursor, out["automation_tick_one_file"] = automation_tick(defs, instance, cursor)
            save(out, args.json)
            cursor, out["automation_tick_after"] = automation_tick(defs, instance, cursor)
            save(out, args.json)
            # a new snapshot appears (Common Crawl publishes about one a month): registered and its shards'
            # versions recorded by the next sensor tick, then requested by automation
            SimCrawlFS.snapshots = snapshot_names(args.snapshots + 1)
            res, out["sensor_tick_new_snapshot"] = sensor_tick(instance, res.cursor)
            save(out, args.json)
            cursor, out["automation_tick_new_snapshot"] = automation_tick(defs, instance, cursor)
            save(out, args.json)
            if not args.skip_ui:
                out["ui"] = ui_and_backfill(instance, SimCrawlFS.snapshots[0], SimCrawlFS.snapshots[-1],
                                            SHARDS.get_partition_keys(), args.backfill_seconds)
                save(out, args.json)
    finally:
        if not args.pg_url:
            subprocess.run([str(ROOT / "scripts/postgres.sh"), "stop", f"{work}/pg"], check=False, timeout=120)
        shutil.rmtree(work, ignore_errors=True)
    out["total_seconds"] = round(time.perf_counter() - t_start, 1)
    out["load_average_at_end"] = [round(x, 1) for x in os.getloadavg()]  # the machine is shared
    save(out, args.json)
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
