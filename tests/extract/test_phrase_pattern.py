"""The phrase rule's pattern, grouped by first letter for speed, matches exactly where the plain alternation does."""

import json
import re
from pathlib import Path

from curation.extract import boilerplate_phrases as bp

DATA = Path(__file__).parents[1] / "data"


def test_alternatives_split_at_top_level_only():
    assert bp._alternatives(r"a(?:b|c)|[|]d|e\|f") == ["a(?:b|c)", "[|]d", r"e\|f"]
    assert "|".join(bp._alternatives(bp._WORD_PHRASES)) == bp._WORD_PHRASES


def test_grouped_pattern_matches_as_the_plain_one_on_real_text():
    plain = re.compile(r"\b(?:" + bp._WORD_PHRASES + ")")
    truth = json.loads((DATA / "article-extraction-benchmark-ground-truth.json").read_text())
    lines = [ln.strip().lower() for v in truth.values() for ln in v["articleBody"].split("\n") if ln.strip()]
    # plus every phrase family's wording, inside a word and at word boundaries
    lines += [p + w + s for w in ("read more", "sign-in", "3 comments", "related:", "werbung", "síguenos", "écouter l'article")
              for p in ("", "x", "a ") for s in ("", "x", ".")]
    hits = [bool(plain.search(t)) for t in lines]
    assert [bool(bp._WORDS.search(t)) for t in lines] == hits
    assert 20 < sum(hits) < len(lines)  # the sample holds both notices and text
