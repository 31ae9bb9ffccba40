"""Comparing two profiles: per-function shares, the differential flame tree and CI checks.

Shares are normalised by each profile's own total, so a 60 s base and a 30 s new profile
compare fairly: a function that took 20 % of the base and 30 % of the new profile grew by
10 percentage points (pp), whatever the sampling durations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from perflab.errors import InvalidValue
from perflab.profile._flame import FlameTree, tree_of
from perflab.profile._model import Profile
from perflab.profile._top import build_graph, filter_samples


@dataclass(frozen=True, slots=True)
class ShareChange:
    name: str
    base_flat: float  # share of the base total, 0..1
    new_flat: float
    base_cum: float
    new_cum: float

    @property
    def flat_delta_pp(self) -> float:
        return 100 * (self.new_flat - self.base_flat)

    @property
    def cum_delta_pp(self) -> float:
        return 100 * (self.new_cum - self.base_cum)


def _shares(prof: Profile, index: int) -> dict[str, tuple[float, float]]:
    total = prof.total(index) or 1
    nodes = build_graph(prof, filter_samples(prof, None, None, None), index)
    return {n.name: (n.flat / total, n.cum / total) for n in nodes}


def share_changes(base: Profile, new: Profile, base_index: int,
                  new_index: int) -> list[ShareChange]:
    """Every function of either profile, the largest change in own (flat) share first."""
    b = _shares(base, base_index)
    n = _shares(new, new_index)
    out = []
    for name in b.keys() | n.keys():
        base_flat, base_cum = b.get(name, (0.0, 0.0))
        new_flat, new_cum = n.get(name, (0.0, 0.0))
        out.append(ShareChange(name, base_flat, new_flat, base_cum, new_cum))
    # rounded so that float noise does not decide between equal changes
    out.sort(key=lambda c: (-round(abs(c.flat_delta_pp), 9), -round(abs(c.cum_delta_pp), 9),
                            c.name))
    return out


def diff_tree(base: Profile, new: Profile, base_index: int, new_index: int) -> FlameTree:
    tree = tree_of(new, new_index, slot=0)
    return tree_of(base, base_index, tree, slot=1)


_RULE = re.compile(
    r"^\s*(growth|cum-growth|shrinkage|cum-shrinkage)\s*>\s*(\d+(?:\.\d*)?)\s*pp\s*$")


@dataclass(frozen=True, slots=True)
class FailRule:
    text: str
    kind: str
    limit_pp: float

    def violations(self, changes: list[ShareChange]) -> list[ShareChange]:
        out = []
        for c in changes:
            delta = c.cum_delta_pp if self.kind.startswith("cum-") else c.flat_delta_pp
            if self.kind.endswith("shrinkage"):
                delta = -delta
            if delta > self.limit_pp:
                out.append(c)
        return out


def parse_fail_on(text: str) -> FailRule:
    m = _RULE.match(text)
    if m is None:
        raise InvalidValue(f"invalid --fail-on {text!r}",
                           hint="write it like growth>5pp (own share), cum-growth>5pp, "
                                "shrinkage>5pp")
    return FailRule(text.strip(), m[1], float(m[2]))
