"""k6-style pass/fail thresholds: ``p99<200ms``, ``error_rate<1%``, ``rps>1000``.

Metrics (left side):
    p50 p90 p95 p99 p99.9 (any pNN, also k6's ``p(99)``), ``avg``/``mean``, ``min``, ``med``,
    ``max``: latency, compared to a duration (``200ms``; a bare number is milliseconds, as in
    k6). ``service_p99`` etc.: the same on service time (open model).
    ``error_rate``: failed requests / attempts (``1%`` or ``0.01``). ``checks``: the share of
    scenario checks that passed (``checks>99%``).
    ``rps``: achieved requests per second. ``requests``; open model: ``late`` (arrivals started
    more than 1 ms after their time), ``dropped`` (never sent; known at the end only): counts.
Operators: ``<``, ``<=``, ``>``, ``>=``, ``==``.

A threshold that does not parse is a usage error (exit 2) naming the part that is wrong.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from perflab.errors import InvalidValue
from perflab.units import parse_duration, parse_percent, parse_rate

if TYPE_CHECKING:
    from collections.abc import Callable

    from perflab.load._contracts import LoadThreshold, ThresholdOp, ThresholdUnit
    from perflab.load._hdr import Histogram
    from perflab.load._messages import CheckCounts

_SHAPE = re.compile(r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_.()]*)\s*(?P<op><=|>=|==|<|>)"
                    r"\s*(?P<value>\S.*?)\s*$")
_PCT = re.compile(r"^(?:p|p\()(?P<n>\d+(?:\.\d+)?)\)?$")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
}
_OP_NAMES: dict[str, ThresholdOp] = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "=="}
_HINT = ('write a threshold as METRIC OP VALUE, e.g. "p99<200ms", "error_rate<1%", "rps>1000"; '
         "metrics: pNN avg min med max service_pNN error_rate checks rps requests late dropped")


class Measured(Protocol):
    """What thresholds read: a final result or the running totals of a test."""

    @property
    def latency(self) -> Histogram: ...
    @property
    def service(self) -> Histogram | None: ...
    @property
    def error_rate(self) -> float: ...
    @property
    def rps(self) -> float: ...
    @property
    def requests(self) -> int: ...
    @property
    def late(self) -> int: ...
    @property
    def dropped(self) -> int: ...
    @property
    def checks(self) -> dict[str, CheckCounts]: ...


@dataclass(frozen=True, slots=True)
class Threshold:
    text: str
    metric: str      # canonical: p99, p99.9, mean, max, error_rate, rps ...
    op: ThresholdOp
    value: float     # ms for latency, a fraction for rates, /s for rps, a count otherwise
    unit: ThresholdUnit

    def measure(self, m: Measured) -> float:
        metric = self.metric
        if metric == "error_rate":
            return m.error_rate
        if metric == "rps":
            return m.rps
        if metric == "requests":
            return float(m.requests)
        if metric == "late":
            return float(m.late)
        if metric == "dropped":
            return float(m.dropped)
        if metric == "checks":
            passed = sum(c.passed for c in m.checks.values())
            failed = sum(c.failed for c in m.checks.values())
            return passed / (passed + failed) if passed + failed else 1.0
        hist = m.latency
        if metric.startswith("service_"):
            hist = m.service if m.service is not None else m.latency
            metric = metric.removeprefix("service_")
        if hist.total == 0:
            return math.nan
        if metric == "mean":
            return hist.mean / 1000
        if metric == "min":
            return hist.min / 1000
        if metric == "max":
            return hist.max / 1000
        return hist.value_at_percentile(float(metric[1:])) / 1000

    def holds(self, actual: float) -> bool:
        """Whether a measured value meets the threshold (no value, NaN, never does)."""
        return not math.isnan(actual) and _OPS[self.op](actual, self.value)

    def passes(self, m: Measured) -> bool:
        """What ``--abort-on-fail`` asks each second: no result document made."""
        return self.holds(self.measure(m))

    def check(self, m: Measured) -> LoadThreshold:
        """The threshold's line of the result (``--json``'s ``thresholds``)."""
        actual = self.measure(m)
        ok = self.holds(actual)
        return {"threshold": self.text, "metric": self.metric, "op": self.op,
                "limit": self.value, "actual": None if math.isnan(actual) else actual,
                "unit": self.unit, "passed": ok}


def parse_threshold(text: str) -> Threshold:
    m = _SHAPE.match(text)
    if not m:
        raise InvalidValue(f"invalid threshold {text!r}: expected METRIC OP VALUE", hint=_HINT)
    raw_metric, op, raw_value = m.group("metric"), _OP_NAMES[m.group("op")], m.group("value")
    metric = _canonical_metric(raw_metric, text)
    unit: ThresholdUnit
    try:
        if metric in ("error_rate", "checks"):
            value, unit = parse_percent(raw_value), "ratio"
        elif metric == "rps":
            value, unit = parse_rate(raw_value), "/s"
        elif metric in ("requests", "late", "dropped"):
            value, unit = float(int(raw_value)), "count"
        else:
            try:  # k6: a bare number is milliseconds
                value = float(raw_value)
            except ValueError:
                value = parse_duration(raw_value) * 1000
            unit = "ms"
    except (InvalidValue, ValueError):
        kind = {"error_rate": "a percentage", "checks": "a percentage", "rps": "a rate",
                "requests": "a whole number", "late": "a whole number",
                "dropped": "a whole number"}.get(metric,
                                                                                 "a duration")
        col = m.start("value") + 1
        raise InvalidValue(
            f"invalid threshold {text!r}: {raw_value!r} (column {col}) is not {kind}",
            hint=_HINT) from None
    return Threshold(text.strip(), metric, op, value, unit)


def _canonical_metric(raw: str, text: str) -> str:
    name = raw.lower()
    prefix = ""
    if name.startswith("service_"):
        prefix, name = "service_", name.removeprefix("service_")
    aliases = {"avg": "mean", "mean": "mean", "min": "min", "max": "max", "med": "p50",
               "median": "p50"}
    if name in aliases:
        return prefix + aliases[name]
    pm = _PCT.match(name)
    if pm and 0 < float(pm.group("n")) <= 100:
        return f"{prefix}p{float(pm.group('n')):g}"
    if not prefix and name in ("error_rate", "rps", "requests", "late", "dropped", "checks"):
        return name
    raise InvalidValue(f"invalid threshold {text!r}: unknown metric {raw!r}", hint=_HINT)


def evaluate(thresholds: list[Threshold], m: Measured) -> list[LoadThreshold]:
    return [t.check(m) for t in thresholds]
