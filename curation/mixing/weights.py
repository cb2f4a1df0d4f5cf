"""Mixture weights that name groups one by one or by glob patterns, and how a pattern's weight is split.

A key of ``weights`` is a group (``crawl/CC-MAIN-2024-22``) or a pattern over groups in ``fnmatch`` syntax
(``crawl/*``, ``crawl/CC-MAIN-2025-*``, ``*/en``). A pattern's value is its weight, or a mapping
``{weight: 0.6, split: tokens | equal | recency, half_life: 2}``; its weight is divided among the candidate
groups it matches:

- ``tokens`` (the default): in proportion to each group's tokens, as if the matched groups were one group;
- ``equal``: the same share each;
- ``recency``: each group's share halves for every ``half_life`` years its snapshot (``CC-MAIN-YYYY-WW``, read
  as ISO year and week) is older than the newest snapshot the pattern matches (group_by must hold ``snapshot``).

Explicit names beat patterns: a group named in ``weights`` takes its own weight (0 included: a deliberate
exclusion) and is left out of every pattern's split. A group several patterns match belongs to the most specific
one (the most characters that are not wildcards; a tie goes to the one written first). A pattern that matches no
candidate group keeps its weight as a group of its own with nothing available, so its shortfall is reported,
like an explicit group without documents. Candidate groups that no key claims get no weight; the plan lists
them with their documents and tokens.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from dataclasses import dataclass

SPLITS = ("tokens", "equal", "recency")
SPEC_KEYS = {"weight", "split", "half_life"}
SNAPSHOT = re.compile(r"^CC-MAIN-(\d{4})-(\d{2})$")


def is_pattern(key: str) -> bool:
    return any(c in str(key) for c in "*?[")


def weight_of(value) -> float | None:
    """The weight a ``weights`` value gives (a number, or a pattern's mapping); None when it is neither."""
    if isinstance(value, dict):
        value = value.get("weight")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def snapshot_date(name: str) -> dt.date | None:
    """The Monday of a ``CC-MAIN-YYYY-WW`` snapshot's ISO week (None for any other name)."""
    m = SNAPSHOT.match(name or "")
    if not m:
        return None
    year, week = int(m.group(1)), int(m.group(2))
    try:
        return dt.date.fromisocalendar(year, week, 1)
    except ValueError:
        return None


@dataclass(frozen=True)
class Pattern:
    key: str
    weight: float
    split: str = "tokens"
    half_life: float | None = None  # years (split: recency)
    order: int = 0

    @property
    def specificity(self) -> int:
        return sum(1 for c in re.sub(r"\[[^]]*]", "?", self.key) if c not in "*?")


class Weights:
    """The ``weights`` of a mixture: which group a key claims, and each group's weight once the groups are known."""

    def __init__(self, weights: dict, group_by: list[str] | None = None):
        self.group_by = list(group_by or [])
        self.explicit = {str(k): weight_of(v) or 0.0 for k, v in weights.items() if not is_pattern(k)}
        pats = [Pattern(str(k), weight_of(v) or 0.0, *(_spec(v)), order=i)
                for i, (k, v) in enumerate(weights.items()) if is_pattern(k)]
        self.patterns = sorted(pats, key=lambda p: (-p.specificity, p.order))
        self.total = sum(self.explicit.values()) + sum(p.weight for p in self.patterns)
        self.plain = not self.patterns  # names only: the weights as written, whatever the candidates
        self._claims: dict[str, str | None] = {}

    def key_of(self, group: str) -> str | None:
        """The key that claims ``group``: its own name, else the most specific matching pattern, else None."""
        if group in self.explicit:
            return group
        if group not in self._claims:
            self._claims[group] = next((p.key for p in self.patterns if fnmatch.fnmatchcase(group, p.key)), None)
        return self._claims[group]

    def weighted(self, group: str) -> bool:
        """Whether ``group``'s documents are candidates of the plan (claimed by a key of positive weight)."""
        key = self.key_of(group)
        if key is None:
            return False
        return (self.explicit[key] if key in self.explicit else self._pattern(key).weight) > 0

    def _pattern(self, key: str) -> Pattern:
        return next(p for p in self.patterns if p.key == key)

    def resolve(self, tokens: dict[str, int]) -> dict[str, tuple[float, str]]:
        """group -> (weight, the key it comes from), from the candidate groups' tokens. Explicit groups with a
        positive weight are kept whether or not they have candidates (as the plain weights always were)."""
        out = {g: (w, g) for g, w in self.explicit.items() if w > 0}
        claimed: dict[str, list[str]] = {}
        for g in sorted(tokens):
            key = self.key_of(g)
            if key is not None and key not in self.explicit:
                claimed.setdefault(key, []).append(g)
        for p in self.patterns:
            if p.weight <= 0:
                continue
            groups = claimed.get(p.key, [])
            if not groups:
                out[p.key] = (p.weight, p.key)
                continue
            for g, share in zip(groups, self._shares(p, groups, tokens)):
                out[g] = (p.weight * share, p.key)
        return out

    def _shares(self, p: Pattern, groups: list[str], tokens: dict) -> list[float]:
        if p.split == "tokens" and sum(tokens[g] for g in groups) > 0:
            raw = [float(tokens[g]) for g in groups]
        elif p.split == "recency":
            at = self.group_by.index("snapshot") if "snapshot" in self.group_by else None
            dates = []
            for g in groups:
                parts = g.split("/")
                d = snapshot_date(parts[at]) if at is not None and len(parts) == len(self.group_by) else None
                if d is None:
                    raise ValueError(f"weights.{p.key}: split recency needs a CC-MAIN-YYYY-WW snapshot in every "
                                     f"group it matches, not {g!r}")
                dates.append(d)
            newest = max(dates)
            raw = [0.5 ** ((newest - d).days / 365.2425 / p.half_life) for d in dates]
        else:
            raw = [1.0] * len(groups)
        total = sum(raw)
        return [r / total for r in raw]


def _spec(value) -> tuple[str, float | None]:
    if not isinstance(value, dict):
        return "tokens", None
    hl = value.get("half_life")
    return value.get("split", "tokens"), float(hl) if isinstance(hl, (int, float)) else None


def spec_problems(key: str, value, group_by: list[str] | None) -> list[str]:
    """Why a ``weights`` entry is malformed (empty when it is good); the weight's range is checked elsewhere."""
    if not isinstance(value, dict):
        return []
    if not is_pattern(key):
        return ["a mapping (weight, split, half_life) is for patterns only; give a group its weight as a number"]
    out = [f"unknown key {k!r} (known: half_life, split, weight)" for k in sorted(map(str, set(value) - SPEC_KEYS))]
    if "weight" not in value:
        out.append("a pattern's mapping needs a weight")
    split = value.get("split", "tokens")
    if split not in SPLITS:
        out.append(f"split must be one of {', '.join(SPLITS)}, got {str(split)[:40]!r}")
    hl = value.get("half_life")
    if split == "recency":
        if isinstance(hl, bool) or not isinstance(hl, (int, float)) or not 0 < hl < 1e6:
            out.append("split recency needs half_life: a number of years > 0")
        if group_by is not None and "snapshot" not in group_by:
            out.append("split recency needs snapshot in group_by")
    elif hl is not None:
        out.append("half_life is for split recency only")
    return out
