"""The default quality recipe on the shared human labels (the held-back half stays held back), the stacked model,
LLM annotation with the bundled SmolLM2 (prompt, parse, cache, failures), the classifier's WARN check, and
`curation score` on real text."""

import gzip
import json
import subprocess
import sys

import dagster as dg
import numpy as np
import pyarrow as pa
import pytest

from curation.llm import prompts
from curation.llm.annotate import annotate, parse_grade, sample_by_hash
from curation.llm.backends import GenerationParams
from curation.llm.chunk_cache import MemoryCache
from curation.quality.classifier import deciles, read_examples, split_of
from curation.quality.recipe import agreement, graded_rows, heldback, labelled_rows, train_stacked
from curation.quality.stacked import StackedModel, StackedScorer, choose, signal_frame
from curation.core.storage import ShardStore
from curation_assets.annotations import quality_annotations
from curation_assets.documents import documents
from curation_assets.classifier import quality_classifier
from resources import CrawlSourceResource, QualityResource, RewriteResource, StorageResource
from tests.conftest import ROOT

DCLM = str(ROOT / "sample_data/quality/dclm-human-quality-labels.jsonl")
WEB = ROOT / "tests/data/cc-main-2019-30-docs.jsonl.gz"
DEGENERATE = "It is very good. " * 200


def web_docs(n: int) -> list[dict]:
    with gzip.open(WEB, "rt") as fh:
        return [json.loads(line) for line in fh][:n]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("stacked") / "model.json")
    texts, labels = labelled_rows([DCLM], True)
    return path, train_stacked(texts, labels, [], path)


def test_recipe_trains_on_the_training_half_only_and_beats_length_on_the_held_back_half(trained, tmp_path):
    path, report = trained
    texts, labels = labelled_rows([DCLM], True)
    assert len(texts) == report["train"]["labelled"] > 100 and 0 < sum(labels) < len(labels)
    assert all(split_of(t, 0.5) == "train" for t in texts)
    # flip every held-back label and scramble its texts' labels: the trained model is exactly the same
    rows = read_examples(DCLM)
    poisoned = tmp_path / "poisoned.jsonl"
    with open(poisoned, "w") as fh:
        for r in rows:
            if split_of(r["text"], 0.5) == "holdout":
                r = dict(r, label=1 - int(r["label"]))
            fh.write(json.dumps(r) + "\n")
    t2, l2 = labelled_rows([str(poisoned)], True)
    train_stacked(t2, l2, [], str(tmp_path / "m2.json"))
    assert json.load(open(tmp_path / "m2.json")) == json.load(open(path))
    held_texts, held_labels, _ = heldback(DCLM)
    assert not set(held_texts) & set(texts) and len(held_texts) > 100
    agree = agreement(StackedScorer(path).score(held_texts), report["keep_threshold"], DCLM)
    assert agree["roc_auc"] >= 0.80 and agree["beats_length"] and agree["roc_auc"] > agree["length"]["roc_auc"] + 0.03
    assert 0.5 < agree["accuracy"] <= 1 and 0.5 < agree["heuristics"]["accuracy"] < 1
    assert report["cv"] and report["candidate"] in {r["candidate"] for r in report["cv"]}


def test_stacked_model_scores_signals_and_text_alike_and_ranks_degenerate_text_low(trained, tmp_path):
    path, _ = trained
    scorer = StackedScorer(path)
    good = [t for t, y in zip(*labelled_rows([DCLM], True)) if y][:5]
    texts = good + [DEGENERATE, ""]
    s = scorer.score(texts)
    assert s.shape == (7,) and np.isfinite(s).all() and ((0 <= s) & (s <= 1)).all()
    assert np.allclose(s, scorer.score_signals(signal_frame(texts)))
    assert s[5] < np.median(s[:5])  # fastText gave "It is very good." repeated a score of 1.0
    m = StackedModel.load(path)
    m.save(str(tmp_path / "again.json"))
    assert StackedModel.load(str(tmp_path / "again.json")) == m and (tmp_path / "again.json").stat().st_size < 10_000
    with pytest.raises(ValueError, match="both classes"):
        choose(signal_frame(good * 3), np.ones(15, bool))


