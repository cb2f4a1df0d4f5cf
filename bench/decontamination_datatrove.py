"""datatrove's NGramsDecontFilter on bench/decontamination.py's planted set; run with bench/.dtvenv/bin/python.

The index is written as datatrove's NGramsDecontIndexer writes it (its own ``compute_hashes``: 12-grams of the
spaCy word tokens of ``simplify_text``, xxhash-64, one ``<task>.index.hashes`` file per benchmark); the
indexer's ``run`` is not called because it imports lighteval to fetch tasks from the hub, which this machine
cannot reach. The filter is datatrove's own class, unchanged.

    bench/.dtvenv/bin/python bench/decontamination_datatrove.py ITEMS.jsonl DOCS.jsonl OUT.json
"""

import json
import sys
import tempfile
import time
from collections import defaultdict
from types import SimpleNamespace

import numpy as np
from datatrove.data import Document
from datatrove.pipeline.decont.n_grams import NGramsDecontConfig, NGramsDecontFilter, NGramsDecontIndexer
from datatrove.utils.hashing import create_hash_func
from datatrove.utils.typeshelper import Languages
from datatrove.utils.word_tokenizers import load_word_tokenizer


def main(items_path: str, docs_path: str, out_path: str) -> None:
    config = NGramsDecontConfig()
    indexer = SimpleNamespace(tokenizer=load_word_tokenizer(Languages.english), config=config,
                              hash_func=create_hash_func(config.hash_config))
    hashes = defaultdict(set)
    t0 = time.process_time()
    with open(items_path) as f:
        for line in f:
            item = json.loads(line)
            hashes[item["benchmark"]].update(NGramsDecontIndexer.compute_hashes(indexer, item["text"]))
    build_s = time.process_time() - t0
    folder = tempfile.mkdtemp(prefix="dt-decont-")
    for task, hs in hashes.items():
        np.array(sorted(hs), dtype=config.hash_config.np_descr).tofile(f"{folder}/{task}.index.hashes")
    flt = NGramsDecontFilter(folder, config=config)
    flt.load_index_hashes()
    with open(docs_path) as f:
        docs = [json.loads(line) for line in f]
    flagged, cpu = [], []
    for d in docs:
        t0 = time.process_time()
        res = flt.filter(Document(text=d["text"], id=d["id"]))
        cpu.append(time.process_time() - t0)
        flagged.append(res is not True)
    scan_s = sum(cpu)
    with open(out_path, "w") as f:
        json.dump({"flagged": flagged, "cpu": cpu, "scan_cpu_s": scan_s, "build_cpu_s": build_s, "n_grams": config.n_grams}, f)


if __name__ == "__main__":
    main(*sys.argv[1:4])
