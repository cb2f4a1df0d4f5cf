"""The data card of a mixture: sources, what each keep rule removed, dedup rates, languages, quality buckets and
the achieved mixture, as Markdown (shown in the Dagster UI as the materialisation's metadata) with SVG charts."""

from __future__ import annotations


def _bar_svg(counts: dict, title: str, width: int = 520) -> str:
    """A small horizontal bar chart as inline SVG (no plotting dependency)."""
    items = sorted(counts.items(), key=lambda kv: -kv[1])[:15]
    if not items:
        return ""
    top = max(v for _, v in items) or 1
    h = 22 * len(items) + 30
    rows = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" font-family="sans-serif" '
            f'font-size="12"><text x="4" y="16" font-weight="bold">{title}</text>']
    for i, (k, v) in enumerate(items):
        y = 28 + 22 * i
        w = int((width - 200) * v / top)
        rows.append(f'<text x="4" y="{y + 13}">{str(k)[:22]}</text><rect x="150" y="{y}" width="{w}" height="16" '
                    f'fill="#4c78a8"/><text x="{155 + w}" y="{y + 13}">{v:,}</text>')
    rows.append("</svg>")
    return "".join(rows)


def nowrap(name: str) -> str:
    """A group name as a code span that does not wrap in a table cell: non-breaking hyphens, and word joiners after
    slashes and dots (the name reads the same; copy the plain name from the manifest)."""
    return "`" + str(name).replace("-", "\u2011").replace("/", "/\u2060").replace(".", ".\u2060") + "`"


def _classifier_section(clf: dict | None) -> list[str]:
    """How far the quality score (and so the buckets) agrees with people: held-back human labels, beside document
    length alone and the heuristic verdict."""
    if not clf:
        return []
    out = ["", "## How good is the quality score", "",
           f"Classifier `{clf.get('kind')}` ({(clf.get('report') or {}).get('candidate', 'recipe')}); buckets: "
           f"{clf.get('reference', 'deciles of the crawl sample')}."]
    h = clf.get("human_labels") or {}
    if h:
        length, heur = h.get("length") or {}, h.get("heuristics") or {}
        out += ["", f"Agreement with {h.get('examples', '?')} held-back human quality labels:", "",
                "| scorer | ROC AUC | keep-decision accuracy |", "|---|---:|---:|",
                f"| this classifier | {h.get('roc_auc', float('nan')):.3f} | {h.get('accuracy', float('nan')):.3f} |",
                f"| document length alone | {length.get('roc_auc', float('nan')):.3f} | "
                f"{length.get('accuracy', float('nan')):.3f} |",
                f"| heuristic verdict | | {heur.get('accuracy', float('nan')):.3f} |"]
    else:
        out += ["", "Not measured against human labels (no labelled file was given)."]
    return out


def _shipping_section(ship: dict | None) -> list[str]:
    """Per group: removed for contamination, redacted, blocklisted (issue 23's labels)."""
    if not ship:
        return []
    mode = {"cut": f"contaminated spans cut with {ship['margin']} characters either side, a document matching more "
                   f"than {ship['max_items']} benchmark items removed", "drop": "contaminated documents removed",
            "keep": "contamination not acted on"}[ship["contamination"]]
    ph = ", ".join(f"{t} -> `{p}`" for t, p in ship["placeholders"].items()) or "none (redaction off)"
    out = ["", "## Benchmark contamination, personal data, blocklists", "",
           f"Benchmarks: {mode}. Personal data replaced by placeholders: {ph}. Blocklisted URLs "
           f"{'removed' if ship['blocklist'] else 'kept'}.", "",
           "Removals and contaminated candidates are counted per crawl snapshot (before any other keep rule: a "
           "blocklisted page counts as blocklisted); cuts and redactions per group of the mixture, in the documents "
           "it wrote.", "",
           "| snapshot or group | blocklisted | removed for contamination | contaminated candidates (cut if chosen) "
           "| spans cut (documents) | redacted (documents) | personal-data spans |", "|---|---:|---:|---:|---:|---:|---:|"]
    for g, s in ship["groups"].items():
        out.append(f"| {nowrap(g)} | {s.get('blocklisted', 0):,} | {s.get('removed for contamination', 0):,} | "
                   f"{s.get('contaminated, cut if chosen', 0):,} | {s.get('contamination_cut', 0):,} | "
                   f"{s.get('redacted', 0):,} | {s.get('pii_spans', 0):,} |")
    if not ship["groups"]:
        out.append("| (all) | 0 | 0 | 0 | 0 | 0 | 0 |")
    for table, n in ship.get("unlabelled", {}).items():
        out.append(f"\nNot labelled: {n} shard(s) have no `{table}` table; their documents were kept unchecked.")
    return out


