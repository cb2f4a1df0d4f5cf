"""Clustering split by kind of key (each band, the text and the URL hashes in its own process, joined at the
end) gives exactly the clusters, flags, earlier-snapshot matches and decisions of one process, with and without
the candidate check, on real pages and their near-copies."""

import numpy as np
import pyarrow as pa
import pytest

from curation.dedup.arrays import ArrayFile
from curation.dedup.clusters import PriorIndex, find_clusters, write_index
from curation.dedup.config import DedupConfig
from curation.dedup.decisions import decide, run_local
from curation.dedup.evaluation import derive
from tests.dedup.test_dedup import articles, docs_table, shard_split, web_docs

ARRAYS = ("offsets", "nodes", "node_labels", "text_repeated", "url_repeated", "prior_idx", "prior_of", "prior_exact")


@pytest.mark.parametrize("min_similarity", [0.0, 0.7])
def test_clusters_split_by_band_over_two_processes_equal_one_process(tmp_path, min_similarity):
    base = [d["text"] for d in web_docs()] + articles()
    urls = [d["url"] for d in web_docs()] + [f"https://example.org/a/{i}" for i in range(len(articles()))]
    earlier = docs_table(base[:120], urls=urls[:120], prefix="e")
    (tmp_path / "e").mkdir()
    _, _, inputs_e = run_local({"0000": earlier}, DedupConfig(), str(tmp_path / "e"))
    write_index(str(tmp_path / "e.index"), inputs_e, 14, "fp-e", "CC-MAIN-2024-10")
    prior = [PriorIndex("CC-MAIN-2024-10", ArrayFile(str(tmp_path / "e.index")))]

    derived = derive(base, seed=5, per_kind=40)  # exact copies, whitespace changes, word edits, truncations...
    texts = base + [t for _, _, t in derived]
    urls = urls + [urls[src] if k % 3 == 0 else f"https://copy.example/{k}" for k, (src, _, _) in enumerate(derived)]
    table = docs_table(texts, urls=urls)
    cfg = DedupConfig(scope="incremental", url=True, min_similarity=min_similarity)
    (tmp_path / "now").mkdir()
    _, _, inputs = run_local(shard_split(table, 5), cfg, str(tmp_path / "now"), prior=prior)
    attrs = {s: t for s, t in shard_split(table, 5).items()}

    def attributes(shard):
        t = attrs[shard]
        return t.append_column("text_chars", pa.array([len(x) for x in t.column("text").to_pylist()], pa.int64()))

    one = find_clusters(inputs, cfg, prior, chunk=500, workers=1)
    two = find_clusters(inputs, cfg, prior, chunk=500, workers=2)
    for name in ARRAYS:
        assert np.array_equal(getattr(one, name), getattr(two, name)), name
    assert one.edges == two.edges and one.dropped == two.dropped and one.shards == two.shards
    # the case is not trivial: near-copies linked, repeated texts and URLs, matches against the earlier snapshot
    assert len(one.nodes) > 100 and len(one.text_repeated) and len(one.url_repeated) and len(one.prior_idx) > 100
    assert (sum(one.dropped.values()) > 0) == (min_similarity > 0)
    assert decide(one, attributes, cfg).equals(decide(two, attributes, cfg))
