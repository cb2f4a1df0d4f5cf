"""Accuracy, speed and memory of language-ID choices on real labelled text.

Sets (../shared/data/langid): the lingua test sentences and word pairs (Leipzig corpora, 75 languages)
and the UDHR paragraphs of the languages every model here can name (lid.176, lingua and py3langid; the
label is the declaration's BCP 47 primary subtag). Each set is reported whole and in two halves by a hash
of the text: the defaults were tuned on half "a" only, so half "b" is the honest figure.

Speed and memory: each method labels a shard of real web documents (the sample crawl's extracted pages,
the article bodies and the Common Crawl documents of tests/data, cycled to ``--shard-docs``) in a fresh
process; docs per CPU-second include importing and loading the models, and the peak RSS is the process's
(VmHWM, read in the child itself: a parent's ru_maxrss would count the forking process's size too), which
includes the shard's texts (reported apart as ``rss_of_texts_mib``).

    python bench/langid_accuracy.py [--per-lang 0] [--shard-docs 10000] [--methods ...] [--skip-accuracy] [--skip-speed]
                                    [--out docs/langid_accuracy.json]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# labels the models spell differently from the test sets' ISO 639-1 codes
ALIASES = {"no": "nb", "iw": "he", "jw": "jv", "zh-cn": "zh", "zh-tw": "zh"}
METHODS = {
    "fastText lid.176.ftz": {"second_opinion": "none"},
    "py3langid": "py3langid",
    "lingua high (all languages)": "lingua",
    "old default: fastText + lingua (all languages) below 0.5": {"second_opinion": "lingua", "second_opinion_below": 0.5,
                                                                 "max_chars": 2000},
    "default: fastText; below 0.9 a vote of lingua (low accuracy) + fastText + py3langid among candidates": {},
    "same candidates: lingua (low accuracy) alone decides": {"vote_weights": (1.0, 0.0, 0.0)},
    "same vote with lingua's high-accuracy models": {"lingua_high_accuracy": True},
    "same vote with lingua reading 1000 characters (not 500)": {"lingua_max_chars": 1000},
}


def norm(code: str) -> str:
    return ALIASES.get(code, code)


def half(text: str) -> str:
    return "ab"[hashlib.md5(text.encode()).digest()[0] & 1]


def predictor(method: str):
    spec = METHODS[method]
    if spec == "py3langid":
        from curation.langid.identify import _load_py3langid

        py3 = _load_py3langid()
        return lambda texts: [py3.classify(t)[0] for t in texts]
    if spec == "lingua":
        from curation.langid.lingua_candidates import lingua_detector

        det = lingua_detector(high_accuracy=True)
        return lambda texts: [(lang.iso_code_639_1.name.lower() if (lang := det.detect_language_of(t)) else "und")
                              for t in texts]
    from curation.langid.identify import LangIdConfig, LanguageIdentifier

    ident = LanguageIdentifier(LangIdConfig(**spec))
    return lambda texts: [r["language"] for r in ident.label(texts)]


def common_languages() -> set[str]:
    from lingua import Language

    from curation.langid.identify import _load_fasttext, _load_py3langid, default_fasttext_model
    from curation.langid.lingua_candidates import fasttext_label

    ft = {norm(fasttext_label(x.removeprefix("__label__"))) for x in _load_fasttext(default_fasttext_model()).get_labels()}
    py3 = {norm(x) for x in _load_py3langid().nb_classes}
    return {lang.iso_code_639_1.name.lower() for lang in Language.all()} & ft & py3


def load_sets(data: Path, per_lang: int) -> dict[str, list[tuple[str, str]]]:
    sets = {name: [(r["lang"], r["text"]) for r in map(json.loads, (data / f"lingua-{name}.jsonl").open(encoding="utf-8"))]
            for name in ("sentences", "word-pairs")}
    common = common_languages()
    udhr = []
    for r in map(json.loads, (data / "udhr-paragraphs.jsonl").open(encoding="utf-8")):
        lang = r["bcp47"].split("-")[0]
        if lang in common:
            udhr.append((lang, r["text"]))
    sets["udhr-common"] = udhr
    if per_lang:
        rng = random.Random(0)
        for name, rows in sets.items():
            by = defaultdict(list)
            for row in rows:
                by[row[0]].append(row)
            sets[name] = [r for lang in sorted(by) for r in rng.sample(by[lang], min(per_lang, len(by[lang])))]
    return sets


def accuracy(method: str, rows: list[tuple[str, str]]) -> dict:
    preds = predictor(method)([t for _, t in rows])
    out, per = {}, defaultdict(lambda: [0, 0])
    for part in ("all", "a", "b"):
        sel = [(lang, p) for (lang, t), p in zip(rows, preds) if part == "all" or half(t) == part]
        out[part] = round(sum(norm(p) == lang for lang, p in sel) / max(1, len(sel)), 4)
    for (lang, _), p in zip(rows, preds):
        per[lang][0] += norm(p) == lang
        per[lang][1] += 1
    out["n"] = len(rows)
    out["languages"] = len(per)
    out["per_language"] = {k: round(c / n, 3) for k, (c, n) in sorted(per.items())}
    return out


def shard_texts(n: int) -> list[str]:
    texts = []
    with gzip.open(ROOT / "tests/data/cc-main-2019-30-docs.jsonl.gz", "rt") as fh:
        texts += [json.loads(line)["text"] for line in fh]
    gt = json.loads((ROOT / "tests/data/article-extraction-benchmark-ground-truth.json").read_text())
    texts += [v["articleBody"] for _, v in sorted(gt.items())]
    from curation.extract.documents import DocumentBuilder
    from curation.extract.sources import CrawlSource

    src = CrawlSource(str(ROOT / "sample_crawl"))
    for snap in src.list_snapshots():
        texts += DocumentBuilder(src).build(snap, "all", src.list_files(snap))[0].column("text").to_pylist()
    texts = [t for t in texts if t.strip()]
    return [texts[i % len(texts)] for i in range(n)]


def set_texts(data: Path) -> list[str]:
    """Every lingua test sentence and UDHR paragraph: the most languages a process could meet."""
    return [json.loads(line)["text"] for name in ("lingua-sentences", "udhr-paragraphs")
            for line in (data / f"{name}.jsonl").open(encoding="utf-8")]


def peak_rss_mib() -> int:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited from the parent across fork and exec)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def current_rss_mib() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024)
    return 0


def speed_worker(method: str, docs_path: str) -> dict:
    """In a fresh process: CPU seconds from start (imports and model loading included) to the last label."""
    texts = json.loads(Path(docs_path).read_text())
    docs_rss = current_rss_mib()  # the shard's texts alone (the JSON text is freed; its peak counts in VmHWM)
    c0 = time.process_time()  # the interpreter's start-up before this line is not counted, for every method alike
    predict = predictor(method)
    labels = predict(texts)
    cpu = time.process_time() - c0
    langs = defaultdict(int)
    for lab in labels:
        langs[lab] += 1
    return {"docs": len(texts), "cpu_s": round(cpu, 2), "docs_per_cpu_s": round(len(texts) / cpu, 1),
            "peak_rss_mib": peak_rss_mib(), "rss_of_texts_mib": docs_rss,
            "languages": len(langs)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(next((p for p in (ROOT.parent / "shared/data/langid", ROOT.parents[1] / "shared/data/langid")
                                                if p.exists()), ROOT.parent / "shared/data/langid")))
    ap.add_argument("--per-lang", type=int, default=0, help="rows per language and set (0: all)")
    ap.add_argument("--shard-docs", type=int, default=10000)
    ap.add_argument("--lingua-shard-docs", type=int, default=2000, help="lingua alone is slow: a smaller shard")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated method names (none has a comma)")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--speed-on-sets", action="store_true",
                    help="speed and memory on every lingua sentence and UDHR paragraph (400+ languages) instead")
    ap.add_argument("--out", default=str(ROOT / "docs/langid_accuracy.json"))
    ap.add_argument("--worker")
    ap.add_argument("--docs")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(speed_worker(args.worker, args.docs)))
        return
    assert not any("," in m for m in METHODS)
    methods = [m for m in METHODS if m in args.methods.split(",")]
    out = Path(args.out)
    report = json.loads(out.read_text()) if out.exists() else {}
    report.setdefault("accuracy", {})
    report.setdefault("speed", {})
    report.setdefault("speed_on_sets", {})
    if not args.skip_accuracy:
        sets = load_sets(Path(args.data), args.per_lang)
        for name, rows in sets.items():
            for m in methods:
                r = accuracy(m, rows)
                report["accuracy"].setdefault(name, {})[m] = r
                print(f"{name:12s} {m:70s} all={r['all']:.4f} a={r['a']:.4f} b={r['b']:.4f} (n={r['n']}, "
                      f"{r['languages']} languages)", flush=True)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for m in methods if not args.skip_speed else []:
            n = args.lingua_shard_docs if METHODS[m] == "lingua" else args.shard_docs
            path = Path(tmp) / f"docs{n}.json"
            if not path.exists():
                path.write_text(json.dumps(set_texts(Path(args.data)) if args.speed_on_sets else shard_texts(n)))
            res = subprocess.run([sys.executable, __file__, "--worker", m, "--docs", str(path)],
                                 capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                                                      "OMP_NUM_THREADS": "1"})
            if res.returncode:
                print(f"{m}: failed\n{res.stderr[-2000:]}")
                continue
            report["speed_on_sets" if args.speed_on_sets else "speed"][m] = json.loads(res.stdout.strip().splitlines()[-1])
            print(f"{m:70s} {res.stdout.strip().splitlines()[-1]}", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
