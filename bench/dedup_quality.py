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

Candidate check (``DedupConfig.min_similarity``): every figure is measured without it (0) and with each
threshold of ``--thresholds``, on this corpus and on real near-duplicates without derived copies: the
whole visible text (Resiliparse without main-content extraction: navigation, footers and templates
kept) of every page of the sample crawl and of shared/data/warc, where pages of one site share their
template and boilerplate. Precision there is also given at 0.7 and 0.8 (pairs merged with true Jaccard
at least that), since template-sharing pages sit at 0.5-0.7.

    python bench/dedup_quality.py [--thresholds 0.5,0.6,0.7,0.75]  ->  docs/dedup_quality.json
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
    from curation.extract.documents import DocumentBuilder
    from curation.extract.sources import CrawlSource

    src = CrawlSource(str(ROOT / "sample_crawl"))
    for snap in src.list_snapshots():
        table, counts = DocumentBuilder(src).build(snap, "all", src.list_files(snap))
        texts += table.column("text").to_pylist()
        sources[f"sample_crawl {snap}"] += table.num_rows
        sources[f"sample_crawl {snap} revisit records (not documents)"] += counts.get("dropped_revisit_record", 0) \
            + counts.get("revisit_record", 0)
    return texts, dict(sources)


def visible_text_pages() -> tuple[list[str], dict]:
    """Whole visible text (no main-content extraction) of the sample crawl's and shared/data/warc's pages."""
    import dataclasses

    from curation.extract.documents import DocumentBuilder
    from curation.extract.html import ExtractionConfig
    from curation.extract.sources import CrawlSource

    cfg = dataclasses.replace(ExtractionConfig(), resiliparse_main_content=False)
    texts, sources = [], Counter()
    src = CrawlSource(str(ROOT / "sample_crawl"))
    for snap in src.list_snapshots():
        table, _ = DocumentBuilder(src, cfg).build(snap, "all", src.list_files(snap))
        texts += table.column("text").to_pylist()
        sources[f"sample_crawl {snap}"] += table.num_rows
    return [t for t in texts if t.strip()], dict(sources)


def precision_at(pairs: dict, label: np.ndarray, threshold: float) -> float:
    from collections import defaultdict

    members = defaultdict(list)
    for i, c in enumerate(label):
        members[c].append(i)
    merged = sum(len(m) * (len(m) - 1) // 2 for m in members.values())
    ok = sum(1 for (a, b), j in pairs.items() if j >= threshold and label[a] == label[b])
    return round(ok / merged, 4) if merged else 1.0


def evaluate(texts: list[str], thresholds: list[float]) -> dict:
    from curation.dedup.config import DedupConfig
    from curation.dedup.decisions import run_local
    from curation.dedup.evaluation import pair_metrics, true_pairs

    import resource

    n = len(texts)
    table = pa.table({"id": [f"d{i:06d}" for i in range(n)], "url": [f"https://x.org/{i}" for i in range(n)],
                      "text": texts, "fetch_date": pa.nulls(n, pa.timestamp("ms", tz="UTC"))})
    pairs = true_pairs(texts)
    out, labels = {}, {}
    for th in [0.0] + thresholds:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            members, clusters, _ = run_local({"0000": table}, DedupConfig(url=False, min_similarity=th), tmp)
        seconds = time.perf_counter() - t0
        label = clusters.labels_of(np.arange(n))  # one shard: global index = row = text index
        m = pair_metrics(pairs, label).as_dict()
        m.update({"precision_ge_0.7": precision_at(pairs, label, 0.7), "precision_ge_0.8": precision_at(pairs, label, 0.8),
                  "dedup_seconds": round(seconds, 2), "candidate_pairs_dropped": sum(clusters.dropped.values()),
                  "candidate_pairs_kept": sum(v for k, v in clusters.edges.items() if k.startswith("band")),
                  "removed": dict(Counter(r for r in members.column("reason").to_pylist() if r)),
                  "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)})
        out[str(th)] = m
        labels[str(th)] = label
        print(f"{n} texts, min_similarity={th}: recall@0.8={m['recall_at_0.8']} precision>=0.5={m['precision_ge_0.5']} "
              f">=0.7={m['precision_ge_0.7']} >=0.8={m['precision_ge_0.8']} merged<0.5={m['merge_rate_below_0.5']} "
              f"dropped={m['candidate_pairs_dropped']} {seconds:.1f}s", flush=True)
    return out, pairs, labels


def main() -> None:
    import argparse

    from curation.dedup.config import DedupConfig
    from curation.dedup.evaluation import derive

    ap = argparse.ArgumentParser()
    ap.add_argument("--thresholds", default="0.5,0.6,0.7,0.75")
    thresholds = [float(x) for x in ap.parse_args().thresholds.split(",")]
    base, sources = corpus()
    derived = derive(base, seed=11, per_kind=300)
    texts = base + [t for _, _, t in derived]
    visible, vsources = visible_text_pages()
    visible_results, vpairs, _ = evaluate(visible, thresholds)
    results, pairs, labels = evaluate(texts, thresholds)
    for th, label in labels.items():  # recall per kind of derived copy (the pair: source text, derived text)
        per_kind = {}
        for k, (src, kind, _) in enumerate(derived):
            cell = per_kind.setdefault(kind, [0, 0])
            cell[0] += 1
            cell[1] += int(label[src] == label[len(base) + k])
        results[th]["found_share_per_derived_kind"] = {k: round(f / p, 4) for k, (p, f) in per_kind.items()}
    report = {"texts": len(texts), "real_texts": len(base), "derived_texts": len(derived), "sources": sources,
              "by_min_similarity": results,
              "visible_text_pages": {"texts": len(visible), "sources": vsources,
                                     "pairs_by_jaccard": {f">={t}": sum(j >= t for j in vpairs.values()) for t in (0.5, 0.7, 0.8)},
                                     "by_min_similarity": visible_results},
              "candidate_probability_at": {str(s): round(DedupConfig().minhash.candidate_probability(s), 4)
                                           for s in (0.5, 0.7, 0.8, 0.9)}}
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs/dedup_quality.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
