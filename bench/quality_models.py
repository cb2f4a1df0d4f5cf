"""How good is the quality score: every recipe measured on the held-back half of DCLM's human labels
(``sample_data/quality/dclm-human-quality-labels.jsonl``, split by ``curation.quality.classifier.split_of(text, 0.5)``;
nothing here trains on that half).

Rows of the table (``docs/quality_models.json``, README "How good is the score"):

* default recipe: ``curation.quality.stacked`` logistic regression over the quality signals, candidates chosen by
  5-fold cross-validation (3 repeats) on the training half, crawl documents failing the heuristics as
  candidate extra negatives;
* old recipe: fastText, Wikipedia abstracts + DCLM label-1 training half against the sample crawl, with
  fastText's 2M-bucket table (the 816 MB file) and with the smaller table now used (size, AUC loss);
* fastText on the human labels alone (both labels of the training half);
* document length alone (its cut chosen on the training half), and the heuristic verdict;
* LLM-annotation-trained: the bundled SmolLM2-135M-Instruct grades (the first ``--grade-docs`` of) the training
  half with the
  ``fineweb_edu`` rubric; the stacked model is trained on those grades (>= 3: good) instead of the human labels.
  The grades' own agreement with the human labels of the same documents is reported too.

Speed (process CPU time, one process): signals + stacked scoring per CPU-second, LLM grading per document.

    python bench/quality_models.py [--grade-docs 48] [--grade-chars 1500] [--grade-tokens 128]
        ->  docs/quality_models.json (grades cached under bench/.annotation_cache: a rerun generates nothing)
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def crawl_texts() -> list[str]:
    from curation.extract.documents import DocumentBuilder
    from curation.extract.sources import CrawlSource

    src = CrawlSource(str(ROOT / "sample_crawl"))
    out = []
    for snap in src.list_snapshots():
        table, _ = DocumentBuilder(src).build(snap, "all", src.list_files(snap))
        out += table.column("text").to_pylist()
    return out


def row(agree: dict, **extra) -> dict:
    return {"roc_auc": agree["roc_auc"], "accuracy": agree["accuracy"], **extra}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--grade-chars", type=int, default=1500)
    ap.add_argument("--grade-tokens", type=int, default=128)
    ap.add_argument("--grade-docs", type=int, default=48, help="grade the first N training-half documents "
                    "(all 123: about 16 batches of 8; on a 2-core CPU roughly a minute of CPU per batch)")
    ap.add_argument("--cache", default=str(ROOT / "bench/.annotation_cache"))
    args = ap.parse_args()

    from curation.llm import prompts
    from curation.llm.annotate import annotate
    from curation.llm.backends import GenerationParams, TransformersBackend
    from curation.llm.chunk_cache import StoreChunkCache
    from curation.quality.classifier import FastTextScorer, TrainConfig, labelled_examples, train_fasttext
    from curation.quality.metrics import roc_auc
    from curation.quality.recipe import agreement, graded_rows, heldback, labelled_rows, train_stacked
    from curation.quality.stacked import StackedScorer
    from curation.core.storage import ShardStore

    q = ROOT / "sample_data/quality"
    wiki, dclm = str(q / "wikipedia-abstracts-en.jsonl"), str(q / "dclm-human-quality-labels.jsonl")
    crawl = crawl_texts()
    held, held_y, _ = heldback(dclm)
    train_t, train_y = labelled_rows([dclm], True)
    report = {"labelled_train": len(train_t), "heldback": len(held), "heldback_good": int(sum(held_y)),
              "crawl_documents": len(crawl), "rows": {}}
    rows = report["rows"]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.process_time()
        rep = train_stacked(train_t, train_y, crawl, f"{tmp}/stacked.json")
        train_cpu = time.process_time() - t0
        scorer = StackedScorer(f"{tmp}/stacked.json")
        t0 = time.process_time()
        s = scorer.score(held)
        score_cpu = time.process_time() - t0
        a = agreement(s, rep["keep_threshold"], dclm)
        rows["default recipe (stacked signals, CV-chosen)"] = row(
            a, recipe=rep["candidate"], model_bytes=os.path.getsize(f"{tmp}/stacked.json"),
            train_cpu_s=round(train_cpu, 1), roc_auc_unanimous=a["roc_auc_unanimous"])
        report["cv"] = rep["cv"]
        report["speed"] = {"stacked_docs_per_cpu_s": round(len(held) / score_cpu, 1)}
        # diagnostic only (never used to choose): every candidate without crawl negatives, fitted on the training
        # half and measured on the held-back half, to show how far apart CV-tied candidates land
        from curation.quality.stacked import FEATURE_SETS, L2, StackedModel, feature_matrix, signal_frame

        frame, held_frame = signal_frame(train_t), signal_frame(held)
        report["heldback_per_candidate"] = {}
        for fs, names in FEATURE_SETS.items():
            for l2 in L2:
                m = StackedModel.fit(feature_matrix(frame, names), np.asarray(train_y), names, l2)
                p = m.predict(feature_matrix(held_frame, names))
                report["heldback_per_candidate"][f"{fs}, l2={l2:g}"] = {
                    "roc_auc": round(roc_auc(p, np.asarray(held_y)), 4),
                    "accuracy_at_0.5": round(float(((p >= 0.5) == np.asarray(held_y)).mean()), 4)}
        rows["document length alone"] = a["length"]
        rows["heuristic verdict (Gopher + C4 + FineWeb)"] = {"roc_auc": None, **a["heuristics"]}
        print(json.dumps(rows, indent=1), flush=True)

        positives = labelled_examples([wiki], 1) + labelled_examples([dclm], 1, "train")
        for name, buckets in (("old recipe (fastText, Wikipedia + DCLM 1 vs crawl), 2M buckets", 2_000_000),
                              (f"old recipe, {TrainConfig().bucket:,} buckets (now the fastText default)",
                               TrainConfig().bucket)):
            path = f"{tmp}/ft-{buckets}.bin"
            train_fasttext(positives, crawl, path, TrainConfig(bucket=buckets))
            a = agreement(FastTextScorer(path).score(held), 0.5, dclm)
            rows[name] = row(a, model_bytes=os.path.getsize(path))
        neg = [t for t, y in zip(train_t, train_y) if not y]
        pos = [t for t, y in zip(train_t, train_y) if y]
        try:
            train_fasttext(pos, neg, f"{tmp}/ft-human.bin", TrainConfig(negatives_per_positive=10.0, holdout=0.0))
            a = agreement(FastTextScorer(f"{tmp}/ft-human.bin").score(held), 0.5, dclm)
            rows["fastText on the human labels' training half"] = row(a, model_bytes=os.path.getsize(f"{tmp}/ft-human.bin"))
        except (RuntimeError, ValueError) as exc:  # fastText sometimes stops with "Encountered NaN" on tiny data
            rows["fastText on the human labels' training half"] = {"error": str(exc)}
        print(json.dumps(rows, indent=1), flush=True)

        # LLM annotation with the bundled model, cached under --cache so a rerun generates nothing
        backend = TransformersBackend(batch_size=8)
        prompt = prompts.get("fineweb_edu")
        params = GenerationParams(max_new_tokens=args.grade_tokens, repetition_penalty=1.05)
        cache = StoreChunkCache(ShardStore(args.cache), "_all", "dclm-train", asset="annotation_cache")
        g_texts, g_human = train_t[:args.grade_docs], train_y[:args.grade_docs]
        ids = [f"train-{i}" for i in range(len(g_texts))]
        t0, c0 = time.perf_counter(), time.process_time()
        grades = annotate(ids, g_texts, prompt, backend, params, cache, max_chars=args.grade_chars,
                          progress=lambda d, n: print(f"graded {d}/{n}", flush=True))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        generated = sum(not g.cached for g in grades)
        g = np.array([-1 if x.grade is None else x.grade for x in grades])
        ok = g >= 0
        y = np.asarray(g_human, bool)
        report["annotation"] = {
            "model": backend.model_id, "prompt": prompt.tag, "documents": len(grades),
            "max_chars": args.grade_chars, "max_new_tokens": args.grade_tokens,
            "parse_failures": int((~ok).sum()), "grades": {str(k): int((g == k).sum()) for k in range(-1, 6)},
            "agreement_with_human_labels": {
                "roc_auc": round(roc_auc(g[ok].astype(float), y[ok]), 4) if ok.any() else None,
                "accuracy_grade_ge_3": round(float(((g[ok] >= 3) == y[ok]).mean()), 4) if ok.any() else None},
            "generated": generated, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "docs_per_wall_s": round(generated / wall, 3) if generated else None}
        print(json.dumps(report["annotation"], indent=1), flush=True)
        g_t, g_y = graded_rows([{"text": t, "grade": x.grade} for t, x in zip(g_texts, grades)])
        name = "LLM-annotation-trained (SmolLM2-135M grades, stacked)"
        if len(set(g_y)) == 2 and len(g_y) >= 10:
            try:
                rep_g = train_stacked(g_t, g_y, crawl, f"{tmp}/graded.json")
                a = agreement(StackedScorer(f"{tmp}/graded.json").score(held), rep_g["keep_threshold"], dclm)
                rows[name] = row(a, recipe=rep_g["candidate"], trained_on=len(g_y))
            except ValueError as exc:
                rows[name] = {"error": str(exc)}
        else:
            rows[name] = {"error": f"grades give {sum(g_y)} good of {len(g_y)} parsed: one class, nothing to train"}
    print(json.dumps(rows, indent=1))
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs/quality_models.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