def test_grades_are_parsed_or_recorded_as_failures():
    assert parse_grade("The extract is clear.\nEducational score: 3") == 3
    assert parse_grade("**Educational score:** 4/5") == 4
    assert parse_grade("Score: 1. Later: Educational score: 2") == 2
    assert parse_grade(" 5 ") == 5
    assert parse_grade("Educational score: 7") is None and parse_grade("a great page") is None
    assert parse_grade("Educational score: 2.5") is None
    p = prompts.get("fineweb_edu")
    assert p.purpose == "grade" and p.tag == "fineweb_edu@1"
    assert "Educational score: <total points>" in p.messages("some page")[0]["content"]
    texts, labels = graded_rows([{"text": "a", "grade": 4}, {"text": "b", "grade": 1}, {"text": "c", "grade": None},
                                 {"text": " ", "grade": 5}])
    assert texts == ["a", "b"] and labels == [True, False]  # unparsed grades and empty texts do not train
    ids = [f"doc-{i}" for i in range(2000)]
    chosen = sample_by_hash(ids, 0.1)
    assert 150 < len(chosen) < 250 and sample_by_hash(list(reversed(ids)), 0.1) != chosen
    assert {ids[i] for i in chosen} == {ids[::-1][i] for i in sample_by_hash(ids[::-1], 0.1)}


class _Counting:
    """The bundled model, counting what it is asked to generate."""

    def __init__(self, backend):
        self.backend, self.model_id, self.calls = backend, backend.model_id, 0

    def generate(self, conversations, params):
        self.calls += len(conversations)
        return self.backend.generate(conversations, params)

    def count_tokens(self, texts):
        return self.backend.count_tokens(texts)


def test_annotation_with_the_bundled_model_caches_and_records_parse_failures():
    from resources import make_backend

    backend = _Counting(make_backend(RewriteResource()))  # the model the asset test below reuses (loaded once)
    docs = web_docs(2)
    cache = MemoryCache()
    params = GenerationParams(max_new_tokens=12)
    grades = annotate([d["id"] for d in docs], [d["text"] for d in docs], prompts.get("fineweb_edu"), backend,
                      params, cache, max_chars=300)
    assert backend.calls == 2 and [g.id for g in grades] == [d["id"] for d in docs]
    for g in grades:
        assert g.answer and not g.cached and g.grade == parse_grade(g.answer)  # a grade or a recorded failure
        assert g.grade is None or 0 <= g.grade <= 5
    again = annotate([d["id"] for d in docs], [d["text"] for d in docs], prompts.get("fineweb_edu"), backend,
                     params, cache, max_chars=300)
    assert backend.calls == 2 and all(g.cached for g in again) and [g.answer for g in again] == [g.answer for g in grades]
    with pytest.raises(ValueError, match="not for grading"):
        annotate(["x"], ["y"], prompts.get("wikipedia"), backend, params, cache)


def _store_documents(base, docs: list[dict]) -> None:
    """A documents shard written straight into the store (what the documents asset would have written)."""
    store = ShardStore(str(base))
    table = pa.Table.from_pylist([{"id": d["id"], "url": f"https://example.org/{d['id']}", "text": d["text"]}
                                  for d in docs])
    store.write("documents", "CC-MAIN-2019-30", "0000", table, {"fingerprint": "docs-v1", "rows": len(docs)})


