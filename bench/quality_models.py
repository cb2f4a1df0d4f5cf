"""Quality classifiers trained from target examples, and the model scorers' speed, on this machine.

Classifiers: fastText supervised (DCLM's choice) and a logistic-regression head on all-MiniLM-L6-v2
embeddings (BETR-style), each trained on three example sets:

* ``issue default``: positives = the Wikipedia abstracts + the training half of DCLM's human label-1
  documents; negatives = documents of the sample crawl (what the quality_classifier asset does);
* ``+ human negatives``: the same, plus the training half of DCLM's label-0 documents as negatives;
* ``human labels only``: the training half of DCLM's labels, both classes.

Each is measured on its own held-back 20% (accuracy, ROC AUC) and on the held-back half of DCLM's human
labels (agreement: accuracy at 0.5 and ROC AUC; also on the unanimous subset). Speed: documents per
second for fastText scoring, MiniLM embedding, and perplexity under SmolLM2-135M (256 tokens), CPU.

    python bench/quality_models.py  ->  docs/quality_models.json
"""

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from curation.classifier import (TrainConfig, classifier_scorer, evaluate, labelled_examples, read_examples,
                                     split_of, train_classifier)
    from curation.documents import DocumentBuilder
    from curation.models import Embedder, PerplexityScorer
    from curation.sources import CrawlSource

    q = ROOT / "sample_data/quality"
    wiki, dclm = str(q / "wikipedia-abstracts-en.jsonl"), str(q / "dclm-human-quality-labels.jsonl")
    src = CrawlSource(str(ROOT / "sample_crawl"))
    crawl = []
    for snap in src.list_snapshots():
        table, _ = DocumentBuilder(src).build(snap, "all", src.list_files(snap))
        crawl += table.column("text").to_pylist()
    held = [r for r in read_examples(dclm) if split_of(r["text"], 0.5) == "holdout"]
    unanimous = [r for r in held if r.get("annotators_unanimous")]
    d1 = labelled_examples([dclm], 1, "train")
    d0 = labelled_examples([dclm], 0, "train")
    sets = {
        "issue default (Wikipedia + DCLM label 1 vs crawl)": (labelled_examples([wiki], 1) + d1, crawl, 1.0),
        "+ human negatives (DCLM label 0)": (labelled_examples([wiki], 1) + d1, crawl + d0, 1.0),
        "human labels only (DCLM 1 vs 0)": (d1, d0, 10.0),
    }
    report = {"crawl_documents": len(crawl), "dclm_holdout": len(held), "dclm_unanimous_holdout": len(unanimous),
              "classifiers": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("fasttext", "minilm_linear"):
            for name, (pos, neg, ratio) in sets.items():
                path = f"{tmp}/{kind}.model"
                t0 = time.perf_counter()
                rep = train_classifier(kind, pos, neg, path, TrainConfig(negatives_per_positive=ratio))
                scorer = classifier_scorer(kind, path)
                human = evaluate(scorer, [r["text"] for r in held], [r["label"] == 1 for r in held])
                human_u = evaluate(scorer, [r["text"] for r in unanimous], [r["label"] == 1 for r in unanimous])
                row = {"train": rep["train"], "holdout": rep["holdout"], "human_labels": human,
                       "human_labels_unanimous": human_u, "seconds": round(time.perf_counter() - t0, 1)}
                report["classifiers"][f"{kind} | {name}"] = row
                print(kind, name, rep["holdout"]["accuracy"], human["accuracy"], human["roc_auc"])
        texts = crawl[:96]
        ft_path = f"{tmp}/ft.bin"
        train_classifier("fasttext", labelled_examples([wiki], 1) + d1, crawl, ft_path)
        ft = classifier_scorer("fasttext", ft_path)
        ft.score(texts[:2])
        t0 = time.perf_counter()
        for _ in range(20):
            ft.score(crawl)
        speed = {"fasttext_docs_per_s": round(20 * len(crawl) / (time.perf_counter() - t0), 1)}
        emb = Embedder()
        emb.embed(texts[:2])
        t0 = time.perf_counter()
        emb.embed(texts)
        speed["minilm_embed_docs_per_s"] = round(len(texts) / (time.perf_counter() - t0), 1)
        ppl = PerplexityScorer(max_length=256)
        t0 = time.perf_counter()
        ppl.score(texts[:2])
        speed["smollm2_load_s"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        values = ppl.score(texts[:48])
        speed["smollm2_perplexity_docs_per_s"] = round(48 / (time.perf_counter() - t0), 2)
        speed["smollm2_perplexity_median"] = round(float(np.median(values)), 1)
    report["speed"] = speed
    print(json.dumps(speed))
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs/quality_models.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
