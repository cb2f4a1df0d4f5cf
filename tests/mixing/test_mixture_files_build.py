"""What a build does with what a mixture file asks for: weights by pattern and their splits (issue 26, part 5),
candidate groups without a weight listed with their documents and tokens, no new version when the plan and its
inputs are unchanged, and never a published version with no tokens or a number that is not finite (issue 25,
cases 11-12). The store is the one test_mixing_build builds from real text; a second snapshot is its copy under
another name (new ids, new fingerprints)."""

import datetime as dt
import json

import pytest

from curation.mixing.config import MixtureConfig
from curation.mixing.mixture import build
from curation.mixing.publish import NotPublished, published, versions
from curation.mixing.source import units
from curation.mixing.weights import Weights, snapshot_date
from curation.models.tokenizer import tokenizer_id
from tests.mixing.test_mixing_build import SNAP, make_store

NEW = "CC-MAIN-2021-30"  # about two years after SNAP, CC-MAIN-2019-30
TABLES = ("documents", "language", "dedup", "quality", "tokens", "contamination", "pii", "blocklist")


def copy_snapshot(store, n_shards: int, dst: str = NEW) -> None:
    """SNAP's tables again as snapshot ``dst``: the same texts and labels under new ids and fingerprints."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for k in range(n_shards):
        shard = f"{k:04d}"
        for asset in TABLES:
            info = store.info(asset, SNAP, shard)
            if info is None:
                continue
            t = store.read(asset, SNAP, shard)
            t = t.set_column(t.schema.get_field_index("id"), "id", pc.binary_join_element_wise(
                pa.scalar(f"{dst}:"), t["id"], ""))
            store.write(asset, dst, shard, t, {**info, "fingerprint": f"{info['fingerprint']}-{dst}"})


def _cfg(**kw) -> MixtureConfig:
    base = {"name": "p", "group_by": ["source", "snapshot"], "weights": {f"crawl/{SNAP}": 1.0},
            "total_tokens": 20_000, "shard_tokens": 10_000, "max_repeats": 3, "seed": 1}
    return MixtureConfig(**{**base, **kw})


def _build(store, cfg, snaps=(SNAP,), n_shards=2):
    return build(store, cfg, units(cfg, list(snaps), [f"{k:04d}" for k in range(n_shards)]), "fp", tokenizer_id(None))


@pytest.fixture(scope="module")
def two_snapshots(tmp_path_factory):
    store = make_store(tmp_path_factory.mktemp("two") / "out", 2, limit=300)
    copy_snapshot(store, 2)
    return store


def test_weights_resolve_names_before_patterns_and_the_most_specific_pattern():
    w = Weights({"crawl/*": 0.5, "crawl/CC-MAIN-2024-*": 0.2, "crawl/CC-MAIN-2024-22": 0.1, "crawl/CC-MAIN-2019-*": 0,
                 "wiki/*": {"weight": 0.2, "split": "equal"}}, ["source", "snapshot"])
    assert w.key_of("crawl/CC-MAIN-2024-22") == "crawl/CC-MAIN-2024-22"
    assert w.key_of("crawl/CC-MAIN-2024-10") == "crawl/CC-MAIN-2024-*"
    assert w.key_of("crawl/CC-MAIN-2023-50") == "crawl/*"
    assert not w.weighted("crawl/CC-MAIN-2019-30") and w.key_of("crawl/CC-MAIN-2019-30")  # left out on purpose
    assert w.key_of("books/-") is None and not w.weighted("books/-")
    tokens = {"crawl/CC-MAIN-2024-22": 5, "crawl/CC-MAIN-2024-10": 10, "crawl/CC-MAIN-2023-50": 30,
              "crawl/CC-MAIN-2022-05": 10, "crawl/CC-MAIN-2019-30": 99}
    r = w.resolve(tokens)
    assert r["crawl/CC-MAIN-2024-22"] == (0.1, "crawl/CC-MAIN-2024-22")
    assert r["crawl/CC-MAIN-2024-10"] == (0.2, "crawl/CC-MAIN-2024-*")
    assert r["crawl/CC-MAIN-2023-50"] == (0.5 * 30 / 40, "crawl/*")  # split by tokens
    assert r["crawl/CC-MAIN-2022-05"] == (0.5 * 10 / 40, "crawl/*")
    assert r["wiki/*"] == (0.2, "wiki/*")  # matched nothing: kept under its own name (its shortfall is reported)
    assert "crawl/CC-MAIN-2019-30" not in r and sum(x for x, _ in r.values()) == pytest.approx(w.total)
    assert snapshot_date("CC-MAIN-2024-22").isoformat() == "2024-05-27" and snapshot_date("CC-MAIN-2024") is None


@pytest.mark.parametrize("split", ["tokens", "equal", "recency"])
def test_a_pattern_splits_its_weight_among_the_snapshots_it_matches(two_snapshots, split):
    spec = {"weight": 1} | ({"split": split} if split != "tokens" else {}) | \
        ({"half_life": 1} if split == "recency" else {})
    man = _build(two_snapshots, _cfg(weights={"crawl/*": spec}, name=f"p-{split}"), (SNAP, NEW))
    by = {g["group"]: g for g in man["groups"]}
    assert set(by) == {f"crawl/{SNAP}", f"crawl/{NEW}"} and {g["weight_from"] for g in by.values()} == {"crawl/*"}
    old, new = by[f"crawl/{SNAP}"], by[f"crawl/{NEW}"]
    assert old["tokens_available"] == new["tokens_available"] > 0  # the same texts
    share = old["target_tokens"] / (old["target_tokens"] + new["target_tokens"])
    if split == "recency":  # ISO weeks: 2019-07-22 and 2021-07-26 (2020 has 53 weeks); halved per year of age
        age = (dt.date(2021, 7, 26) - dt.date(2019, 7, 22)).days / 365.2425
        expected = 0.5 ** age / (1 + 0.5 ** age)
    else:  # the same tokens: tokens and equal agree here
        expected = 0.5
    assert share == pytest.approx(expected, abs=1e-4)
    assert man["total_tokens"] == pytest.approx(20_000, rel=0.05)
    with open(two_snapshots.side_path("mixtures", f"p-{split}", f"{man['version']}/DATA_CARD.md")) as fh:
        text = fh.read()
    assert f"from `crawl/*` (split by {split}" in text and "Every group with candidate documents has a weight" in text


def test_an_explicit_name_beats_the_pattern_that_also_matches_it(two_snapshots):
    man = _build(two_snapshots, _cfg(name="ex", weights={"crawl/*": 0.5, f"crawl/{NEW}": 0.25}), (SNAP, NEW))
    by = {g["group"]: g for g in man["groups"]}
    assert by[f"crawl/{SNAP}"]["target_weight"] == pytest.approx(0.5 / 0.75, abs=1e-4)
    assert by[f"crawl/{SNAP}"]["weight_from"] == "crawl/*" and "weight_from" not in by[f"crawl/{NEW}"]


def test_a_new_snapshot_without_a_weight_is_listed_and_publishes_no_new_version(two_snapshots):
    store = two_snapshots
    first = _build(store, _cfg(name="u"))
    assert first["stats"]["unweighted"] == {}
    again = _build(store, _cfg(name="u"))  # the same plan over the same inputs
    assert again.get("unchanged") and again["version"] == first["version"] and versions(store, "u") == [first["version"]]
    info = store.info("documents", SNAP, "0001")  # a contributing shard re-extracted: new inputs, new version
    store.write("documents", SNAP, "0001", store.read("documents", SNAP, "0001"), {**info, "fingerprint": "again"})
    changed = _build(store, _cfg(name="u"))
    assert not changed.get("unchanged") and changed["version"] != first["version"]
    first = changed
    with_new = _build(store, _cfg(name="u"), (SNAP, NEW))  # a snapshot arrived; no weight names it
    assert with_new.get("unchanged") and with_new["version"] == first["version"]
    missing = with_new["stats"]["unweighted"][f"crawl/{NEW}"]
    assert missing["documents"] > 0 and missing["tokens"] > 0
    assert missing["documents"] == first["groups"][0]["documents_available"]  # the copy: as many candidates
    by_pattern = _build(store, _cfg(name="u", weights={"crawl/*": 1.0}), (SNAP, NEW))  # now it has a weight
    assert not by_pattern.get("unchanged") and by_pattern["version"] != first["version"]
    assert {g["group"] for g in by_pattern["groups"]} == {f"crawl/{SNAP}", f"crawl/{NEW}"}
    lonely = _build(store, _cfg(name="l", group_by=["language"], weights={"en": 1.0}))
    assert lonely["stats"]["unweighted"]["de"]["documents"] > 0
    with open(store.side_path("mixtures", "l", f"{lonely['version']}/DATA_CARD.md")) as fh:
        card = fh.read()
    assert "## Candidate groups without a weight" in card and "| `de` |" in card


def _strict(path) -> dict:
    def refuse(c):
        raise ValueError(f"not strict JSON: {c}")

    with open(path) as fh:
        return json.loads(fh.read(), parse_constant=refuse)


@pytest.mark.parametrize("bad, why", [
    ({"weights": {"fr": 1.0}}, "it holds no tokens"),  # a group no document is in
    ({"weights": {"en": float("nan"), "de": 1.0}}, "a number is not finite"),
    ({"tolerance": float("nan")}, "manifest.config.tolerance: must be a finite number"),
])
def test_a_build_with_no_tokens_or_a_non_finite_number_never_replaces_the_published_one(tmp_path, bad, why):
    store = make_store(tmp_path / "out", 2, limit=200)
    base = {"name": "m", "group_by": ["language"], "weights": {"en": 0.8, "de": 0.2}, "total_tokens": 5_000, "seed": 2}
    good = _build(store, MixtureConfig(**base))
    current = (tmp_path / "out/mixtures/m/CURRENT").read_text()
    pointer = (tmp_path / "out/mixtures/m/manifest.json").read_text()
    with pytest.raises(NotPublished, match=why) as exc:
        _build(store, MixtureConfig(**{**base, **bad}))  # a programmatic config: the publish guard itself
    assert f"{good['version']} stays current" in str(exc.value) and "\n" not in str(exc.value)
    assert (tmp_path / "out/mixtures/m/CURRENT").read_text() == current
    assert (tmp_path / "out/mixtures/m/manifest.json").read_text() == pointer
    assert versions(store, "m") == [good["version"]]  # the refused version's folder is gone
    assert _strict(tmp_path / "out/mixtures/m/manifest.json")["total_tokens"] == good["total_tokens"]
    assert published(store, "m")["version"] == good["version"]


def test_the_mixture_asset_keeps_the_published_version_through_bad_files_and_unweighted_snapshots(tmp_path):
    """Cases 11-12 through Dagster: a file of NaN weights fails before any work and a build with no tokens fails
    at publishing, naming why, and CURRENT stays; a new snapshot no weight names republishes nothing but is listed
    in the materialisation's metadata."""
    import dagster as dg

    from curation_assets.mixing import mixture_asset
    from resources import StorageResource

    store = make_store(tmp_path / "out", 4, limit=200)
    path = tmp_path / "mine.yaml"
    good = f"name: mine\nrewrites: false\ngroup_by: [source, snapshot]\nweights: {{crawl/{SNAP}: 1}}\n" \
           "total_tokens: 5000\nshard_tokens: 5000\n"
    current = tmp_path / "out/mixtures/mine/CURRENT"

    def run(text: str):
        path.write_text(text)
        res = dg.materialize([mixture_asset(str(path))], raise_on_error=False, instance=dg.DagsterInstance.ephemeral(),
                             resources={"storage": StorageResource(base=str(tmp_path / "out"))})
        failures = [str(e.step_failure_data.error) for e in res.all_events if e.event_type_value == "STEP_FAILURE"]
        mats = [e.materialization for e in res.get_asset_materialization_events()]
        return res.success, failures, mats

    ok, _, (mat,) = run(good)
    assert ok and mat.metadata["recomputed"].value is True and mat.metadata["unweighted_groups"].value == {}
    version = current.read_text()
    ok, failures, _ = run(good.replace(f"crawl/{SNAP}: 1", f"crawl/{SNAP}: .nan"))
    assert not ok and f"weights.crawl/{SNAP}: must be a finite number, got nan" in failures[0]
    ok, failures, _ = run(good + "languages: [fr]\n")  # valid, but no document is French
    assert not ok and any("is not published: it holds no tokens" in f for f in failures), failures
    assert current.read_text() == version and versions(store, "mine") == [version.strip()]
    copy_snapshot(store, 4)
    ok, _, (mat,) = run(good)
    assert ok and mat.metadata["recomputed"].value is False and current.read_text() == version
    assert mat.metadata["unweighted_groups"].value[f"crawl/{NEW}"]["documents"] > 0
    ok, _, (mat,) = run(good)  # the same inputs again: known unchanged without a plan
    assert ok and mat.metadata["unweighted_groups"].value[f"crawl/{NEW}"]["tokens"] > 0


def test_the_run_summary_warns_about_candidate_groups_without_a_weight(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from rich.console import Console

    from curation_assets import settings
    from curation_cli.summary import _mixtures

    store = make_store(tmp_path / "out", 2, limit=120)
    _build(store, MixtureConfig(name="lang", group_by=["language"], weights={"en": 1.0}, total_tokens=3_000))
    path = tmp_path / "lang.yaml"
    path.write_text("name: lang\ngroup_by: [language]\nweights: {en: 1}\n")
    monkeypatch.setattr(settings, "mixture_files", lambda: [str(path)])
    console = Console(record=True, width=300)
    _mixtures(console, store, [SimpleNamespace(status="done", item=SimpleNamespace(assets=["mixtures/lang"]))])
    text = " ".join(console.export_text().split())
    assert "warning: mixture lang: 1 candidate group(s) have no weight and are left out: de (" in text, text
