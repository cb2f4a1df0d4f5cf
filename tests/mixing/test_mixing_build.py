"""The corpus-scale mixture on a store of real documents: per-shard label tables in, versioned parts out.

The store is built here from real web text (tests/data) and Wikipedia abstracts, with real token counts; the
labels (language, dedup, quality) are assigned per document so that every keep rule removes something."""

import functools
import gzip
import json

import polars as pl
import pyarrow as pa

from curation.mixing.config import MixtureConfig
from curation.models.tokenizer import tokenizer_id
from curation.mixing.mixture import build
from curation.mixing.publish import published, versions
from curation.mixing.source import units
from curation.core.storage import ShardStore
from tests.conftest import DATA, ROOT

SNAP = "CC-MAIN-2019-30"


@functools.lru_cache(maxsize=1)
def _counted() -> tuple[list[str], list[int]]:
    from curation.models.tokenizer import count_tokens, load_tokenizer

    texts = _texts()
    return texts, count_tokens(texts, load_tokenizer(None)).tolist()


def _texts() -> list[str]:
    with gzip.open(DATA / "cc-main-2019-30-docs.jsonl.gz", "rt") as fh:
        web = [json.loads(line)["text"] for line in fh]
    wiki = [json.loads(line)["text"] for line in open(ROOT / "sample_data/quality/wikipedia-abstracts-en.jsonl")]
    return [t for t in web + wiki if t.strip()]


def make_store(base, n_shards: int, limit: int | None = None) -> ShardStore:
    """Every text (or the first ``limit``) as a document of one snapshot, spread over ``n_shards`` shards."""
    from curation.core.tables import TOKENS as SCHEMA

    texts, counts = _counted()
    texts = texts[:limit] if limit else texts
    store = ShardStore(str(base))
    for k in range(n_shards):
        idx = [i for i in range(len(texts)) if i % n_shards == k]
        ids = [f"doc-{i:05d}" for i in idx]
        t = [texts[i] for i in idx]
        write = lambda asset, cols: store.write(asset, SNAP, f"{k:04d}", pa.table(cols), {"fingerprint": f"{asset}{k}"})
        write("documents", {"id": ids, "text": t, "url": [f"https://site{i % 13}.example/{i}" for i in idx]})
        write("language", {"id": ids, "language": ["de" if i % 11 == 0 else "en" for i in idx],
                           "language_score": [0.5 if i % 9 == 0 else 0.9 for i in idx]})
        write("dedup", {"id": ids, "keep": [i % 10 != 3 for i in idx], "cluster_size": [1 + (i % 7 == 0) * 5 for i in idx]})
        write("quality", {"id": ids, "quality_pass": [i % 8 != 5 for i in idx], "quality_bucket": [i % 10 for i in idx]})
        table = pa.table({"id": ids, "tokens": [counts[i] for i in idx]}, schema=SCHEMA)
        store.write("tokens", SNAP, f"{k:04d}", table, {"fingerprint": f"t{k}", "tokenizer": tokenizer_id(None)})
    return store


def _config(**kw) -> MixtureConfig:
    base = dict(name="m", group_by=["language"], weights={"en": 0.8, "de": 0.2}, total_tokens=30_000,
                shard_tokens=4_000, rehydrate={1: 1, 5: 2}, max_repeats=3, seed=5)
    return MixtureConfig(**{**base, **kw})


def _build(store, cfg, n_shards):
    return build(store, cfg, units(cfg, [SNAP], [f"{k:04d}" for k in range(n_shards)]), "fp-" + cfg.name,
                 tokenizer_id(None))


def _read(store, man) -> pl.DataFrame:
    root = store.side_path("mixtures", man["mixture"], "")
    return pl.read_parquet([f"{root}/{p['file']}" for p in man["shards"]])


