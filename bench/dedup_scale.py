"""Clustering time and peak memory for 1M and 10M documents of synthetic signatures with a known
duplicate rate (the per-snapshot stage of dedup: merge sorted bucket files from disk, connected
components, keep decision, index).

Synthetic snapshot: N documents in S shards. 90% are unique (random band keys, text and URL hashes);
10% are near-duplicates of a random unique document: each band is copied from it with probability 0.5
(at least one), and 30% of them are exact copies (every band and the text hash). So exactly the 10%
must be removed, one copy kept per cluster. Bucket files are written by a first process; the clustering
runs in a second one whose peak RSS is the figure.

    python bench/dedup_scale.py --docs 1000000 10000000 [--shards 64 256] [--chunk 4000000] [--workers 1 2]

``--workers 1 2`` clusters the same bucket files with each process count (the kinds of key, 14 bands + text +
URL, are merged and checked in separate processes and joined at the end: ``find_clusters(workers=...)``); every
count must give the same removed count. ``workers_cpu_s`` and ``peak_rss_per_worker_mib`` are the workers' own.

With ``--min-similarity X`` the bucket files also hold synthetic 112-value signatures (a duplicate shares
the 8 values of each band it copied from its source, so its estimated Jaccard is the share of bands
copied) and clustering runs the candidate check at X: the cost of the check (time, memory, disk).
Removed then falls short of the 10% by the duplicates whose copied-band share is below X.

Writes docs/dedup_scale.json.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DUP_RATE = 0.10
EXACT_SHARE = 0.30
N_BANDS = 14


def _mix(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint64)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def keys_of(doc: np.ndarray, kind: int) -> np.ndarray:
    """Deterministic key of a unique document for band ``kind`` (0..13), text (14) or URL (15)."""
    return _mix(doc.astype(np.uint64) * np.uint64(64) + np.uint64(kind + 1)) | np.uint64(1)


def signatures_of(doc: np.ndarray) -> np.ndarray:
    """112 deterministic pseudo-random values per unique document."""
    j = np.arange(N_BANDS * 8, dtype=np.uint64)
    return (_mix(doc.astype(np.uint64)[:, None] * np.uint64(128) + j[None, :] + np.uint64(99)) >> np.uint64(32)).astype(np.uint32)


def generate(workdir: str, n_docs: int, n_shards: int, seed: int = 0, with_signatures: bool = False) -> int:
    from curation.dedup.arrays import write_bucket_arrays

    rng = np.random.default_rng(seed)
    per = np.full(n_shards, n_docs // n_shards)
    per[: n_docs % n_shards] += 1
    start = 0
    n_dup = 0
    for s in range(n_shards):
        doc = np.arange(start, start + per[s], dtype=np.int64)
        start += per[s]
        is_dup = _is_dup_global(doc, n_docs, seed)
        source = rng.integers(0, n_docs, len(doc))
        redo = _is_dup_global(source, n_docs, seed)  # a duplicate's source is a unique document
        while redo.any():
            source[redo] = rng.integers(0, n_docs, int(redo.sum()))
            redo = _is_dup_global(source, n_docs, seed)
        n_dup += int(is_dup.sum())
        exact = is_dup & (_mix(doc.astype(np.uint64) + np.uint64(7)) % np.uint64(1000) < EXACT_SHARE * 1000)
        bands = np.stack([keys_of(doc, b) for b in range(N_BANDS)], axis=1)
        copy = rng.random((len(doc), N_BANDS)) < 0.5
        copy[np.arange(len(doc)), rng.integers(0, N_BANDS, len(doc))] = True
        copy[exact] = True
        copy &= is_dup[:, None]
        src_bands = np.stack([keys_of(source, b) for b in range(N_BANDS)], axis=1)
        bands = np.where(copy, src_bands, bands)
        text = np.where(exact, keys_of(source, 14), keys_of(doc, 14))
        url = keys_of(doc, 15)
        sigs = None
        if with_signatures:
            sigs = np.where(np.repeat(copy, 8, axis=1), signatures_of(source), signatures_of(doc))
        write_bucket_arrays(os.path.join(workdir, f"{s:04d}.buckets"), bands, text, url,
                            np.ones(len(doc), bool), "synthetic", sigs)
    return n_dup


def _is_dup_global(doc: np.ndarray, n_docs: int, seed: int) -> np.ndarray:
    """Which documents are duplicates: a fixed hash of the document number, so every shard agrees."""
    return (_mix(doc.astype(np.uint64) * np.uint64(2654435761) + np.uint64(seed + 3)) % np.uint64(10_000)
            < np.uint64(int(DUP_RATE * 10_000)))


def cluster(workdir: str, n_shards: int, chunk: int, min_similarity: float = 0.0, workers: int = 1) -> dict:
    import pyarrow as pa

    from curation.dedup.arrays import ArrayFile
    from curation.dedup.config import DedupConfig
    from curation.dedup.clusters import ShardInput, find_clusters, write_index
    from curation.dedup.decisions import decide

    inputs = []
    for s in range(n_shards):
        f = ArrayFile(os.path.join(workdir, f"{s:04d}.buckets"))
        inputs.append(ShardInput(f"{s:04d}", f, int(f.meta["rows"])))
    offsets = np.concatenate([[0], np.cumsum([i.rows for i in inputs])])

    def attributes(shard: str) -> pa.Table:
        i = int(shard)
        doc = np.arange(offsets[i], offsets[i + 1])
        return pa.table({"id": pa.array([f"doc{d:09d}" for d in doc]),
                         "text_chars": pa.array((_mix(doc.astype(np.uint64)) % np.uint64(10_000)).astype(np.int64)),
                         "fetch_date": pa.array(np.zeros(len(doc), "datetime64[ms]")).cast(pa.timestamp("ms", tz="UTC"))})

    cfg = DedupConfig(url=False, min_similarity=min_similarity)
    t0 = time.perf_counter()
    clusters = find_clusters(inputs, cfg, chunk=chunk, workers=workers)
    t1 = time.perf_counter()
    peak_cluster = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    members = decide(clusters, attributes, cfg)
    t2 = time.perf_counter()
    write_index(os.path.join(workdir, "index.arrays"), inputs, N_BANDS, "synthetic", "S", chunk=chunk)
    t3 = time.perf_counter()
    removed = int((~np.asarray(members.column("keep"))).sum())
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"workers": workers, "cluster_s": round(t1 - t0, 1), "decide_s": round(t2 - t1, 1), "index_s": round(t3 - t2, 1),
            "total_s": round(t3 - t0, 1), "removed": removed, "cluster_members": members.num_rows,
            "peak_rss_after_clustering_mib": round(peak_cluster, 1),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "cpu_s": round(time.process_time(), 1), "workers_cpu_s": round(kids.ru_utime + kids.ru_stime, 1),
            "peak_rss_per_worker_mib": round(kids.ru_maxrss / 1024, 1) if workers > 1 else None,
            "min_similarity": min_similarity,
            "candidate_pairs_dropped": sum(clusters.dropped.values())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--shards", type=int, nargs="+", default=None)
    ap.add_argument("--chunk", type=int, default=4_000_000)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--out", default=str(ROOT / "docs/dedup_scale.json"))
    ap.add_argument("--min-similarity", type=float, default=0.0)
    ap.add_argument("--step", choices=["generate", "cluster"])
    ap.add_argument("--n", type=int)
    ap.add_argument("--s", type=int)
    ap.add_argument("--workers", type=int, nargs="+", default=[1],
                    help="clustering processes (one kind of key per task); each count clusters the same files")
    args = ap.parse_args()
    if args.step == "generate":
        t0 = time.perf_counter()
        n_dup = generate(args.workdir, args.n, args.s, with_signatures=args.min_similarity > 0)
        print(json.dumps({"duplicates": n_dup, "generate_s": round(time.perf_counter() - t0, 1)}))
        return
    if args.step == "cluster":
        print(json.dumps(cluster(args.workdir, args.s, args.chunk, args.min_similarity, args.workers[0])))
        return
    shards = args.shards or [64 if n <= 1_000_000 else 256 for n in args.docs]
    results = []
    for n, s in zip(args.docs, shards):
        work = tempfile.mkdtemp(prefix="dedup-scale-", dir=args.workdir)
        try:
            sim = ["--min-similarity", str(args.min_similarity)]
            gen = _run(["--step", "generate", "--workdir", work, "--n", str(n), "--s", str(s), *sim])
            disk = sum(f.stat().st_size for f in Path(work).iterdir())
            for w in args.workers:
                res = _run(["--step", "cluster", "--workdir", work, "--s", str(s), "--chunk", str(args.chunk),
                            "--workers", str(w), *sim])
                row = {"documents": n, "shards": s, "chunk": args.chunk, "bucket_files_mib": round(disk / 2**20),
                       "expected_removed": gen["duplicates"], **gen, **res,
                       "correct": res["removed"] == gen["duplicates"]}
                results.append(row)
                print(json.dumps(row), flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    Path(args.out).parent.mkdir(exist_ok=True)
    Path(args.out).write_text(json.dumps({"duplicate_rate": DUP_RATE, "exact_share": EXACT_SHARE,
                                                            "results": results}, indent=1) + "\n")


def _run(extra: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *extra], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
