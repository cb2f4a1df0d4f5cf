"""Scoring any text with the trained classifier and heuristics of a pipeline's outputs (``curation score``):
the classifier and its bucket boundaries are read from ``<output base>/quality_classifier/_all/``."""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np
from curation.core.jsonl import json_lines
from curation.core.tables import CLASSIFIER_META, CLASSIFIER_TABLE, GLOBAL_PARTITION

CLASSIFIER_ASSET = CLASSIFIER_TABLE
GLOBAL = GLOBAL_PARTITION  # the classifier's folder under <base>/quality_classifier/
MODEL_FILES = {"fasttext": "model.bin", "stacked": "model.json", "minilm_linear": "head.npz"}


class ScoreError(ValueError):
    """Bad input or no classifier: the message is one line naming the file and the cause."""


def load_classifier(output_base: str, workdir: str):
    """(classifier.json, scorer) of the pipeline whose outputs are under ``output_base`` (local or s3://)."""
    from curation.quality.classifier import classifier_scorer
    from curation.core.storage import ShardStore

    store = ShardStore(output_base)
    if not store.side_exists(CLASSIFIER_ASSET, GLOBAL, CLASSIFIER_META):
        raise ScoreError(f"no trained classifier under {output_base} (expected {CLASSIFIER_ASSET}/{GLOBAL}/"
                         f"classifier.json; run `curation run --output {output_base}` first)")
    with open(store.local_side(CLASSIFIER_ASSET, GLOBAL, CLASSIFIER_META, workdir)) as fh:
        meta = json.load(fh)
    model = store.local_side(CLASSIFIER_ASSET, GLOBAL, MODEL_FILES[meta["kind"]], workdir)
    return meta, classifier_scorer(meta["kind"], model)


def read_jsonl(path: str) -> list[dict]:
    """Every line of a JSONL file as a dict with a string ``text``; the first bad line raises ScoreError."""
    if not os.path.isfile(path):
        raise ScoreError(f"{path}: no such file")
    rows = []
    try:
        for n, row in json_lines(path):  # a bad line: "path:N: not JSON (...)", as `curation pii` says it
            if not isinstance(row.get("text"), str):
                raise ScoreError(f"{path}:{n}: missing text (each line needs a \"text\" string)")
            rows.append(row)
    except ScoreError:
        raise
    except ValueError as exc:
        raise ScoreError(str(exc)) from None
    return rows


def score_rows(rows: list[dict], meta: dict, scorer, thresholds=None) -> list[dict]:
    """Each row plus classifier_score, quality_bucket, quality_pass and quality_reason, in order."""
    import polars as pl

    from curation.quality.classifier import bucket_of
    from curation.quality.filters import Thresholds, decide
    from curation.quality.signals import signals_table

    texts = [r["text"] for r in rows]
    langs = [r.get("language") if isinstance(r.get("language"), str) else None for r in rows]
    df = signals_table([str(i) for i in range(len(texts))], texts, langs).with_columns(
        pl.Series("language", langs, dtype=pl.String))
    verdict = decide(df, thresholds or Thresholds())
    if not texts:
        scores = np.zeros(0, np.float32)
    elif hasattr(scorer, "score_signals"):
        scores = scorer.score_signals(decide(df, Thresholds()))
    else:
        scores = scorer.score(texts)
    buckets = bucket_of(scores, meta["deciles"])
    return [dict(r, classifier_score=round(float(s), 6), quality_bucket=int(b), quality_pass=bool(p),
                 quality_reason=reason)
            for r, s, b, p, reason in zip(rows, scores, buckets, verdict["quality_pass"].to_list(),
                                          verdict["quality_reason"].to_list())]


def score_file(output_base: str, input_path: str, out_path: str) -> int:
    """Score ``input_path`` into ``out_path`` (written whole or not at all); returns the number of lines."""
    rows = read_jsonl(input_path)
    with tempfile.TemporaryDirectory(prefix="curation-score-") as work:
        meta, scorer = load_classifier(output_base, work)
        out = score_rows(rows, meta, scorer)
    target = os.path.abspath(out_path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = f"{target}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        for r in out:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, target)
    return len(out)
