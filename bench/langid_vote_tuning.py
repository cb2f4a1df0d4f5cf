"""How the default second opinion's settings were chosen: a grid search on half "a" of the sentence set.

For each text of ``bench/langid_accuracy.py``'s sets (``--per-lang`` texts per language), the three models'
outputs are computed once (fastText's top 20, py3langid's ranking, lingua's low-accuracy values over each
candidate pool the grid can form: exactly what ``LanguageIdentifier`` computes); then every setting of the grid labels the texts
with ``curation.langid.lingua_candidates.vote``. Settings are ranked by accuracy on the sentences' half "a"; half
"b", the word pairs and UDHR are printed beside them and were not used to choose.

    python bench/langid_vote_tuning.py [--per-lang 60] [--top 15] > docs/langid_vote_tuning.txt
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.langid_accuracy import half, load_sets, norm  # noqa: E402

GRID = {"below": (0.8, 0.9, 0.95, 1.01), "candidates": (3, 5), "py3langid_candidates": (1, 2, 3),
        "w_fasttext": (0.0, 0.35, 0.7, 1.0, 1.5), "w_py3langid": (0.0, 1.0, 1.5, 2.0, 3.0), "floor": (0.001, 0.01, 0.03)}


def model_outputs(rows: list[tuple[str, str]]) -> list[dict]:
    from curation.langid.identify import LangIdConfig, LanguageIdentifier, _load_py3langid, _prepare
    from curation.langid.lingua_candidates import FASTTEXT_VOTE_K, candidates, fasttext_label, lingua_opinion, py3langid_label

    c = LangIdConfig()
    ident = LanguageIdentifier(c)
    py3 = _load_py3langid()
    out = []
    for lang, raw in rows:
        text = _prepare(raw, c.max_chars)
        labels, scores = ident.model.predict(text, k=FASTTEXT_VOTE_K)
        ft: dict[str, float] = {}
        for lab, s in zip(labels, scores):
            ft.setdefault(fasttext_label(lab.removeprefix("__label__")), float(min(s, 1.0)))
        p3: dict[str, float] = {}
        for lab, p in py3.rank(text):
            p3[py3langid_label(lab)] = p3.get(py3langid_label(lab), 0.0) + p
        lingua = {}  # lingua's values over each candidate pool a grid setting can form
        for k in GRID["candidates"]:
            for m in GRID["py3langid_candidates"]:
                pool = candidates(list(ft)[:k] + list(p3)[:m])
                if pool and pool not in lingua:
                    lingua[pool] = lingua_opinion(text[:c.lingua_max_chars], pool)
        out.append({"lang": lang, "half": half(raw), "ft": ft, "py3": p3, "lingua": lingua})
    return out


def label(r: dict, s: dict, ft_langs: frozenset, py3_langs: frozenset) -> str:
    from curation.langid.lingua_candidates import candidates, vote

    top, score = next(iter(r["ft"].items()))
    if score >= s["below"]:
        return top
    pool = candidates(list(r["ft"])[:s["candidates"]] + list(r["py3"])[:s["py3langid_candidates"]])
    lingua, proposal = r["lingua"].get(pool, ({}, ()))
    codes = pool | frozenset(proposal)
    best = vote(codes, [(1.0, lingua, codes), (s["w_fasttext"], r["ft"], ft_langs),
                        (s["w_py3langid"], r["py3"], py3_langs)], s["floor"])
    return best[0] if best else top


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(next((p for p in (ROOT.parent / "shared/data/langid", ROOT.parents[1] / "shared/data/langid")
                                                if p.exists()), ROOT.parent / "shared/data/langid")))
    ap.add_argument("--per-lang", type=int, default=60)
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    from curation.langid.identify import LangIdConfig, LanguageIdentifier, _py3langid_languages

    ft_langs, py3_langs = LanguageIdentifier().fasttext_languages, _py3langid_languages()
    outputs = {name: model_outputs(rows) for name, rows in load_sets(Path(args.data), args.per_lang).items()}

    def acc(name: str, part: str, s: dict) -> float:
        rs = [r for r in outputs[name] if r["half"] == part]
        return sum(norm(label(r, s, ft_langs, py3_langs)) == r["lang"] for r in rs) / len(rs)

    settings = [dict(zip(GRID, v)) for v in itertools.product(*GRID.values())]
    ranked = sorted(settings, key=lambda s: -acc("sentences", "a", s))
    def show(title: str, s: dict) -> None:
        print(f"{title:24s} sentences a={acc('sentences', 'a', s):.4f} b={acc('sentences', 'b', s):.4f} | word pairs "
              f"a={acc('word-pairs', 'a', s):.4f} | UDHR a={acc('udhr-common', 'a', s):.4f} | {s}", flush=True)

    for i, s in enumerate(ranked[:args.top]):
        show(f"#{i + 1}", s)
    for below in GRID["below"]:
        show(f"best below {below}", next(s for s in ranked if s["below"] == below))
    c = LangIdConfig()
    default = {"below": c.second_opinion_below, "candidates": c.candidates, "py3langid_candidates": c.py3langid_candidates,
               "w_fasttext": c.vote_weights[1], "w_py3langid": c.vote_weights[2], "floor": c.vote_floor}
    show(f"default (#{ranked.index(default) + 1} of {len(ranked)})", default)


if __name__ == "__main__":
    main()
