"""MinHash signature speed on real text, one core, shingling included: ours against rensa, datasketch and
datatrove's MinhashDedupSignature, in one run.

Documents: the real texts of tests/data (Common Crawl documents and human-written article bodies) and the
sample crawl's extracted pages, concatenated in order into documents of about 6,700 characters (the size
the issue measured at). Every variant computes 112 hashes (14 bands x 8 rows) over word 5-grams; each
runs in its own process with one thread (POLARS_MAX_THREADS=1), and its CPU time is what counts.

    python bench/minhash_speed.py [--datatrove-python bench/.dtvenv/bin/python] [--repeat 3]

Writes docs/minhash_speed.json.
"""

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_CHARS = 6700


def build_documents() -> list[str]:
    texts = []
    with gzip.open(ROOT / "tests/data/cc-main-2019-30-docs.jsonl.gz", "rt") as fh:
        texts += [json.loads(line)["text"] for line in fh]
    gt = json.loads((ROOT / "tests/data/article-extraction-benchmark-ground-truth.json").read_text())
    texts += [v["articleBody"] for _, v in sorted(gt.items())]
    out = ROOT / "curation_output/documents"
    if out.exists():
        import pyarrow.parquet as pq

        texts += pq.read_table(out, columns=["text"]).column("text").to_pylist()
    docs, cur = [], ""
    for t in texts:
        if not t.strip():
            continue
        cur = f"{cur}\n\n{t}" if cur else t
        if len(cur) >= TARGET_CHARS:
            docs.append(cur[: int(TARGET_CHARS * 1.1)])
            cur = ""
    return docs


def worker(variant: str, path: str, repeat: int) -> dict:
    texts = [json.loads(line) for line in open(path)]
    if variant.startswith("ours"):
        sys.path.insert(0, str(ROOT))
        from curation.dedup.minhash import MinHasher

        h = MinHasher()
        if variant == "ours (batch, cold: a new hasher per pass)":
            run = lambda: MinHasher().signatures(texts)  # noqa: E731  (the token table starts empty every pass)
        else:
            run = (lambda: h.signatures(texts)) if variant == "ours (batch)" else (lambda: [h.signature(t) for t in texts])
    elif variant.startswith("rensa") or variant.startswith("datasketch"):
        sys.path.insert(0, str(ROOT))
        from curation.dedup.minhash import words

        split = words if "datatrove words" in variant else str.split

        def shingles(t):
            w = split(t)
            return [" ".join(w[i:i + 5]) for i in range(max(1, len(w) - 4))]

        if variant.startswith("rensa"):
            from rensa import RMinHash

            def one(t):
                m = RMinHash(num_perm=112, seed=1)
                m.update(shingles(t))
                return m.digest()
        else:
            from datasketch import MinHash

            def one(t):
                m = MinHash(num_perm=112, seed=1)
                m.update_batch([s.encode() for s in shingles(t)])
                return m.digest()
        run = lambda: [one(t) for t in texts]  # noqa: E731
    elif variant == "datatrove":
        from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

        with tempfile.TemporaryDirectory() as tmp:
            step = MinhashDedupSignature(output_folder=tmp, config=MinhashConfig())
            step.get_signature(step.get_shingles(texts[0]))  # load the tokenizer outside the timing
            run = lambda: [step.get_signature(step.get_shingles(t)) for t in texts]  # noqa: E731
            return _time(run, texts, repeat)
    else:
        raise ValueError(variant)
    run()  # warm-up: imports, regex compilation, caches
    return _time(run, texts, repeat)


def _time(run, texts, repeat) -> dict:
    import resource

    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(repeat):
        run()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    n = len(texts) * repeat
    chars = sum(map(len, texts)) * repeat
    return {"docs": n, "mean_chars": round(chars / n), "cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
            "docs_per_cpu_s": round(n / cpu, 1), "mb_per_cpu_s": round(chars / cpu / 1e6, 2),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


VARIANTS = ["ours (batch)", "ours (batch, cold: a new hasher per pass)", "ours (one text at a time)", "rensa (datatrove words)", "rensa (str.split)",
            "datasketch (datatrove words)", "datasketch (str.split)"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--datatrove-python", default=str(ROOT / "bench/.dtvenv/bin/python"))
    ap.add_argument("--worker")
    ap.add_argument("--docs")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.docs, args.repeat)))
        return
    docs = build_documents()
    env = {**os.environ, "POLARS_MAX_THREADS": "1", "OMP_NUM_THREADS": "1", "RAYON_NUM_THREADS": "1"}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "docs.jsonl")
        with open(path, "w") as fh:
            for d in docs:
                fh.write(json.dumps(d) + "\n")
        import importlib.util

        variants = []
        for v in VARIANTS:
            lib = v.split(" ")[0]
            if lib in ("rensa", "datasketch") and importlib.util.find_spec(lib) is None:
                print(f"{v}: skipped, {lib} is not installed (pip install {lib})")
                continue
            variants.append((v, sys.executable))
        if Path(args.datatrove_python).exists():
            variants.append(("datatrove", args.datatrove_python))
        else:
            print(f"no datatrove venv at {args.datatrove_python} (bench/setup_datatrove.sh makes one): skipped")
        for variant, python in variants:
            out = subprocess.run([python, __file__, "--worker", variant, "--docs", path, "--repeat", str(args.repeat)],
                                 env=env, capture_output=True, text=True)
            if out.returncode:
                print(f"{variant} failed:\n{out.stderr[-2000:]}")
                continue
            results[variant] = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{variant:32s} {results[variant]}")
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from curation.dedup.minhash import MinHasher

    h = MinHasher()
    identical = bool(np.array_equal(h.signatures(docs)[0], np.stack([h.signature(d)[0] for d in docs])))
    print(f"batch signatures identical to the one-text-at-a-time path on all {len(docs)} documents: {identical}")
    report = {"documents": len(docs), "batch_equals_single_text_path": identical, "target_chars": TARGET_CHARS, "repeat": args.repeat,
              "hashes": 112, "n_grams": 5, "results": results}
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs/minhash_speed.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
