"""Hostile mixture files (issue 25, cases 11-13 and the minor items) and the checks a build passes before it is
published: every problem is one line naming the file and the key, a YAML anchor bomb costs no memory, NaN and
infinity are refused everywhere, a bad build never replaces the published mixture, and a file is parsed once per
process. The files are small YAML written by each test."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from curation.mixing import loading
from curation.mixing.check import MixtureError, load_mixture, validate_mixture_file
from curation.mixing.config import MixtureConfig
from tests.conftest import ROOT

SNAPS = ["CC-MAIN-2024-22", "CC-MAIN-2020-34"]
GOOD = ("name: x\nrewrites: false\ngroup_by: [source, snapshot]\n"
        "weights:\n  crawl/CC-MAIN-2024-22: 0.6\n  crawl/CC-MAIN-2020-34: 0.4\n")
NON_FINITE = {  # the change to the good file -> the key the one-line error must name
    "one NaN weight": (("0.6\n", ".nan\n"), "weights.crawl/CC-MAIN-2024-22: must be a finite number, got nan"),
    "every weight NaN": (("0.6\n  crawl/CC-MAIN-2020-34: 0.4", ".nan\n  crawl/CC-MAIN-2020-34: .NaN"),
                         "weights.crawl/CC-MAIN-2020-34: must be a finite number, got nan"),
    "infinite weight": (("0.4\n", ".inf\n"), "weights.crawl/CC-MAIN-2020-34: must be a finite number, got inf"),
    "tolerance NaN": (("rewrites: false", "rewrites: false\ntolerance: .nan"), "tolerance: must be a finite number"),
    "max_repeats infinite": (("rewrites: false", "rewrites: false\nmax_repeats: .inf"),
                             "max_repeats: must be a finite number, got inf"),
    "min_language_score NaN": (("rewrites: false", "rewrites: false\nmin_language_score: .nan"),
                               "min_language_score: must be a finite number, got nan"),
    "rehydrate copies -inf": (("rewrites: false", "rewrites: false\nrehydrate: {1: 1, 5: -.inf}"),
                              "rehydrate.5: must be a finite number, got -inf"),
    "rehydrate key NaN": (("rewrites: false", "rewrites: false\nrehydrate: {.nan: 2}"),
                          "rehydrate.nan: a key must be a finite number, got nan"),
    "pattern weight NaN": (("  crawl/CC-MAIN-2020-34: 0.4", "  'crawl/*': {weight: .nan}"),
                           "weights.crawl/*.weight: must be a finite number, got nan"),
    "half-life infinite": (("  crawl/CC-MAIN-2020-34: 0.4", "  'crawl/*': {weight: 1, split: recency, half_life: .inf}"),
                           "weights.crawl/*.half_life: must be a finite number, got inf"),
}


def _write(tmp_path, text: str, name: str = "m.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("case", sorted(NON_FINITE))
def test_nan_and_infinity_are_refused_anywhere_naming_the_key(tmp_path, case):
    assert validate_mixture_file(_write(tmp_path, GOOD, "good.yaml"), SNAPS) == []
    (old, new), expected = NON_FINITE[case]
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new))
    errors = validate_mixture_file(path, SNAPS)
    assert errors and all("\n" not in e and e.startswith(f"{path}: ") for e in errors), errors
    assert any(expected in e for e in errors), errors
    with pytest.raises(MixtureError, match="must be a finite number"):
        load_mixture(path, SNAPS)


def test_a_programmatic_config_with_a_non_finite_number_is_refused():
    with pytest.raises(ValueError, match="finite"):
        MixtureConfig(weights={"a": float("nan")}).validate()
    with pytest.raises(ValueError, match="finite"):
        MixtureConfig(weights={"a": 1.0}, tolerance=float("inf")).validate()


BOMB_CHILD = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))  # a regression fails here, not on the machine
    from curation.mixing.check import validate_mixture_file
    from curation_assets.mixing import automation_condition, mixture_asset, _lenient
    errors = validate_mixture_file(sys.argv[1], ["CC-MAIN-2024-22"])
    asset = mixture_asset(sys.argv[1])  # what loading the definitions does with the file
    assert automation_condition(_lenient(sys.argv[1])) is not None  # the bomb is not even parsed: {}
    print(repr(errors))
    # VmHWM, not ru_maxrss: the latter keeps the forking parent's peak (pytest's) across exec
    print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) // 1024)
""")