def test_classifier_check_warns_when_it_does_not_beat_length_and_annotations_asset_runs(tmp_path):
    _store_documents(tmp_path / "out", web_docs(60))
    # labels turned upside down: the classifier learns the opposite of the people, and the WARN check says so
    flipped = tmp_path / "flipped.jsonl"
    with open(flipped, "w") as fh:
        for r in read_examples(DCLM):
            fh.write(json.dumps(dict(r, label=1 - int(r["label"]))) + "\n")
    resources = {"storage": StorageResource(base=str(tmp_path / "out")), "rewrite_settings": RewriteResource(),
                 "crawl": CrawlSourceResource(root=str(tmp_path)),
                 "quality_settings": QualityResource(positives=[str(flipped)], evaluate_on=DCLM, crawl_sample=40,
                                                     annotation_documents=1, annotation_max_chars=300,
                                                     annotation_max_new_tokens=8)}
    with dg.instance_for_test() as instance:
        res = dg.materialize([documents, quality_annotations, quality_classifier],
                             selection=[quality_annotations, quality_classifier], instance=instance,
                             resources=resources)
        assert res.success
        (check,) = res.get_asset_check_evaluations()
        assert check.check_name == "beats_length" and not check.passed
        assert check.severity == dg.AssetCheckSeverity.WARN
        (mat,) = res.asset_materializations_for_node("quality_classifier")
        assert mat.metadata["human_label_roc_auc"].value < mat.metadata["length_roc_auc"].value
        assert "document length alone" in mat.metadata["agreement"].value
        (ann,) = res.asset_materializations_for_node("quality_annotations")
        assert ann.metadata["documents_graded"].value == 1 and ann.metadata["prompt"].value == "fineweb_edu@1"
        table = ShardStore(str(tmp_path / "out")).read("quality_annotations", "_all", "sample").to_pylist()
        assert len(table) == 1 and table[0]["answer"] and table[0]["parsed"] == (table[0]["grade"] is not None)
        again = dg.materialize([documents, quality_annotations], selection=[quality_annotations], instance=instance,
                               resources=resources)
        (ann2,) = again.asset_materializations_for_node("quality_annotations")
        assert not ann2.metadata["recomputed"].value


def test_curation_score_on_real_text(trained, tmp_path):
    path, report = trained
    base = tmp_path / "out"
    run = [sys.executable, "-m", "curation_cli.score", "--output-base", str(base)]
    inp, out = tmp_path / "in.jsonl", tmp_path / "scored.jsonl"
    docs = [{"text": t, "n": i} for i, t in enumerate(heldback(DCLM)[0][:6] + [DEGENERATE])]
    inp.write_text("".join(json.dumps(d) + "\n" for d in docs))
    r = subprocess.run(run + ["--input", str(inp), "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "no trained classifier under" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    store = ShardStore(str(base))
    scores = StackedScorer(path).score(heldback(DCLM)[0])
    meta = {"kind": "stacked", "deciles": deciles(scores), "keep_threshold": report["keep_threshold"]}
    (tmp_path / "classifier.json").write_text(json.dumps(meta))
    store.put_side("quality_classifier", "_all", "classifier.json", str(tmp_path / "classifier.json"))
    store.put_side("quality_classifier", "_all", "model.json", path)
    r = subprocess.run(run + ["--input", str(inp), "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [x["n"] for x in rows] == list(range(7)) and [x["text"] for x in rows] == [d["text"] for d in docs]
    for x in rows:
        assert 0 <= x["classifier_score"] <= 1 and 0 <= x["quality_bucket"] <= 9
        assert (x["quality_reason"] is None) == x["quality_pass"]
    assert rows[-1]["quality_pass"] is False and rows[-1]["quality_reason"]  # the repeated sentence fails
    assert np.allclose([x["classifier_score"] for x in rows[:6]], scores[:6], atol=1e-5)
    import argparse

    from curation_cli import score as score_cli

    parser = argparse.ArgumentParser(prog="curation")
    score_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["score", "--output-base", str(base), "--input", str(inp), "--out", str(out)])
    assert args.func(args) == 0 and [json.loads(x)["n"] for x in out.read_text().splitlines()] == list(range(7))
    for body, msg in (('{"text": "ok"}\n{"text": \n', ":2: not JSON"), ('{"text": "ok"}\n{"body": "x"}\n',
                                                                           ":2: missing text")):
        bad, target = tmp_path / "bad.jsonl", tmp_path / "never.jsonl"
        bad.write_text(body)
        r = subprocess.run(run + ["--input", str(bad), "--out", str(target)], capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 2 and msg in r.stderr and str(bad) in r.stderr and not target.exists()
