"""Extraction quality and speed: Resiliparse vs Trafilatura (FineWeb's setting) against human ground truth.

Sets (from ../shared/data/extraction):
- article-extraction-benchmark: precision/recall/F1 of word 4-shingles against the human article body
  (the upstream benchmark's measure);
- trafilatura-eval: share of must-have snippets found (recall) and of must-not-have snippets absent,
  with snippet precision/F1 as upstream computes them;
- readability-test-pages: word 4-shingle F1 against Readability.js output (a silver standard).

    python bench/extraction_quality.py [--data ../shared/data/extraction] [--out docs/extraction_quality.json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.extract import ExtractionConfig, Extractor, decode_html  # noqa: E402

_TOKEN = re.compile(r"\w+", re.UNICODE)


def shingles(text: str, n: int = 4) -> Counter:
    toks = _TOKEN.findall(text.lower())
    return Counter(tuple(toks[i:i + n]) for i in range(max(len(toks) - n + 1, 1))) if toks else Counter()


def prf(pred: str, truth: str) -> tuple[float, float, float]:
    p, t = shingles(pred), shingles(truth)
    if not p and not t:
        return 1.0, 1.0, 1.0
    tp = sum((p & t).values())
    prec = tp / max(sum(p.values()), 1)
    rec = tp / max(sum(t.values()), 1)
    return prec, rec, (2 * prec * rec / (prec + rec) if prec + rec else 0.0)


def norm_ws(s: str) -> str:
    return " ".join(s.split()).lower()


def load_sets(data: Path):
    aeb = data / "article-extraction-benchmark"
    truth = json.loads((aeb / "ground-truth.json").read_text())
    article = [(gzip.decompress((aeb / "html" / f"{k}.html.gz").read_bytes()), v["articleBody"]) for k, v in sorted(truth.items())]
    te = data / "trafilatura-eval"
    ev = json.loads((te / "evaldata.json").read_text())
    snippets = []
    for url, v in sorted(ev.items()):
        f = te / "html" / (v["file"] + ".gz")
        if f.exists():
            snippets.append((gzip.decompress(f.read_bytes()), v.get("with", []), v.get("without", [])))
    rd = data / "readability-test-pages"
    readability = []
    for d in sorted(p for p in rd.iterdir() if p.is_dir()):
        exp_html = gzip.decompress((d / "expected.html.gz").read_bytes()).decode("utf-8", "replace")
        exp = re.sub(r"<[^>]+>", " ", exp_html)
        readability.append((gzip.decompress((d / "source.html.gz").read_bytes()), exp))
    return article, snippets, readability


def extract_all(extractor: Extractor, pages: list[bytes]) -> tuple[list[str], float]:
    t0 = time.perf_counter()
    out = []
    for body in pages:
        html, _, _ = decode_html(body, None)
        try:
            out.append(extractor(html))
        except Exception:
            out.append("")
    return out, time.perf_counter() - t0


def evaluate(name: str, extractor: Extractor, sets) -> dict:
    article, snippets, readability = sets
    res = {"extractor": name}
    texts, secs = extract_all(extractor, [b for b, _ in article])
    scores = [prf(t, truth) for t, (_, truth) in zip(texts, article)]
    res["article_benchmark"] = {k: round(sum(s[i] for s in scores) / len(scores), 4)
                                for i, k in enumerate(("precision", "recall", "f1"))}
    res["article_benchmark"]["pages"] = len(article)
    total_pages, total_secs = len(article), secs

    texts, secs = extract_all(extractor, [b for b, _, _ in snippets])
    tp = fn = fp = tn = 0
    for t, (_, with_, without) in zip(texts, snippets):
        nt = norm_ws(t)
        for s in with_:
            tp, fn = (tp + 1, fn) if norm_ws(s) in nt else (tp, fn + 1)
        for s in without:
            fp, tn = (fp + 1, tn) if norm_ws(s) in nt else (fp, tn + 1)
    prec, rec = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    res["trafilatura_eval"] = {"precision": round(prec, 4), "recall": round(rec, 4),
                               "f1": round(2 * prec * rec / (prec + rec), 4) if prec + rec else 0.0,
                               "accuracy": round((tp + tn) / max(tp + tn + fp + fn, 1), 4), "pages": len(snippets)}
    total_pages, total_secs = total_pages + len(snippets), total_secs + secs

    texts, secs = extract_all(extractor, [b for b, _ in readability])
    scores = [prf(t, truth) for t, (_, truth) in zip(texts, readability)]
    res["readability_silver"] = {k: round(sum(s[i] for s in scores) / len(scores), 4)
                                 for i, k in enumerate(("precision", "recall", "f1"))}
    res["readability_silver"]["pages"] = len(readability)
    total_pages, total_secs = total_pages + len(readability), total_secs + secs
    res["pages_per_s"] = round(total_pages / total_secs, 1)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/extraction"))
    ap.add_argument("--out", default="docs/extraction_quality.json")
    args = ap.parse_args()
    sets = load_sets(Path(args.data))
    results = []
    for name in ("resiliparse", "trafilatura"):
        r = evaluate(name, Extractor(ExtractionConfig(extractor=name)), sets)
        results.append(r)
        print(json.dumps(r), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
