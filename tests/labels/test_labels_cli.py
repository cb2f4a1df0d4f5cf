"""`curation decontaminate` and `curation pii` on real text: output format, input order, one-line errors."""

import gzip
import json
from pathlib import Path

from curation_cli.main import main

DATA = Path(__file__).resolve().parents[1] / "data"
ITEMS = DATA / "labels" / "benchmark-items.jsonl"


def _input(tmp_path):
    with gzip.open(DATA / "cc-main-2019-30-docs.jsonl.gz", "rt") as f:
        rows = [{"id": r["id"], "text": r["text"]} for r in map(json.loads, list(f)[:4])]
    item = json.loads(ITEMS.read_text().splitlines()[-1])["text"]
    planted = "Write to jane.doe@example.org or call +44 20 7946 0958.\n" + item.upper()
    rows.insert(2, {"id": "planted", "text": planted})
    rows.append({"text": "no id here, nothing to find"})
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    return path, rows, planted, item


def test_decontaminate_command(tmp_path, capsys):
    inp, rows, planted, item = _input(tmp_path)
    out = tmp_path / "out.jsonl"
    assert main(["decontaminate", "--benchmarks", str(ITEMS), "--input", str(inp), "--out", str(out)]) == 0
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["id"] for g in got] == [r["id"] for r in rows[:-1]] + [6]
    assert [g["contaminated"] for g in got] == [False, False, True, False, False, False]
    assert got[2]["benchmarks"] == ["wikipedia"]
    (s, e), = got[2]["spans"]
    assert planted[s:e] == item.upper().rstrip(".")  # spans run from the first word to the last
    assert set(got[0]) == {"id", "contaminated", "benchmarks", "spans"}
    assert "1 contaminated" in capsys.readouterr().out


def test_pii_command(tmp_path):
    inp, rows, planted, _ = _input(tmp_path)
    out = tmp_path / "out.jsonl"
    assert main(["pii", "--input", str(inp), "--out", str(out)]) == 0
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(got) == len(rows) and got[2]["id"] == "planted"
    assert [p["type"] for p in got[2]["pii"]] == ["email", "phone"]
    assert got[2]["text"].startswith("Write to <EMAIL> or call <PHONE>.")
    p = got[2]["pii"][0]
    assert planted[p["start"]:p["end"]] == "jane.doe@example.org"
    assert main(["pii", "--types", "email", "--input", str(inp), "--out", str(out)]) == 0
    assert [p["type"] for p in json.loads(out.read_text().splitlines()[2])["pii"]] == ["email"]


def test_errors_name_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "text": "fine"}\n{"id": 2, "text": \n')
    out = tmp_path / "o.jsonl"
    assert main(["pii", "--input", str(bad), "--out", str(out)]) == 2
    assert f"{bad}:2: not JSON" in capsys.readouterr().err
    assert not out.exists()
    assert main(["decontaminate", "--benchmarks", str(tmp_path / "none.jsonl"), "--input", str(bad),
                 "--out", str(out)]) == 2
    assert "none.jsonl: no such file" in capsys.readouterr().err
    bench = tmp_path / "b.jsonl"
    bench.write_text('{"text": "an item with enough words to index it"}\n[1, 2]\n')
    assert main(["decontaminate", "--benchmarks", str(bench), "--input", str(bad), "--out", str(out)]) == 2
    assert f"{bench}:2: not a JSON object" in capsys.readouterr().err
    assert main(["pii", "--types", "email,ssn", "--input", str(bad), "--out", str(out)]) == 2
    assert "unknown ssn" in capsys.readouterr().err