def test_weights_labels_and_the_keep_rules_from_narrow_tables(tmp_path):
    store = make_store(tmp_path / "out", 4)
    cfg = _config()
    man = _build(store, cfg, 4)
    rows = _read(store, man)
    assert rows.height == sum(p["documents"] for p in man["shards"]) and man["total_tokens"] == rows["tokens"].sum()
    assert abs(man["total_tokens"] - 30_000) <= 0.02 * 30_000
    for g in man["groups"]:
        assert abs(g["achieved_weight"] - g["target_weight"]) <= cfg.tolerance or g["shortfall_tokens"] > 0, g
    ids = set(rows["id"])
    n = [int(i.split("-")[1]) for i in ids]
    assert all(i % 9 != 0 and i % 10 != 3 and i % 8 != 5 for i in n)  # low score, duplicates, failures: out
    assert {"de", "en"} == set(rows["language"]) and rows["text"].str.len_chars().min() > 0
    removed = man["stats"]["removed"]
    assert removed["language score < 0.65"] > 0 and removed["duplicate (dedup)"] > 0
    assert removed["failed a heuristic quality filter"] > 0
    # within a part the rows are shuffled, not grouped by language
    biggest = max(man["shards"], key=lambda p: p["documents"])
    part = pl.read_parquet(f"{store.side_path('mixtures', 'm', '')}/{biggest['file']}")
    assert part["language"].to_list() != sorted(part["language"].to_list())


def test_selection_does_not_depend_on_sharding_and_rebuilds_publish_a_new_version(tmp_path):
    four = make_store(tmp_path / "four", 4)
    cfg = _config(keep_versions=1, total_tokens=300_000, shard_tokens=40_000)
    a = _build(four, cfg, 4)
    two = make_store(tmp_path / "two", 2)
    b = _build(two, _config(total_tokens=300_000), 2)
    pick = lambda m, s: sorted(zip(*_read(s, m).select("id", "repeat").to_dict(as_series=False).values()))
    assert pick(a, four) == pick(b, two)  # the same documents and copies, however the corpus is sharded
    assert max(r for _, r in pick(a, four)) >= 1  # rehydration gave some documents a second copy

    # a rebuild into fewer parts: a new version; a glob over the published mixture reads exactly the manifest,
    # even where a build from before versions existed left its parts directly in the mixture's folder
    before = len(a["shards"])
    legacy = tmp_path / "four/mixtures/m/part-00000.parquet"
    pl.DataFrame({"id": ["old"]}).write_parquet(legacy)
    c = _build(four, _config(total_tokens=300_000, shard_tokens=200_000, keep_versions=1), 4)
    assert len(c["shards"]) < before and c["version"] != a["version"]
    assert published(four, "m")["version"] == c["version"] and versions(four, "m") == [c["version"]]
    root = four.side_path("mixtures", "m", "")
    globbed = pl.read_parquet(f"{root}/**/*.parquet")
    assert globbed.height == sum(p["documents"] for p in c["shards"]) == _read(four, c).height
    assert not legacy.exists()
    assert (tmp_path / "four/mixtures/m/CURRENT").read_text().strip() == c["version"]
    assert not list((tmp_path / "four/mixtures/m").glob("*/work"))  # the work tables are gone
    # keep_versions: 2 keeps the previous version beside the current one
    d = _build(four, _config(total_tokens=300_000, keep_versions=2), 4)
    assert versions(four, "m") == [c["version"], d["version"]]


def test_a_tokenizer_other_than_the_stored_one_is_counted_on_the_fly(tmp_path):
    store = make_store(tmp_path / "out", 2)
    info = store.info("tokens", SNAP, "0000")
    store.write("tokens", SNAP, "0000", store.read("tokens", SNAP, "0000"), {**info, "tokenizer": "another"})
    man = _build(store, _config(), 2)
    on_fly = [n for n in man["stats"]["notes"] if n.startswith("tokens counted on the fly")]
    assert on_fly and man["total_tokens"] > 0
    ref = _build(make_store(tmp_path / "ref", 2), _config(), 2)
    assert man["total_tokens"] == ref["total_tokens"]  # the same tokenizer in fact: the same counts


