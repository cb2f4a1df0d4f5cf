"""Build the bundled sample crawl (sample_crawl/) from the real files in ../shared/data.

Real WARC files are copied byte for byte; real HTML pages of the extraction benchmarks are wrapped,
unchanged, into WARC/1.1 response records (one gzip member per record, as Common Crawl writes them).
The layout is Common Crawl's: crawl-data/<SNAPSHOT>/warc.paths.gz lists files relative to the root.
Deterministic: the same inputs give byte-identical output.

    python scripts/build_sample_crawl.py [--shared ../shared/data] [--out sample_crawl]
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.extract.warc_writer import gzip_member, response, warc_gz, warcinfo  # noqa: E402

SNAPSHOTS = {
    "CC-MAIN-2024-22": {
        "date": "2024-05-20T00:00:00Z",
        "real": ["cc-main-2024-22.whirlwind.warc.gz", "jwarc-commoncrawl.org.warc.gz",
                 "dolma-wget-2024.sample-0000.warc.gz", "wail-stringjs.com-2017.warc"],
        "wrapped": [("article-extraction-benchmark", None, 4), ("readability-test-pages", None, 2)],
    },
    "CC-MAIN-2020-34": {
        "date": "2020-08-10T00:00:00Z",
        "real": ["cc-main-2020-34.part-a.warc.gz", "clueweb09-ja-quirk.part-a.warc.gz", "pywb-iana.org-2014.warc.gz"],
        "wrapped": [("trafilatura-eval", 140, 6)],
    },
}


def pages(shared: Path, name: str, limit: int | None) -> list[tuple[str, str, bytes]]:
    """(source path, url, html bytes) for the pages of one extraction set, sorted, first ``limit``."""
    base = shared / "extraction" / name
    out = []
    if name == "article-extraction-benchmark":
        truth = json.loads((base / "ground-truth.json").read_text())
        for key in sorted(truth):
            out.append((f"extraction/{name}/html/{key}.html.gz", truth[key]["url"],
                        gzip.decompress((base / "html" / f"{key}.html.gz").read_bytes())))
    elif name == "readability-test-pages":
        for d in sorted(p for p in base.iterdir() if p.is_dir()):
            # Readability's test pages carry no URL: a reserved .invalid host says so plainly.
            out.append((f"extraction/{name}/{d.name}/source.html.gz", f"http://readability-test-pages.invalid/{d.name}/",
                        gzip.decompress((d / "source.html.gz").read_bytes())))
    else:
        evaldata = json.loads((base / "evaldata.json").read_text())
        for url in sorted(evaldata):
            f = base / "html" / (evaldata[url]["file"] + ".gz")
            if f.exists():
                out.append((f"extraction/{name}/html/{f.name}", url, gzip.decompress(f.read_bytes())))
    return out[:limit] if limit else out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "sample_crawl"))
    args = ap.parse_args()
    shared, out = Path(args.shared), Path(args.out)
    if (out / "crawl-data").exists():
        shutil.rmtree(out / "crawl-data")
    provenance = []
    for snap, spec in SNAPSHOTS.items():
        seg = f"crawl-data/{snap}/segments/sample/warc"
        (out / seg).mkdir(parents=True, exist_ok=True)
        listed = []
        for name in spec["real"]:
            shutil.copyfile(shared / "warc" / name, out / seg / name)
            listed.append(f"{seg}/{name}")
            provenance.append({"file": f"{seg}/{name}", "copied_from": f"warc/{name}"})
        for set_name, limit, n_files in spec["wrapped"]:
            items = pages(shared, set_name, limit)
            for i in range(n_files):
                part = items[i::n_files]
                fname = f"{snap}-{set_name}-{i:05d}.warc.gz"
                records = [warcinfo(f"real pages of {set_name}, wrapped unchanged", spec["date"])]
                records += [response(url, html, date=spec["date"], key="curation-sample:" + source)
                            for source, url, html in part]
                (out / seg / fname).write_bytes(warc_gz(records))
                listed.append(f"{seg}/{fname}")
                provenance.append({"file": f"{seg}/{fname}", "pages_from": [s for s, _, _ in part]})
        with open(out / f"crawl-data/{snap}/warc.paths.gz", "wb") as fh:
            fh.write(gzip_member(("\n".join(sorted(listed)) + "\n").encode()))
    (out / "provenance.json").write_text(json.dumps(provenance, indent=1) + "\n")
    print(f"sample crawl written to {out}")


if __name__ == "__main__":
    main()
