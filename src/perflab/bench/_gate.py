"""The CI gate: ``--fail-on "regression>5%"`` trips on changes that are both significant and large.

A comparison is a *regression* when the U test rejects "same distribution" at alpha (after the
optional Holm-Bonferroni correction over every comparison in the run) AND the centre moved in
the worse direction of the unit (lower is better for times and sizes, higher for B/s) by more
than the threshold. Significance alone is not enough: with quiet data a 0.3 % change is
"significant" and nobody wants the build to fail for it. Size alone is not enough either: a
noisy runner moves medians by 10 % between identical runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from perflab.bench._contracts import Correction, GateKind, VerdictKind
from perflab.bench._model import ResultSet
from perflab.bench._stats import holm_adjust
from perflab.bench._table import Key, Table
from perflab.errors import InvalidValue

_GATE = re.compile(r"^\s*(regression|change)\s*(>=|>)\s*([0-9]*\.?[0-9]+)\s*%\s*$")


@dataclass(frozen=True)
class Gate:
    kind: GateKind  # "regression" (worse direction only) or "change" (either direction)
    threshold_pct: float
    text: str


def parse_gate(text: str) -> Gate:
    m = _GATE.match(text)
    if m is None:
        raise InvalidValue(f"invalid --fail-on {text!r}",
                           hint='write it as "regression>5%" (or "change>5%" for any direction)')
    kind: GateKind = "change" if m.group(1) == "change" else "regression"
    return Gate(kind, float(m.group(3)), text.strip())


@dataclass(frozen=True)
class Verdict:
    table: int
    row: Key
    col: Key
    name: str
    unit: str
    verdict: VerdictKind  # unchanged: not significant or too small
    delta_pct: float | None
    p: float
    p_adjusted: float


def judge(tables: list[Table], rs: ResultSet, gate: Gate | None, *,
          correction: Correction = "none",
          alpha: float = 0.05) -> list[Verdict]:
    """A verdict for every comparison cell of every table."""
    found: list[tuple[int, Key, Key, float, float, float, str]] = []
    for ti, table in enumerate(tables):
        for row, col, cell, base, comparison in table.compared():
            found.append((ti, row, col, comparison.p, base.summary.center, cell.summary.center,
                          table.unit))
    pvalues = [f[3] for f in found]
    adjusted = holm_adjust(pvalues) if correction == "holm" else pvalues
    threshold = gate.threshold_pct if gate is not None else 0.0
    out = []
    for (ti, row, col, p, old, new, unit), p_adj in zip(found, adjusted, strict=True):
        delta = (new / old - 1) * 100 if old != 0 else None
        verdict: VerdictKind = "unchanged"
        # exact units report p = 0: any difference of the exact values is real
        if (p_adj <= alpha) and delta is not None and delta != 0:
            worse = delta > 0 if rs.better(unit) == "lower" else delta < 0
            if abs(delta) > threshold:
                verdict = "regression" if worse else "improvement"
        table = tables[ti]
        out.append(Verdict(ti, row, col, Table.label(row), table.unit, verdict, delta, p,
                           p_adj))
    return out


def tripped(verdicts: list[Verdict], gate: Gate | None) -> list[Verdict]:
    """The verdicts that make the gate fail (exit 1)."""
    if gate is None:
        return []
    bad = {"regression", "improvement"} if gate.kind == "change" else {"regression"}
    return [v for v in verdicts if v.verdict in bad]