def test_mixture_asset_validates_builds_and_shows_the_data_card(tmp_path):
    import dagster as dg

    from curation_assets.mixing import mixture_asset
    from resources import StorageResource

    make_store(tmp_path / "out", 4)
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nrewrites: false\ngroup_by: [source, snapshot]\nweights: {crawl/CC-MAIN-2019-30: 1}\n"
                    "total_tokens: 20000\nshard_tokens: 5000\nautomation: {cron: '0 4 * * *'}\n")
    asset = mixture_asset(str(path))
    assert asset.key == dg.AssetKey(["mixtures", "mine"])
    assert {k.to_user_string() for k in asset.dependency_keys} == {"documents", "language", "dedup", "quality",
                                                                   "tokens", "corpora", "contamination", "pii",
                                                                   "blocklist"}
    assert "cron" in str(asset.automation_conditions_by_key[asset.key]).lower() or \
        asset.automation_conditions_by_key[asset.key] is not None
    res = dg.materialize([asset], resources={"storage": StorageResource(base=str(tmp_path / "out"))},
                         instance=dg.DagsterInstance.ephemeral())
    assert res.success
    (mat,) = [e.materialization for e in res.get_asset_materialization_events()]
    card = mat.metadata["data_card"]
    assert isinstance(card, dg.MarkdownMetadataValue) and "`crawl/\u2060CC\u2011MAIN" in card.value
    assert mat.metadata["recomputed"].value is True and mat.metadata["parts"].value >= 4
    again = dg.materialize([asset], resources={"storage": StorageResource(base=str(tmp_path / "out"))},
                           instance=dg.DagsterInstance.ephemeral())
    (mat2,) = [e.materialization for e in again.get_asset_materialization_events()]
    assert mat2.metadata["recomputed"].value is False and mat2.metadata["version"] == mat.metadata["version"]
    # a bad file fails before any work, with its one-line errors
    path.write_text("name: mine\ngroup_by: [source, snapshot]\nweights: {crawl/CC-MAIN-2099-01: 1}\n")
    bad = dg.materialize([mixture_asset(str(path))], raise_on_error=False, instance=dg.DagsterInstance.ephemeral(),
                         resources={"storage": StorageResource(base=str(tmp_path / "out"))})
    assert not bad.success
    failure = [e for e in bad.all_events if e.event_type_value == "STEP_FAILURE"][0]
    assert "weights.crawl/CC-MAIN-2099-01: snapshot CC-MAIN-2099-01 is not among" in str(failure.step_failure_data.error)


def test_topic_groups_are_fitted_on_a_sample_and_assigned_per_shard(tmp_path):
    store = make_store(tmp_path / "out", 2, limit=80)
    cfg = _config(total_tokens=5_000, group_by=["topic"], topics=2, weights={"topic-00": 0.5, "topic-01": 0.5}, rehydrate=None)
    man = _build(store, cfg, 2)
    assert {g["group"] for g in man["groups"]} == {"topic-00", "topic-01"}
    assert all(g["documents_available"] > 0 and g["tokens"] > 0 for g in man["groups"])


def _mixture_job():
    """A reconstructable job (multiprocess steps re-import it): the mixture asset of $TEST_MIXTURE over the store
    at $TEST_MIXTURE_OUT, under the project's executor."""
    import os

    import dagster as dg

    from curation_assets.executor import in_process_or_multiprocess
    from curation_assets.mixing import mixture_asset
    from resources import StorageResource

    defs = dg.Definitions(assets=[mixture_asset(os.environ["TEST_MIXTURE"])], executor=in_process_or_multiprocess,
                          jobs=[dg.define_asset_job("build_mine")],
                          resources={"storage": StorageResource(base=os.environ["TEST_MIXTURE_OUT"])})
    return defs.get_job_def("build_mine")


def test_a_mixture_run_can_write_its_units_in_several_processes(tmp_path, monkeypatch):
    """In process by default; with ``multiprocess`` in the run config each unit's write op runs in its own
    process, and the published mixture is the same as the in-process build's."""
    import dagster as dg

    for name in ("seq", "par"):
        make_store(tmp_path / name, 4, limit=200)
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nrewrites: false\ngroup_by: [source, snapshot]\nweights: {crawl/CC-MAIN-2019-30: 1}\n"
                    "total_tokens: 20000\nshard_tokens: 5000\n")
    monkeypatch.setenv("TEST_MIXTURE", str(path))
    pids = {}
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        for name, config in (("seq", {}), ("par", {"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}})):
            monkeypatch.setenv("TEST_MIXTURE_OUT", str(tmp_path / name))
            with dg.execute_job(dg.reconstructable(_mixture_job), instance, run_config=config) as res:
                assert res.success
                pids[name] = {e.pid for e in res.all_events if e.is_step_start and "_write[" in (e.step_key or "")}
    assert len(pids["seq"]) == 1 and len(pids["par"]) == 4  # one process for all; one per unit
    ids = {n: sorted(_read(ShardStore(str(tmp_path / n)), published(ShardStore(str(tmp_path / n)), "mine"))["id"])
           for n in ("seq", "par")}
    assert ids["seq"] == ids["par"] and ids["seq"]
