"""``curation run``: materialise every asset for every snapshot x shard of a crawl, with a local Dagster instance.

Each partition runs as a real Dagster run recorded in the instance (SQLite under DAGSTER_HOME), so
``dagster dev`` afterwards shows the runs, the metadata and the lineage. Finished shards whose inputs
did not change are not recomputed, so a killed run resumes where it stopped.
"""

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _setup_env(args) -> Path:
    if args.crawl_root:
        os.environ["CURATION_CRAWL_ROOT"] = args.crawl_root
    if args.output:
        os.environ["CURATION_OUTPUT"] = str(Path(args.output).resolve())
    if args.shards:
        os.environ["CURATION_NUM_SHARDS"] = str(args.shards)
    home = Path(os.environ.get("DAGSTER_HOME") or args.dagster_home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    cfg = home / "dagster.yaml"
    if not cfg.exists():  # SQLite storage is Dagster's default under DAGSTER_HOME
        cfg.write_text("telemetry:\n  enabled: false\n")
    return home


def run(args) -> int:
    home = _setup_env(args)
    import warnings

    warnings.filterwarnings("ignore")  # Dagster's beta/preview notices would break the progress display
    import dagster as dg
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from curation_assets.definitions import defs
    from curation_assets.partitions import SNAPSHOTS, SHARDS, partition_key
    from curation_assets.settings import crawl_root, output_base, rewrite_max_chars, rewrite_max_documents

    console = Console(width=None if sys.stdout.isatty() else 110)
    instance = dg.DagsterInstance.get()
    crawl = defs.resources["crawl"].source()
    snapshots = crawl.list_snapshots()
    if args.snapshots:
        wanted = set(args.snapshots.split(","))
        missing = wanted - set(snapshots)
        if missing:
            console.print(f"[red]snapshots not found under {crawl_root()}: {sorted(missing)}")
            return 2
        snapshots = [s for s in snapshots if s in wanted]
    if not snapshots:
        console.print(f"[red]no snapshot under {crawl_root()}/crawl-data")
        return 2
    known = set(instance.get_dynamic_partitions(SNAPSHOTS.name))
    new = [s for s in snapshots if s not in known]
    if new:
        instance.add_dynamic_partitions(SNAPSHOTS.name, new)
    console.print(f"crawl root  {crawl_root()}\noutput      {output_base()}\ndagster     {home}\n"
                  f"snapshots   {', '.join(snapshots)} x {len(SHARDS.get_partition_keys())} shards")
    defs.resolve_job_def("observe_warc_files").execute_in_process(instance=instance, run_config=QUIET_LOGS)

    shard_job = defs.resolve_job_def("curate_shards")
    cluster_job = defs.resolve_job_def("cluster_snapshot")
    label_job = defs.resolve_job_def("label_shards")
    classifier_job = defs.resolve_job_def("train_quality_classifier")
    rewrite_job = defs.resolve_job_def("rewrite_shards")
    mixture_job = defs.resolve_job_def("build_mixture")
    run_config = dict(QUIET_LOGS)
    if args.perplexity:
        run_config["resources"] = {"quality_settings": {"config": {"perplexity": True}}}
    rewrite_config = dict(QUIET_LOGS)
    # run config replaces the resource's whole configuration, so the deployment's limits are passed along
    rw = {"enabled": not args.no_rewrite, "max_documents_per_shard": rewrite_max_documents(),
          "max_source_chars": rewrite_max_chars()}
    if args.rewrite_max_chars is not None:
        rw["max_source_chars"] = args.rewrite_max_chars
    if args.rewrite_docs is not None:
        rw["max_documents_per_shard"] = args.rewrite_docs
    if args.rewrite_server:
        rw.update(backend="openai", base_url=args.rewrite_server, model=args.rewrite_model or "default")
    elif args.rewrite_model:
        rw["model"] = args.rewrite_model
    rewrite_config["resources"] = {"rewrite_settings": {"config": rw}}
    if args.perplexity:
        rewrite_config["resources"]["quality_settings"] = {"config": {"perplexity": True}}
    keys = [(s, sh) for s in snapshots for sh in SHARDS.get_partition_keys()]
    failures, recomputed = [], Counter()
    t0 = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn())

    def execute(job, key, label, config=QUIET_LOGS):
        result = job.execute_in_process(partition_key=key, instance=instance, run_config=config,
                                        raise_on_error=False)
        if not result.success:
            failures.append((label, _failure_message(result)))
        return result

    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("partitions", total=3 * len(keys) + len(snapshots) + 2)
        for snapshot, shard in keys:
            progress.update(task, description=f"extract, language, signatures: {snapshot} shard {shard}")
            result = execute(shard_job, partition_key(snapshot, shard), f"{snapshot} shard {shard}")
            if result.success:
                for mat in result.asset_materializations_for_node("documents"):
                    recomputed["recomputed" if mat.metadata["recomputed"].value else "up to date"] += 1
            progress.advance(task)
        failed_snapshots = {label.split()[0] for label, _ in failures}
        for snapshot in snapshots:
            progress.update(task, description=f"dedup clusters: {snapshot}")
            if snapshot not in failed_snapshots:
                result = execute(cluster_job, snapshot, f"{snapshot} clusters")
                if not result.success:
                    failed_snapshots.add(snapshot)
            progress.advance(task)
        progress.update(task, description="training the quality classifier")
        if not failures:
            result = execute(classifier_job, None, "quality classifier")
            if not result.success:
                failed_snapshots.update(snapshots)
        progress.advance(task)
        for snapshot, shard in keys:
            progress.update(task, description=f"dedup and quality labels: {snapshot} shard {shard}")
            if snapshot not in failed_snapshots:
                result = execute(label_job, partition_key(snapshot, shard), f"{snapshot} shard {shard} labels",
                                 run_config)
                if result.success:
                    for mat in result.asset_materializations_for_node("dedup"):
                        recomputed["labels rewritten" if mat.metadata["recomputed"].value else "labels unchanged"] += 1
                else:
                    failed_snapshots.add(snapshot)
            progress.advance(task)
        for snapshot, shard in keys:
            progress.update(task, description=f"LLM rewrites: {snapshot} shard {shard}")
            if snapshot not in failed_snapshots:
                result = execute(rewrite_job, partition_key(snapshot, shard), f"{snapshot} shard {shard} rewrites",
                                 rewrite_config)
                if result.success:
                    for mat in result.asset_materializations_for_node("rewrites"):
                        if mat.metadata["recomputed"].value:
                            recomputed["chunks generated"] += int(mat.metadata["chunks_generated"].value)
            progress.advance(task)
        progress.update(task, description="mixture")
        if not failures and not args.no_mixture:
            mix_config = dict(QUIET_LOGS)
            if args.mixture:
                path = str(Path(args.mixture).resolve())
                mix_config["ops"] = {"mixture": {"config": {"path": path}}, "corpora": {"config": {"path": path}}}
            execute(mixture_job, None, "mixture", mix_config)
        progress.advance(task)
    _summary(console, defs, snapshots, time.perf_counter() - t0, recomputed)
    for label, msg in failures:
        console.print(f"[red]FAILED {label}: {msg}")
    return 1 if failures else 0


