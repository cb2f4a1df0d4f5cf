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
import hashlib
import io
import json
import shutil
import uuid
from pathlib import Path

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


def response_record(url: str, date: str, html: bytes, source: str) -> bytes:
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: " + str(len(html)).encode() + b"\r\n\r\n" + html
    rid = uuid.uuid5(uuid.NAMESPACE_URL, "curation-sample:" + source)
    digest = "sha256:" + hashlib.sha256(http).hexdigest()
    head = (
        "WARC/1.1\r\nWARC-Type: response\r\n"
        f"WARC-Record-ID: <urn:uuid:{rid}>\r\nWARC-Date: {date}\r\nWARC-Target-URI: {url}\r\n"
        f"WARC-Block-Digest: {digest}\r\nContent-Type: application/http;msgtype=response\r\n"
        f"Content-Length: {len(http)}\r\n\r\n"
    ).encode()
    return head + http + b"\r\n\r\n"


def warcinfo(date: str, note: str) -> bytes:
    body = f"software: curation scripts/build_sample_crawl.py\r\ndescription: {note}\r\n".encode()
    rid = uuid.uuid5(uuid.NAMESPACE_URL, "curation-sample-info:" + note)
    return (f"WARC/1.1\r\nWARC-Type: warcinfo\r\nWARC-Record-ID: <urn:uuid:{rid}>\r\nWARC-Date: {date}\r\n"
            f"Content-Type: application/warc-fields\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body + b"\r\n\r\n"


def gz(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as g:
        g.write(data)
    return buf.getvalue()


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
                with open(out / seg / fname, "wb") as fh:
                    fh.write(gz(warcinfo(spec["date"], f"real pages of {set_name}, wrapped unchanged")))
                    for source, url, html in part:
                        fh.write(gz(response_record(url, spec["date"], html, source)))
                listed.append(f"{seg}/{fname}")
                provenance.append({"file": f"{seg}/{fname}", "pages_from": [s for s, _, _ in part]})
        with open(out / f"crawl-data/{snap}/warc.paths.gz", "wb") as fh:
            fh.write(gz(("\n".join(sorted(listed)) + "\n").encode()))
    (out / "provenance.json").write_text(json.dumps(provenance, indent=1) + "\n")
    print(f"sample crawl written to {out}")


if __name__ == "__main__":
    main()
