"""Near-dedup recall and precision on real text against true Jaccard similarity of word 5-gram shingles.

Corpus: the real documents of shared/data/web-text (all three files, when ../shared/data is there; else
tests/data's copy of the CC-MAIN-2019-30 file), the human-written article bodies of the
article-extraction benchmark, and the documents the pipeline extracts from the bundled sample crawl
(whose CC-MAIN-2020-34 WARC holds real revisit records: they never become documents). Derived from
every one of them: an exact copy, a whitespace variant, word edits of 1, 3, 5, 10, 20 and 30%, changed
boilerplate (another page's first lines as header, a new footer), truncation to 80% and 50% - for
300 randomly chosen texts (11 copies each).

True Jaccard similarity is computed for every pair of texts sharing at least one shingle (every other
pair has similarity 0). Recall: the share of pairs with similarity >= 0.8 that end in one cluster.
Precision: the share of pairs in one cluster whose similarity is >= 0.5. Also the merge rate of pairs
below 0.5 and per similarity bin.

    python bench/dedup_quality.py   ->  docs/dedup_quality.json
"""

import gzip
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"


def corpus() -> tuple[list[str], dict]:
    texts, sources = [], Counter()
    files = sorted((SHARED / "web-text").glob("*.jsonl.gz")) or [ROOT / "tests/data/cc-main-2019-30-docs.jsonl.gz"]
    for f in files:
        with gzip.open(f, "rt") as fh:
            for line in fh:
                t = json.loads(line)["text"]
                if t.strip():
                    texts.append(t)
                    sources[f.name] += 1
    gt = json.loads((ROOT / "tests/data/article-extraction-benchmark-ground-truth.json").read_text())
    for _, v in sorted(gt.items()):
        texts.append(v["articleBody"])
        sources["article-extraction-benchmark"] += 1
    from curation.documents import DocumentBuilder
    from curation.sources import CrawlSource

    src = CrawlSource(str(ROOT / "sample_crawl"))
    for snap in src.list_snapshots():
        table, counts = DocumentBuilder(src).build(snap, "all", src.list_files(snap))
        texts += table.column("text").to_pylist()
        sources[f"sample_crawl {snap}"] += table.num_rows
        sources[f"sample_crawl {snap} revisit records (not documents)"] += counts.get("dropped_revisit_record", 0) \
            + counts.get("revisit_record", 0)
    return texts, dict(sources)


def main() -> None:
    from curation.dedup import DedupConfig, run_local
    from curation.dedup_eval import derive, pair_metrics, true_pairs

    base, sources = corpus()
    derived = derive(base, seed=11, per_kind=300)
    texts = base + [t for _, _, t in derived]
    n = len(texts)
    table = pa.table({"id": [f"d{i:06d}" for i in range(n)], "url": [f"https://x.org/{i}" for i in range(n)],
                      "text": texts, "fetch_date": pa.nulls(n, pa.timestamp("ms", tz="UTC"))})
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        members, clusters, _ = run_local({"0000": table}, DedupConfig(url=False), tmp)
    seconds = time.perf_counter() - t0
    label = clusters.labels_of(np.arange(n))  # one shard: global index = row = text index
    t1 = time.perf_counter()
    pairs = true_pairs(texts)
    metrics = pair_metrics(pairs, label)
    # recall per kind of derived copy (the pair: source text, derived text)
    per_kind = {}
    for k, (src, kind, _) in enumerate(derived):
        j = pairs.get((src, len(base) + k), 0.0)
        cell = per_kind.setdefault(kind, {"pairs": 0, "found": 0, "mean_jaccard": 0.0})
        cell["pairs"] += 1
        cell["found"] += int(label[src] == label[len(base) + k])
        cell["mean_jaccard"] += j
    for cell in per_kind.values():
        cell["mean_jaccard"] = round(cell["mean_jaccard"] / cell["pairs"], 3)
        cell["found_share"] = round(cell["found"] / cell["pairs"], 4)
    reasons = Counter(r for r in members.column("reason").to_pylist() if r)
    report = {"texts": n, "real_texts": len(base), "derived_texts": len(derived), "sources": sources,
              "dedup_seconds": round(seconds, 2), "truth_seconds": round(time.perf_counter() - t1, 1),
              **metrics.as_dict(), "per_derived_kind": per_kind, "removed": dict(reasons),
              "candidate_probability_at": {str(s): round(DedupConfig().minhash.candidate_probability(s), 4)
                                           for s in (0.5, 0.7, 0.8, 0.9)}}
    print(json.dumps(report, indent=1))
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs/dedup_quality.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
