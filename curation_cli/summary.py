"""What a run produced, read back from the tables' footers: counts, drops, notes, languages, quality pass rates,
dedup, rewrites and the mixtures. Failures last, one line each."""

import json
from collections import Counter

from rich.table import Table

from curation.core.keep import MIN_LANGUAGE_SCORE

COUNTS = {"records_in", "files"}  # stored among the notes, but counts rather than caveats


def _infos(store, asset, snapshots, shards):
    for s in snapshots:
        for sh in shards:
            info = store.info(asset, s, sh)
            if info:
                yield s, sh, info


def print_summary(console, store, snapshots, shards, seconds, counts: Counter, outcomes) -> None:
    docs_in = docs_out = above = 0
    dropped, notes, langs = Counter(), Counter(), Counter()
    for _, _, d in _infos(store, "documents", snapshots, shards):
        docs_in += d.get("records_in", 0)
        docs_out += d.get("rows", 0)
        dropped.update(d.get("dropped", {}))
        notes.update({k: v for k, v in d.get("notes", {}).items() if k not in COUNTS})
    for _, _, li in _infos(store, "language", snapshots, shards):
        langs.update(li.get("languages", {}))
        above += li.get("above_fineweb_threshold", 0)
    console.print(f"\n[bold]done in {seconds:.1f}s[/bold]  shards recomputed: {counts['recomputed']}, "
                  f"up to date: {counts['up to date']}; dedup labels rewritten: {counts['labels rewritten']}, "
                  f"unchanged: {counts['labels unchanged']}")
    console.print(f"outputs     {store.base}/  (one folder per asset: documents, language, tokens, dedup, quality, "
                  "rewrites, mixtures, ...)")
    console.print(f"records in  {docs_in:,}   documents out {docs_out:,}   dropped {sum(dropped.values()):,}   "
                  f"language score >= {MIN_LANGUAGE_SCORE}: {above:,}")
    if notes:  # kept documents with a caveat (truncated file, charset fallback), and unreadable input files
        console.print("notes       " + ", ".join(f"{k} {v:,}" for k, v in notes.most_common()), soft_wrap=True)
    t = Table("language", "documents", title="documents per language (labels; no language is dropped here)")
    for lang, n in langs.most_common(15):
        t.add_row(lang, f"{n:,}")
    if len(langs) > 15:
        t.add_row(f"{len(langs) - 15} others", f"{sum(n for _, n in langs.most_common()[15:]):,}")
    console.print(t)
    t = Table("reason", "records", title="dropped per reason")
    for reason, n in dropped.most_common():
        t.add_row(reason, f"{n:,}")
    console.print(t)
    q, qn = Counter(), 0
    for _, _, qi in _infos(store, "quality", snapshots, shards):
        qn += qi["rows"]
        q.update({k: v * qi["rows"] for k, v in qi["pass_rate"].items()})
    if qn:
        console.print("quality     pass rate " + ", ".join(f"{k} {v / qn:.2f}" for k, v in q.items())
                      + f"  (labels over {qn:,} documents; thresholds applied when the mixture is built)")
    t = Table("snapshot", "documents", "kept", "exact dup", "URL dup", "near dup", "clusters",
              title="deduplication (labels; applied when the mixture is built)")
    for s, _, c in _infos(store, "dedup_clusters", snapshots, ["members"]):
        r = c["removed"]
        t.add_row(s, f"{c['documents']:,}", f"{c['kept']:,}", f"{r.get('exact_duplicate', 0):,}",
                  f"{r.get('url_duplicate', 0):,}", f"{r.get('minhash_duplicate', 0):,}", f"{c['clusters']:,}")
    console.print(t)
    _labels(console, store, snapshots, shards)
    _rewrites(console, store, snapshots, shards, counts["chunks generated"])
    _mixtures(console, store, outcomes)
    failed = [o for o in outcomes if o.status == "failed"]
    blocked = [o for o in outcomes if o.status == "blocked"]
    for o in failed:
        console.print(f"[red]FAILED {o.item.label}: {o.error}", soft_wrap=True)
    if blocked:
        console.print(f"[yellow]not run, downstream of a failure: {len(blocked)} partitions "
                      f"({', '.join(o.item.label for o in blocked[:4])}{', ...' if len(blocked) > 4 else ''})",
                      soft_wrap=True)


