"""The mixture applies the three labels: blocklisted documents dropped, contaminated spans cut with a margin (or the
documents dropped), personal data replaced by placeholders, all counted per group in the data card."""

import pyarrow as pa

from curation.core.keep import PII_PLACEHOLDERS, edit_text
from curation.labels.blocklist import blocklist_table, load_blocklist
from curation.labels.decontaminate import contamination_table
from curation.labels.index import build_index
from curation.labels.pii import PLACEHOLDERS, pii_table
from tests.mixing.test_mixing_build import SNAP, _build, _config, _read, make_store

CONTACT = "Write to jane.doe@example.org or call +44 20 7946 0958 for details."


def _label(store, tmp_path, n_shards):
    """Contact details added to every 5th page; the benchmark: 40-word runs of six real pages; a blocklist naming
    one of the sites; then the three label tables, computed by the label code itself."""
    shards = [f"{k:04d}" for k in range(n_shards)]
    docs = {k: store.read("documents", SNAP, k) for k in shards}
    items = []
    for k, t in docs.items():
        rows = t.to_pylist()
        for r in rows:
            if int(r["id"].split("-")[1]) % 5 == 0:
                r["text"] = r["text"] + "\n" + CONTACT
        for r in rows[:12]:
            words = r["text"].split()
            if len(words) > 120 and len(items) < 6:
                items.append(("probe", r["id"], " ".join(words[60:100])))
        docs[k] = pa.Table.from_pylist(rows, schema=t.schema)
        store.write("documents", SNAP, k, docs[k], {"fingerprint": f"documents{k}x"})
    index = build_index(items)
    (tmp_path / "bl.txt").write_text("site3.example\n")
    bl = load_blocklist([str(tmp_path / "bl.txt")])
    for k, t in docs.items():
        c, _ = contamination_table(index, t.column("id"), t.column("text"))
        store.write("contamination", SNAP, k, c, {"fingerprint": f"c{k}"})
        store.write("pii", SNAP, k, pii_table(t.column("id").to_pylist(), t.column("text").to_pylist()),
                    {"fingerprint": f"p{k}"})
        b, _ = blocklist_table(bl, t.column("id"), t.column("url"))
        store.write("blocklist", SNAP, k, b, {"fingerprint": f"b{k}"})
    return items


def test_mixture_cuts_redacts_and_drops(tmp_path):
    store = make_store(tmp_path / "out", 2)
    items = _label(store, tmp_path, 2)
    assert len(items) >= 3
    cfg = _config(total_tokens=300_000, max_repeats=1, rehydrate=None, weights={"en": 0.5, "de": 0.5})
    man = _build(store, cfg, 2)
    rows = _read(store, man)
    assert not rows["url"].str.contains("site3.example").any()
    text = "\n".join(rows["text"].to_list())
    assert "jane.doe@example.org" not in text and "+44 20 7946 0958" not in text
    assert "Write to <EMAIL> or call <PHONE> for details." in text
    kept_probes = [i for _, i, _ in items if i in set(rows["id"])]
    assert kept_probes and all(t not in text for _, i, t in items if i in kept_probes)
    ship = man["stats"]["shipping"]
    total = lambda what: sum(g.get(what, 0) for g in ship["groups"].values())
    assert total("blocklisted") > 0 and total("redacted") > 0 and total("contamination_cut") >= len(kept_probes)
    card = store.fs.cat(store.side_path("mixtures", "m", f"{man['version']}/DATA_CARD.md")).decode()
    assert "removed for contamination" in card and "`<EMAIL>`" in card and "blocklisted" in card

    drop = _build(store, _config(name="d", contamination="drop", redact_pii=[], total_tokens=300_000,
                                 max_repeats=1, rehydrate=None, weights={"en": 0.5, "de": 0.5}), 2)
    ids = set(_read(store, drop)["id"])
    assert not ids & {i for _, i, _ in items}
    assert "jane.doe@example.org" in "\n".join(_read(store, drop)["text"].to_list())
    assert sum(g.get("removed for contamination", 0) for g in drop["stats"]["shipping"]["groups"].values()) > 0


def test_edit_text_margin_and_placeholders():
    assert PLACEHOLDERS is PII_PLACEHOLDERS  # one definition, in curation.core.keep
    t = "Intro line. " + "BENCHMARK ITEM TEXT " * 3 + "and then " + CONTACT
    s = t.index("BENCHMARK")
    e = t.index("and then") - 1
    out, cut, red = edit_text(t, [[s, e]], 5, [{"type": "email", "start": t.index("jane"),
                                                  "end": t.index("jane") + 20}], PII_PLACEHOLDERS)
    assert "BENCHMARK" not in out and out.startswith("Intro l\n") and "<EMAIL>" in out
    assert cut == e - s + 10 and red == 1
    inside, _, red = edit_text(t, [[0, len(t)]], 0, [{"type": "email", "start": t.index("jane"),
                                                       "end": t.index("jane") + 20}], PII_PLACEHOLDERS)
    assert inside == "\n" and red == 0
    same, cut, red = edit_text(t, None, 200, [{"type": "phone", "start": 0, "end": 5}], {"email": "<EMAIL>"})
    assert same == t and (cut, red) == (0, 0)
