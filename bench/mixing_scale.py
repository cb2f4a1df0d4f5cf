"""Mixing at corpus scale: a synthetic store of N documents in S shards, mixed end to end, memory and time measured.

The store holds what the pipeline's stages write per shard, built directly (no extraction): ``language`` (id,
language, score), ``dedup`` (id, keep, cluster size), ``quality`` (id, pass, bucket), ``tokens`` (id, count: a
log-normal distribution with a median of 600 tokens, as web documents) and ``documents`` (id, url, text). With
``--text short`` (the default, so 5M documents fit on a small disk) each text is a short synthetic line: the run
then measures everything the mixer does (narrow label reads, plan, per-shard selection, reading the selected rows'
text and writing the parts) but the text read and written is ~60 bytes a document, not ~2.5 KB. ``--text real``
fills each document with real text (slices of the bundled web pages, ~4 characters per token), for the comparison
with the previous implementation (``--old``, commit 5b3d1d3: every kept text in one frame, re-tokenized).

The mixture runs in a subprocess of its own (its peak RSS is the mixture's alone), in one process (the Dagster
asset runs the per-shard writes as parallel ops; here they run one after another). Seconds are wall time on a
shared 2-core machine; CPU seconds are given beside them.

    python bench/mixing_scale.py --docs 1000000 5000000 --shards 64        # the new mixer, docs/mixing_scale.json
    python bench/mixing_scale.py --docs 20000 200000 --shards 16 --text real --old   # old vs new, same stores
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SNAPSHOTS = ["CC-MAIN-2024-10", "CC-MAIN-2024-18", "CC-MAIN-2024-22", "CC-MAIN-2024-26"]
LANGS = ["en", "de", "fr", "es"]
LANG_P = [0.55, 0.2, 0.15, 0.1]


def mixture(total_tokens: int, name: str = "scale") -> dict:
    weights = {f"crawl/{s}/{lang}": w * ws for s, ws in zip(SNAPSHOTS, [0.1, 0.2, 0.3, 0.4])
               for lang, w in zip(LANGS, [0.5, 0.25, 0.15, 0.1])}
    return {"name": name, "group_by": ["source", "snapshot", "language"], "weights": weights,
            "total_tokens": total_tokens, "tolerance": 0.02, "max_repeats": 4, "rehydrate": {1: 1, 2: 2, 5: 3},
            "seed": 0, "shard_tokens": 50_000_000, "keep_versions": 1}


def _real_text() -> str:
    import gzip

    with gzip.open(ROOT / "tests/data/cc-main-2019-30-docs.jsonl.gz", "rt") as fh:
        docs = [json.loads(line)["text"] for line in fh]
    wiki = [json.loads(line)["text"] for line in open(ROOT / "sample_data/quality/wikipedia-abstracts-en.jsonl")]
    return " ".join(" ".join(d.split()) for d in docs + wiki)


def build_store(base: Path, n_docs: int, n_shards: int, text: str, seed: int = 0) -> None:
    import numpy as np
    import polars as pl

    from curation.models.tokenizer import tokenizer_id
    from curation.core.storage import ShardStore

    store, tid = ShardStore(str(base)), tokenizer_id(None)
    corpus = _real_text() if text == "real" else None
    per_snap = max(1, n_shards // len(SNAPSHOTS))
    for k in range(n_shards):
        snap, shard = SNAPSHOTS[k % len(SNAPSHOTS)], f"{k // len(SNAPSHOTS):04d}"
        n = n_docs // n_shards + (k < n_docs % n_shards)
        rng = np.random.default_rng(seed * 100_003 + k)
        ids = pl.select(pl.format("{}-{}-{}", pl.lit(snap), pl.lit(shard), pl.int_range(0, n))).to_series().alias("id")
        tokens = np.clip(rng.lognormal(np.log(600), 1.0, n), 20, 100_000).astype(np.int32)
        if corpus is None:
            texts = pl.select(pl.format("synthetic document {} of shard {}", pl.int_range(0, n), pl.lit(shard)))
            texts = texts.to_series().alias("text")
        else:
            starts = rng.integers(0, len(corpus) - 1, n)
            texts = pl.Series("text", [(corpus[s:s + 4 * t] + " " + corpus[:max(0, s + 4 * t - len(corpus))])
                                       for s, t in zip(starts.tolist(), tokens.tolist())])
        cluster = np.where(rng.random(n) < 0.7, 1, rng.integers(2, 12, n))
        w = lambda asset, df: store.write(asset, snap, shard, df.to_arrow(), {"fingerprint": f"{asset}-{k}",
                                                                             "rows": n, "tokenizer": tid})
        w("documents", pl.DataFrame([ids, pl.Series("snapshot", [snap] * n),
                                     pl.Series("url", [None] * n, dtype=pl.String), texts]))
        w("language", pl.DataFrame([ids, pl.Series("language", np.array(LANGS)[rng.choice(4, n, p=LANG_P)]),
                                    pl.Series("language_score", rng.beta(8, 1.5, n).astype(np.float32))]))
        w("dedup", pl.DataFrame([ids, pl.Series("keep", rng.random(n) > 0.25),
                                 pl.Series("cluster_size", cluster.astype(np.int32))]))
        w("quality", pl.DataFrame([ids, pl.Series("quality_pass", rng.random(n) > 0.2),
                                   pl.Series("quality_bucket", rng.integers(0, 10, n).astype(np.int8))]))
        w("tokens", pl.DataFrame([ids, pl.Series("tokens", tokens)]))
    (base / "STORE").write_text(json.dumps({"documents": n_docs, "shards": n_shards, "per_snapshot": per_snap,
                                            "text": text}))


def _shards(base: Path) -> tuple[list[str], list[str]]:
    snaps = sorted(p.name for p in (base / "language").iterdir())
    shards = sorted({p.stem for s in snaps for p in (base / "language" / s).glob("*.parquet")})
    return snaps, shards


def run_new(base: Path, total_tokens: int) -> dict:
    """The new mixer, end to end (statistics, plan, per-shard selection and writing, publication)."""
    from curation.mixing.config import MixtureConfig
    from curation.models.tokenizer import tokenizer_id
    from curation.mixing.mixture import build
    from curation.mixing.source import units

    cfg = MixtureConfig(**mixture(total_tokens))
    snaps, shards = _shards(base)
    from curation.core.storage import ShardStore

    man = build(ShardStore(str(base)), cfg, units(cfg, snaps, shards), "bench", tokenizer_id(None))
    err = max(abs(g["achieved_weight"] - g["target_weight"]) for g in man["groups"])
    return {"total_tokens": man["total_tokens"], "target_tokens": total_tokens, "parts": len(man["shards"]),
            "documents_written": sum(p["documents"] for p in man["shards"]), "max_weight_error": round(err, 5),
            "shortfall_groups": sum(g["shortfall_tokens"] > 0 for g in man["groups"])}


def run_old(base: Path, total_tokens: int) -> dict:
    """Commit 5b3d1d3's mixer, as its mixture asset ran it: every kept text in one frame, re-tokenized."""
    import importlib.util

    import polars as pl

    git_dir = os.environ.get("MIXING_SCALE_GIT", str(ROOT))  # a checkout that has commit 5b3d1d3
    src = subprocess.run(["git", "-C", git_dir, "show", "5b3d1d3:curation/mixing.py"], capture_output=True,
                         text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "old_mixing.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("old_mixing", path)
    old = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = old  # dataclasses look their module up
    spec.loader.exec_module(old)
    from curation.core.storage import ShardStore

    cfg = old.MixtureConfig(**{k: v for k, v in mixture(total_tokens).items() if k != "keep_versions"})
    snaps, shards = _shards(base)
    cands, removed, _ = old.crawl_candidates(ShardStore(str(base)), snaps, shards, cfg)
    cands = cands.with_columns(pl.Series("tokens", old.count_tokens(cands["text"].to_list(),
                                                                    old.load_tokenizer(None))))
    cands = cands.with_columns(pl.Series("group", [old.group_key(r, cfg.group_by) for r in
                                                   cands.select(cfg.group_by).iter_rows(named=True)]))
    chosen, results = old.sample(cands, cfg)
    entries = old.write_shards(chosen, tempfile.mkdtemp(prefix="old-mixture-"), cfg)
    total = sum(r.tokens for r in results) or 1
    tw = sum(cfg.weights.values())
    err = max(abs(r.tokens / total - cfg.weights[r.group] / tw) for r in results)
    return {"total_tokens": total, "target_tokens": total_tokens, "parts": len(entries),
            "documents_written": chosen.height, "max_weight_error": round(err, 5)}


def child(args) -> int:
    t0, c0 = time.perf_counter(), time.process_time()
    res = (run_old if args.impl == "old" else run_new)(Path(args.store), args.total_tokens)
    res.update(seconds=round(time.perf_counter() - t0, 1), cpu_seconds=round(time.process_time() - c0, 1),
               peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
    print("RESULT " + json.dumps(res), flush=True)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, nargs="+", default=[1_000_000, 5_000_000])
    ap.add_argument("--shards", type=int, default=64)
    ap.add_argument("--text", choices=("short", "real"), default="short")
    ap.add_argument("--old", action="store_true", help="also run commit 5b3d1d3's mixer on each store")
    ap.add_argument("--only-old", action="store_true", help="run only commit 5b3d1d3's mixer")
    ap.add_argument("--token-fraction", type=float, default=0.3, help="the mixture's budget / the store's tokens")
    ap.add_argument("--work", help="where the stores go (default: a temporary folder; removed after each size)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "mixing_scale.json"))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--impl", default="new", help=argparse.SUPPRESS)
    ap.add_argument("--store", help=argparse.SUPPRESS)
    ap.add_argument("--total-tokens", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args)
    import shutil

    work = Path(args.work or tempfile.mkdtemp(prefix="mixing-scale-"))
    results = json.loads(Path(args.out).read_text()) if os.path.exists(args.out) else {"runs": []}
    for n in args.docs:
        base = work / f"store-{n}-{args.shards}-{args.text}"
        t0 = time.perf_counter()
        if not (base / "STORE").exists():
            build_store(base, n, args.shards, args.text)
        print(f"store of {n:,} documents in {args.shards} shards ({args.text} text): "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
        total = int(n * 600 * 1.65 * args.token_fraction)  # log-normal mean: 600 * e^0.5
        for impl in (["old"] if args.only_old else ["new", "old"] if args.old else ["new"]):
            cmd = [sys.executable, __file__, "--child", "--impl", impl, "--store", str(base), "--total-tokens",
                   str(total)]
            proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
            line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            if proc.returncode != 0 or not line:
                res = {"failed": (proc.stderr or proc.stdout)[-600:]}
            else:
                res = json.loads(line[0][7:])
            run = {"implementation": impl, "documents": n, "shards": args.shards, "text": args.text, **res}
            print(json.dumps(run), flush=True)
            key = lambda r: (r["implementation"], r["documents"], r["shards"], r["text"])
            results["runs"] = sorted([r for r in results["runs"] if key(r) != key(run)] + [run], key=key)
            results["note"] = ("seconds: wall time on a 2-core machine shared with other jobs (cpu_seconds beside "
                               "it); peak_rss_mib: the mixture's process alone; text 'short': ~60-byte synthetic "
                               "texts (labels, tokens and selection at full scale, text I/O not), 'real': real text "
                               "slices of about 4 characters per token; new = curation.mixing.mixture.build in one "
                               "process, old = commit 5b3d1d3's crawl_candidates + count_tokens + sample + "
                               "write_shards")
            Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
        if not args.work:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