def _labels(console, store, snapshots, shards) -> None:
    """One line per shippable-data label (issue 23): what it found; the mixture acts on it."""
    found = {"contamination": Counter(), "pii": Counter(), "blocklist": Counter()}
    docs = Counter()
    for asset, key, total in (("contamination", "documents_per_benchmark", "contaminated"),
                              ("pii", "documents_per_type", "documents_with_pii"),
                              ("blocklist", "per_list", "blocklisted")):
        for _, _, info in _infos(store, asset, snapshots, shards):
            found[asset].update(info.get(key, {}))
            docs[asset] += info.get(total, 0)
            docs[f"{asset}:rows"] += info.get("rows", 0)
    lines = (("contamination", "documents with benchmark text", "cut or dropped when the mixture is built"),
             ("pii", "documents with personal data", "redacted with placeholders when the mixture is written"),
             ("blocklist", "documents on a URL blocklist", "dropped when the mixture is built"))
    for asset, what, action in lines:
        if docs[f"{asset}:rows"]:
            per = ", ".join(f"{k} {v:,}" for k, v in found[asset].most_common(6)) or "none"
            console.print(f"{asset:<11} {docs[asset]:,} of {docs[f'{asset}:rows']:,} {what} ({per}); {action}",
                          soft_wrap=True)


def _rewrites(console, store, snapshots, shards, generated_now: int) -> None:
    sel = acc = tok = 0
    secs, rejected, model, prompt = 0.0, Counter(), None, None
    for _, _, ri in _infos(store, "rewrites", snapshots, shards):
        sel += ri["selected"]
        acc += ri["accepted"]
        tok += ri["generated_tokens"]
        secs += ri["generation_seconds"]
        rejected.update(ri["rejected"])
        model, prompt = ri["model"], ri["prompt"]
    if not sel:
        return
    speed = f"{tok / secs:.1f} tokens/s when generated" if secs else "from cache"
    console.print(f"rewrites    {sel} selected, {acc} accepted; prompt {prompt}, model {model}; "
                  f"chunks generated this run: {generated_now} ({speed}); {store.asset_url('rewrites')}",
                  soft_wrap=True)
    t = Table("verdict", "rewrites", title="LLM rewrites (accepted ones join the mixture as source `rewrite`)")
    t.add_row("accepted", f"{acc:,}")
    for reason, n in rejected.most_common():
        t.add_row(reason, f"{n:,}")
    console.print(t)


def _mixtures(console, store, outcomes) -> None:
    """The mixtures this command built (or found up to date), never a previous build's table after a failure."""
    import os

    from curation.mixing.loading import read_mixture
    from curation.mixing.publish import unchanged_note
    from curation_assets.settings import mixture_files

    built = {a for o in outcomes if o.status == "done" for a in o.item.assets if a.startswith("mixtures/")}
    for path in mixture_files():
        if f"mixtures/{os.path.splitext(os.path.basename(path))[0]}" not in built:
            continue
        raw = read_mixture(path)[0]  # parsed once per process (aliases refused)
        name = (raw if isinstance(raw, dict) else {}).get("name") or os.path.splitext(os.path.basename(path))[0]
        if not store.side_exists("mixtures", name, "manifest.json"):
            continue
        with store.fs.open(store.side_path("mixtures", name, "manifest.json")) as fh:
            man = json.load(fh)
        card = store.side_url("mixtures", name, f"{man['version']}/DATA_CARD.md") if man.get("version") else \
            store.side_url("mixtures", name, "DATA_CARD.md")
        t = Table("group", "target", "achieved", "tokens", "documents", "repetition", "shortfall",
                  title=f"mixture {name} ({man.get('version', '')}): {man['total_tokens']:,} tokens in "
                        f"{len(man['shards'])} parts (data card: {card})")
        for g in man["groups"]:
            t.add_row(g["group"], f"{g['target_weight']:.3f}", f"{g['achieved_weight']:.3f}", f"{g['tokens']:,}",
                      f"{g['documents']:,}", f"{g['repetition']:.2f}", f"{g['shortfall_tokens']:,}")
        console.print(t)
        note = unchanged_note(store, name)  # inputs changed since, plan did not: their groups are the news
        missing = (note if note.get("version") == man.get("version") else man.get("stats") or {}).get("unweighted") or {}
        if missing:  # candidate groups no weight names or matches: left out of the mixture
            console.print(f"[yellow]warning: mixture {name}: {len(missing)} candidate group(s) have no weight and are "
                          f"left out: " + ", ".join(f"{g} ({v['documents']:,} documents, {v['tokens']:,} tokens)"
                                                    for g, v in list(missing.items())[:5])
                          + (", ..." if len(missing) > 5 else "") + "; name them or a pattern in weights",
                          soft_wrap=True)