def _bomb(key: str, levels: int = 9) -> str:
    """About 1 KB that stands for 9^10 strings: each item of ``key`` a list of nine aliases of the one before."""
    items = ["&l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    items += [f"&l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "name: x\ngroup_by: [source, snapshot]\nweights: {crawl/CC-MAIN-2024-22: 1}\n" + f"{key}:\n" + \
        "".join(f"  - {item}\n" for item in items)


@pytest.mark.parametrize("key", ["snapshots", "automation"])
def test_an_anchor_bomb_is_refused_in_one_line_and_small_memory(tmp_path, key):
    path = _write(tmp_path, _bomb(key))
    assert os.path.getsize(path) < 1100
    out = subprocess.run([sys.executable, "-c", BOMB_CHILD, path], capture_output=True, text=True, timeout=300, check=False,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    errors_line, rss_line = out.stdout.strip().splitlines()[-2:]
    errors = eval(errors_line)  # our own child's repr of a list of str
    assert len(errors) == 1 and "YAML aliases are not allowed" in errors[0] and errors[0].startswith(path), errors
    assert int(rss_line) < 400, f"peak RSS {rss_line} MB"  # Python + Dagster import; the bomb took 12 GB


def test_a_bad_value_is_quoted_in_at_most_about_200_characters(tmp_path):
    huge = "n" * 100_000
    path = _write(tmp_path, GOOD.replace("name: x", f"name: {huge}").replace("rewrites: false",
                                                                          f"rewrites: false\nformat: {huge}\n"
                                                                          f"languages: {list(range(50_000))}"))
    errors = validate_mixture_file(path, SNAPS)
    assert {e.split(": ")[1] for e in errors} >= {"name", "format", "languages"}, errors
    assert all(len(e) < len(path) + 300 for e in errors), [len(e) for e in errors]
    big_int = _write(tmp_path, GOOD + f"total_tokens: {'9' * 5000}\n", "int.yaml")
    (error,) = validate_mixture_file(big_int)
    assert error.startswith(big_int) and len(error) < len(big_int) + 300
    deep = _write(tmp_path, GOOD + "languages: " + "[" * 100_000 + "]" * 100_000 + "\n", "deep.yaml")
    (error,) = validate_mixture_file(deep)
    assert "nest" in error  # libyaml's own depth limit or ours (MAX_DEPTH), whichever comes first


def test_a_mixture_file_is_parsed_once_per_process_and_again_when_it_changes(tmp_path):
    from curation_assets.mixing import _lenient

    path = _write(tmp_path, GOOD)
    for _ in range(5):  # the CLI check, the definitions load, plan, every write op and publish ask again
        assert validate_mixture_file(path, SNAPS) == []
        load_mixture(path, SNAPS)
        _lenient(path)
    assert loading.parses[path] == 1
    cfg = load_mixture(path, SNAPS)
    cfg.weights["crawl/CC-MAIN-2024-22"] = 5  # a caller's change never reaches the cached document
    assert load_mixture(path, SNAPS).weights["crawl/CC-MAIN-2024-22"] == 0.6
    _write(tmp_path, GOOD.replace("0.6", "0.7"))  # same size, same second: the content decides
    assert load_mixture(path, SNAPS).weights["crawl/CC-MAIN-2024-22"] == 0.7 and loading.parses[path] == 2


PATTERN_BAD = {
    "unknown split": ("{weight: 1, split: newest}", "split must be one of tokens, equal, recency"),
    "recency without half-life": ("{weight: 1, split: recency}", "split recency needs half_life"),
    "half-life without recency": ("{weight: 1, half_life: 2}", "half_life is for split recency only"),
    "no weight": ("{split: equal}", "a pattern's mapping needs a weight"),
    "unknown key": ("{weight: 1, splt: equal}", "unknown key 'splt'"),
    "negative": ("-1", "weights.crawl/*: must be >= 0"),
}


@pytest.mark.parametrize("case", sorted(PATTERN_BAD))
def test_a_bad_pattern_is_one_line_naming_it(tmp_path, case):
    value, expected = PATTERN_BAD[case]
    path = _write(tmp_path, GOOD + f"  'crawl/*': {value}\n")
    errors = validate_mixture_file(path, SNAPS)
    assert any(expected in e and e.startswith(f"{path}: weights.crawl/*") for e in errors), errors


def test_patterns_are_checked_against_sources_and_group_by(tmp_path):
    text = GOOD + "  'books/*': 0.2\n  'crawl/CC-MAIN-2025-*': 0.1\n  '*': 0.1\n"
    errors = validate_mixture_file(_write(tmp_path, text), SNAPS)
    assert len(errors) == 1 and "weights.books/*: no configured source is named 'books'" in errors[0], errors
    by_lang = _write(tmp_path, GOOD.replace("[source, snapshot]", "[language]").split("weights:")[0]
                     + "weights:\n  en: 1\n  '*': {weight: 1, split: recency, half_life: 1}\n", "lang.yaml")
    errors = validate_mixture_file(by_lang)
    assert any("split recency needs snapshot in group_by" in e for e in errors), errors
    explicit = _write(tmp_path, GOOD + "  crawl/CC-MAIN-2019-30: {weight: 1}\n", "explicit.yaml")
    assert any("for patterns only" in e for e in validate_mixture_file(explicit)), validate_mixture_file(explicit)
    assert json.dumps(load_mixture(_write(tmp_path, text.replace("  'books/*': 0.2\n", ""), "ok.yaml"),
                                   SNAPS).as_dict())  # patterns live in the plain configuration


def test_curation_run_refuses_bad_numbers_and_a_bomb_before_any_stage(tmp_path):
    """The minor item: NaN or infinity in tolerance, max_repeats or min_language_score failed only after every
    stage had run. Now `curation run` names each key and runs nothing (no table is written)."""
    from tests.conftest import sample_file, write_crawl

    crawl = tmp_path / "crawl"
    write_crawl(crawl, "CC-MAIN-2024-22", {"j.warc.gz": sample_file("CC-MAIN-2024-22",
                                                                    "jwarc-commoncrawl.org.warc.gz").read_bytes()})
    mixtures = tmp_path / "mixtures"
    mixtures.mkdir()
    (mixtures / "numbers.yaml").write_text(GOOD.replace("rewrites: false", "rewrites: false\ntolerance: .nan\n"
                                                        "max_repeats: .inf\nmin_language_score: .nan"))
    (mixtures / "bomb.yaml").write_text(_bomb("snapshots"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CURATION_", "DAGSTER_HOME"))}
    env.update(PYTHONPATH=str(ROOT), CURATION_MIXTURES=str(mixtures))
    out = subprocess.run([sys.executable, "-m", "curation_cli", "run", "--crawl-root", str(crawl), "--output",
                          str(tmp_path / "out"), "--dagster-home", str(tmp_path / "home"), "--shards", "1",
                          "--no-rewrite", "--workers", "1"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=600, check=False)
    err = " ".join(out.stderr.split())  # rich may wrap a long line
    assert out.returncode != 0, out.stdout[-2000:]
    for key in ("tolerance: must be a finite number, got nan", "max_repeats: must be a finite number, got inf",
                "min_language_score: must be a finite number, got nan", "YAML aliases are not allowed"):
        assert key in err, err[-3000:]
    assert "nothing was run" in err and not (tmp_path / "out" / "documents").exists()


def test_the_pattern_example_is_valid_and_the_demo_is_unchanged():
    cfg = load_mixture(str(ROOT / "mixtures/examples/recent.yaml"), SNAPS)
    assert cfg.weights["crawl/*"] == {"weight": 0.6, "split": "recency", "half_life": 2}
    demo = load_mixture(str(ROOT / "mixtures/demo.yaml"), SNAPS)
    assert all(isinstance(w, float) for w in demo.weights.values())  # names only: the plain path