def _failure_message(result) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            return event.step_failure_data.error.message.strip().splitlines()[-1]
    return "run failed (see the run in the Dagster UI)"


def _summary(console, defs, snapshots, seconds, recomputed) -> None:
    from rich.table import Table

    from curation_assets.partitions import SHARDS

    store = defs.resources["storage"].store()
    docs_in, docs_out, dropped, langs, above = 0, 0, Counter(), Counter(), 0
    for s in snapshots:
        for sh in SHARDS.get_partition_keys():
            d = store.info("documents", s, sh) or {}
            docs_in += d.get("records_in", 0)
            docs_out += d.get("rows", 0)
            dropped.update(d.get("dropped", {}))
            li = store.info("language", s, sh) or {}
            langs.update(li.get("languages", {}))
            above += li.get("above_fineweb_threshold", 0)
    console.print(f"\n[bold]done in {seconds:.1f}s[/bold]  shards recomputed: {recomputed['recomputed']}, "
                  f"up to date: {recomputed['up to date']}; dedup labels rewritten: {recomputed['labels rewritten']}, "
                  f"unchanged: {recomputed['labels unchanged']}")
    console.print(f"outputs     {store.asset_url('')}  (documents, language, minhash_signatures, dedup_clusters, dedup)")
    console.print(f"records in  {docs_in:,}   documents out {docs_out:,}   dropped {sum(dropped.values()):,}   "
                  f"language score >= 0.65: {above:,}")
    t = Table("language", "documents", title="documents per language (labels; no language is dropped here)")
    for lang, n in langs.most_common(15):
        t.add_row(lang, f"{n:,}")
    if len(langs) > 15:
        t.add_row(f"{len(langs) - 15} others", f"{sum(n for _, n in langs.most_common()[15:]):,}")
    console.print(t)
    t = Table("reason", "records", title="dropped per reason")
    for reason, n in dropped.most_common():
        t.add_row(reason, f"{n:,}")
    console.print(t)
    q = Counter()
    qn = 0
    for s in snapshots:
        for sh in SHARDS.get_partition_keys():
            qi = store.info("quality", s, sh) or {}
            if qi:
                qn += qi["rows"]
                q.update({k: v * qi["rows"] for k, v in qi["pass_rate"].items()})
    if qn:
        console.print("quality     pass rate " + ", ".join(f"{k} {v / qn:.2f}" for k, v in q.items())
                      + f"  (labels over {qn:,} documents; thresholds applied when the mixture is built)")
    t = Table("snapshot", "documents", "kept", "exact dup", "URL dup", "near dup", "clusters",
              title="deduplication (labels; applied when the mixture is built)")
    for s in snapshots:
        c = store.info("dedup_clusters", s, "members")
        if c:
            r = c["removed"]
            t.add_row(s, f"{c['documents']:,}", f"{c['kept']:,}", f"{r.get('exact_duplicate', 0):,}",
                      f"{r.get('url_duplicate', 0):,}", f"{r.get('minhash_duplicate', 0):,}", f"{c['clusters']:,}")
    console.print(t)
    _rewrite_summary(console, store, snapshots, recomputed["chunks generated"])
    _mixture_summary(console, store)


