"""How much of each document language ID should read: labels and CPU at several ``max_chars``, on real web text.

Texts: ``tests/data``'s Common Crawl documents, every page of ``../shared/data/warc`` (WARC pages through the default
extractor, WET records as they are) and of the sample crawl. For each ``max_chars`` the whole default language ID
runs (fastText, and the vote below 0.9, whose py3langid reads the same prefix; lingua reads 500 characters in
every setting); reported: labels that differ from the reference length's, and CPU per document of fastText alone
and of the whole labelling (best of ``--repeat``). The accuracy sets' texts are all shorter than 1,200 characters,
so their figures do not depend on ``max_chars`` from 1,000 up (bench/langid_accuracy.py).

    python bench/langid_input_length.py [--lengths 500,1000,2000,4000] [--reference 2000] [--out docs/langid_input_length.json]
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def real_texts(shared: Path) -> tuple[list[str], dict]:
    from curation.extract.html import Extractor, decode_html
    from curation.extract.warc import file_opener, iter_pages, iter_wet

    ex = Extractor()
    with gzip.open(ROOT / "tests/data/cc-main-2019-30-docs.jsonl.gz", "rt") as fh:
        texts = [json.loads(line)["text"] for line in fh]
    origin = {"tests/data cc-main-2019-30 documents": len(texts)}
    paths = sorted(glob.glob(str(shared / "warc/*"))) + sorted(glob.glob(str(ROOT / "sample_crawl/**/*.warc*"), recursive=True))
    for path in paths:
        n0, gz = len(texts), path.endswith(".gz")
        try:
            if ".wet" in os.path.basename(path):
                texts += [d.text for d in iter_wet(file_opener(path), os.path.getsize(path), Counter(), gz)]
            elif path.endswith((".warc.gz", ".warc")) and ".wat" not in path:
                for page in iter_pages(file_opener(path), os.path.getsize(path), Counter(), compressed=gz):
                    try:
                        texts.append(ex(decode_html(page.body, page.declared_charset)[0]))
                    except Exception:
                        continue
        except Exception as exc:  # a damaged test file in the shared data: skipped, said
            print(f"skipped {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
        if len(texts) > n0:
            key = "sample_crawl" if "sample_crawl" in path else os.path.basename(path)
            origin[key] = origin.get(key, 0) + len(texts) - n0
    return [t for t in texts if t.strip()], origin


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(ROOT.parent / "shared/data"))
    ap.add_argument("--lengths", default="500,1000,2000,4000")
    ap.add_argument("--reference", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "docs/langid_input_length.json"))
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    from curation.langid.identify import LangIdConfig, LanguageIdentifier, _prepare

    texts, origin = real_texts(Path(args.shared))
    lengths = sorted({int(x) for x in args.lengths.split(",")} | {args.reference})
    print(f"{len(texts)} texts ({sum(len(t) > 1000 for t in texts)} over 1,000 characters): {origin}", flush=True)
    labels, rows = {}, []
    for n in lengths:
        ident = LanguageIdentifier(LangIdConfig(max_chars=n))
        labels[n] = [r["language"] for r in ident.label(texts)]  # also loads every model before the timing
        prepared = [_prepare(t, n) for t in texts]
        ft, whole = [], []
        for _ in range(args.repeat):
            t0 = time.process_time()
            ident.model.predict(prepared, k=20)
            ft.append(time.process_time() - t0)
            t0 = time.process_time()
            ident.label(texts)
            whole.append(time.process_time() - t0)
        rows.append({"max_chars": n, "fasttext_ms_per_doc": round(min(ft) / len(texts) * 1e3, 3),
                     "labelling_ms_per_doc": round(min(whole) / len(texts) * 1e3, 3)})
    for r in rows:
        ref = labels[args.reference]
        diff = [(a, b) for a, b in zip(ref, labels[r["max_chars"]]) if a != b]
        r.update({"labels_changed": len(diff), "changes": [f"{a}->{b}" for a, b in diff][:20]})
        print(json.dumps(r), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"texts": len(texts), "origin": origin, "reference": args.reference,
                               "results": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