def data_card(man: dict, stats: dict) -> tuple[str, dict[str, str]]:
    """A Markdown data card and its SVG charts: (Markdown, {file name: SVG text}) to publish beside it."""
    charts = {"languages.svg": _bar_svg(stats.get("languages", {}), "documents per language (in the mixture)"),
              "quality.svg": _bar_svg({f"bucket {k}": v for k, v in stats.get("quality_buckets", {}).items()},
                                      "documents per quality bucket"),
              "groups.svg": _bar_svg({g["group"]: g["tokens"] for g in man["groups"]}, "tokens per group")}
    cfg = man["config"]
    lines = [f"# Data card: mixture `{man['mixture']}`", "",
             f"{man['total_tokens']:,} tokens (target {man['target_total_tokens']:,}) in {len(man['shards'])} "
             f"shard(s), {sum(s['documents'] for s in man['shards']):,} documents (repeats included), "
             f"tokenizer: {stats.get('tokenizer')}.", "", "## Sources", ""]
    lines += [f"- {s}: {n:,} candidate documents" for s, n in sorted(stats.get("sources", {}).items())]
    lines += ["", "## Filters applied and what each removed", "",
              f"Keep rules: languages {cfg['languages'] or 'all'}, language score >= {cfg['min_language_score']}, "
              f"dedup {'on' if cfg['dedup'] else 'off'}, heuristic quality pass "
              f"{'required' if cfg['require_quality_pass'] else 'not required'}, quality bucket >= "
              f"{cfg['min_quality_bucket']}.", "", "| rule | documents removed |", "|---|---:|"]
    lines += [f"| {k} | {v:,} |" for k, v in stats.get("removed", {}).items()]
    lines += _shipping_section(stats.get("shipping"))
    lines += _classifier_section(stats.get("classifier"))
    lines += ["", "## Deduplication per snapshot", "", "| snapshot | documents | removed as duplicates | rate |",
              "|---|---:|---:|---:|"]
    for s, d in sorted(stats.get("dedup", {}).items()):
        lines.append(f"| {s} | {d['documents']:,} | {d['removed']:,} | {d['removed'] / max(1, d['documents']):.1%} |")
    lines += ["", "## Languages and quality", "", "![languages](languages.svg)", "", "![quality](quality.svg)", "",
              "## The mixture", "", "![groups](groups.svg)", "",
              "| group | target weight | achieved weight | tokens | documents | repetition | shortfall (tokens) |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for g in man["groups"]:
        lines.append(f"| {nowrap(g['group'])} | {g['target_weight']:.3f} | {g['achieved_weight']:.3f} | {g['tokens']:,} | "
                     f"{g['documents']:,} | {g['repetition']:.2f} | {g['shortfall_tokens']:,} |")
    lines += ["", f"Sampling: seed {cfg['seed']}, at most {cfg['max_repeats']} repetitions, tolerance "
              f"{cfg['tolerance']:.0%}, rehydration {cfg['rehydrate'] or 'off'}.", ""]
    lines += [f"Note: {n}" for n in stats.get("notes", [])]
    lines += _weight_sections(man, stats)
    lines += ["", "## Reading it", "", f"Version `{man.get('version')}`. The manifest lists the part files in a seeded "
              "order; each part is already shuffled (by a seeded hash of id and repeat). Read the parts in the "
              "manifest's order, or interleave a few at a time with a shuffle buffer.", ""]
    md = "\n".join(lines)
    return md, {"DATA_CARD.md": md, **{k: v for k, v in charts.items() if v}}


def _weight_sections(man: dict, stats: dict) -> list[str]:
    """Which groups a pattern weighted (and how its weight was split), and the candidate groups no weight names."""
    out = []
    by_pattern = [g for g in man["groups"] if g.get("weight_from")]
    if by_pattern:
        out += ["", "Groups weighted by a pattern of `weights` (its weight split among the groups it matched):", ""]
        for g in by_pattern:
            spec = (man["config"].get("weights") or {}).get(g["weight_from"])
            split = spec.get("split", "tokens") if isinstance(spec, dict) else "tokens"
            half = f", half-life {spec['half_life']} years" if isinstance(spec, dict) and "half_life" in spec else ""
            out.append(f"- {nowrap(g['group'])}: target weight {g['target_weight']:.3f} from `{g['weight_from']}` "
                       f"(split by {split}{half})")
    missing = stats.get("unweighted") or {}
    out += ["", "## Candidate groups without a weight", ""]
    if not missing:
        return out + ["Every group with candidate documents has a weight."]
    out += [(f"{len(missing)} group(s) had kept documents but no weight in `weights` (no name or pattern matches "
             "them), so none of their documents is in the mixture:"), "", "| group | documents | tokens |",
            "|---|---:|---:|"]
    return out + [f"| {nowrap(g)} | {v['documents']:,} | {v['tokens']:,} |" for g, v in missing.items()]