def _rewrite_summary(console, store, snapshots, generated_now: int) -> None:
    from rich.table import Table

    from curation_assets.partitions import SHARDS

    sel = acc = tok = 0
    secs, rejected, model, prompt = 0.0, Counter(), None, None
    for s in snapshots:
        for sh in SHARDS.get_partition_keys():
            ri = store.info("rewrites", s, sh)
            if ri:
                sel += ri["selected"]
                acc += ri["accepted"]
                tok += ri["generated_tokens"]
                secs += ri["generation_seconds"]
                rejected.update(ri["rejected"])
                model, prompt = ri["model"], ri["prompt"]
    if not sel:
        return
    speed = f"{tok / secs:.1f} tokens/s when generated" if secs else "from cache"
    console.print(f"rewrites    {sel} selected, {acc} accepted; prompt {prompt}, model {model}; "
                  f"chunks generated this run: {generated_now} ({speed}); {store.asset_url('rewrites')}",
                  soft_wrap=True)
    t = Table("verdict", "rewrites", title="LLM rewrites (accepted ones join the mixture as source `rewrite`)")
    t.add_row("accepted", f"{acc:,}")
    for reason, n in rejected.most_common():
        t.add_row(reason, f"{n:,}")
    console.print(t)


def _mixture_summary(console, store) -> None:
    import json

    from rich.table import Table

    for name in store.snapshots("mixtures"):
        if not store.side_exists("mixtures", name, "manifest.json"):
            continue
        with store.fs.open(store.side_path("mixtures", name, "manifest.json")) as fh:
            man = json.load(fh)
        t = Table("group", "target", "achieved", "tokens", "documents", "repetition", "shortfall",
                  title=f"mixture {name}: {man['total_tokens']:,} tokens in {len(man['shards'])} shards "
                        f"(data card: {store.side_url('mixtures', name, 'DATA_CARD.md')})")
        for g in man["groups"]:
            t.add_row(g["group"], f"{g['target_weight']:.3f}", f"{g['achieved_weight']:.3f}", f"{g['tokens']:,}",
                      f"{g['documents']:,}", f"{g['repetition']:.2f}", f"{g['shortfall_tokens']:,}")
        console.print(t)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="curation", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="materialise every asset, from WARC files to the training mixture, for every snapshot x shard")
    r.add_argument("--crawl-root", help="local folder or s3:// URL (default: the bundled sample crawl)")
    r.add_argument("--output", help="base folder or s3:// URL for Parquet shards (default: ./curation_output)")
    r.add_argument("--shards", type=int, help="shard count (default 4, or $CURATION_NUM_SHARDS)")
    r.add_argument("--snapshots", help="comma-separated snapshots to run (default: all)")
    r.add_argument("--mixture", help="mixture YAML to build (default mixtures/demo.yaml)")
    r.add_argument("--no-mixture", action="store_true", help="stop after the per-shard labels and rewrites")
    r.add_argument("--no-rewrite", action="store_true", help="select nothing for LLM rewriting")
    r.add_argument("--rewrite-docs", type=int,
                   help="documents rewritten per shard at most (default $CURATION_REWRITE_MAX_DOCS or 1)")
    r.add_argument("--rewrite-max-chars", type=int,
                   help="leave longer documents alone (default $CURATION_REWRITE_MAX_CHARS or 1500)")
    r.add_argument("--rewrite-server", help="base URL of an OpenAI-compatible server to rewrite with "
                                            "(default: the local SmolLM2-135M-Instruct model)")
    r.add_argument("--rewrite-model", help="model to rewrite with: a path / hub id, or the served model's name")
    r.add_argument("--perplexity", action="store_true",
                   help="also score perplexity under SmolLM2-135M (slow on a CPU: about 1 s per document)")
    r.add_argument("--dagster-home", default="dagster_home", help="Dagster instance folder (default ./dagster_home)")
    args = ap.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
