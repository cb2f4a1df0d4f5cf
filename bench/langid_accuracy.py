"""Accuracy and speed of language-ID choices on real labelled text (lingua test data, Leipzig corpora).

Scores fastText lid.176.ftz alone, py3langid, lingua, and fastText with a second opinion on
low-confidence inputs, overall and per language, on sentences and on two-word fragments.

    python bench/langid_accuracy.py [--data ../shared/data/langid] [--per-lang 60] [--out docs/langid_accuracy.json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.langid import LangIdConfig, LanguageIdentifier, _load_lingua, _load_py3langid  # noqa: E402

# Labels the models spell differently from the test set's ISO 639-1 codes.
ALIASES = {"no": "nb", "iw": "he", "jw": "jv", "zh-cn": "zh", "zh-tw": "zh"}


def load(path: Path, per_lang: int, seed: int = 0) -> list[tuple[str, str]]:
    by_lang = defaultdict(list)
    for line in path.open(encoding="utf-8"):
        r = json.loads(line)
        by_lang[r["lang"]].append(r["text"])
    rng = random.Random(seed)
    rows = []
    for lang, texts in sorted(by_lang.items()):
        rng.shuffle(texts)
        rows += [(lang, t) for t in texts[:per_lang]]
    return rows


def norm(code: str) -> str:
    return ALIASES.get(code, code)


def run(name, predict, rows):
    t0 = time.perf_counter()
    preds = predict([t for _, t in rows])
    dt = time.perf_counter() - t0
    per = defaultdict(lambda: [0, 0])
    for (lang, _), p in zip(rows, preds):
        per[lang][0] += norm(p) == lang
        per[lang][1] += 1
    acc = sum(c for c, _ in per.values()) / len(rows)
    macro = sum(c / n for c, n in per.values()) / len(per)
    return {"method": name, "accuracy": round(acc, 4), "macro_accuracy": round(macro, 4),
            "texts_per_s": round(len(rows) / dt, 1),
            "per_language": {k: round(c / n, 3) for k, (c, n) in sorted(per.items())}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/langid"))
    ap.add_argument("--per-lang", type=int, default=60)
    ap.add_argument("--out", default="docs/langid_accuracy.json")
    args = ap.parse_args()
    data = Path(args.data)
    py3 = _load_py3langid()
    lingua = _load_lingua()

    def lingua_predict(texts):
        out = []
        for t in texts:
            lang = lingua.detect_language_of(t)
            out.append(lang.iso_code_639_1.name.lower() if lang else "und")
        return out

    methods = {
        "fasttext lid.176.ftz": lambda ts: [r["language"] for r in LanguageIdentifier(LangIdConfig()).label(ts)],
        "py3langid": lambda ts: [py3.classify(t)[0] for t in ts],
        "lingua (all languages)": lingua_predict,
        "fasttext + py3langid below 0.5": lambda ts: [r["language"] for r in LanguageIdentifier(
            LangIdConfig(second_opinion="py3langid", second_opinion_below=0.5)).label(ts)],
        "fasttext + lingua below 0.5": lambda ts: [r["language"] for r in LanguageIdentifier(
            LangIdConfig(second_opinion="lingua", second_opinion_below=0.5)).label(ts)],
    }
    results = {}
    for file in ("lingua-sentences.jsonl", "lingua-word-pairs.jsonl"):
        rows = load(data / file, args.per_lang)
        results[file] = []
        for name, fn in methods.items():
            r = run(name, fn, rows)
            results[file].append(r)
            print(f"{file:26s} {name:32s} acc={r['accuracy']:.3f} macro={r['macro_accuracy']:.3f} "
                  f"{r['texts_per_s']:>9.1f} texts/s  (n={len(rows)})", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
