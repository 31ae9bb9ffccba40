"""Unwrapped range aggregations (``sum_over_time({...} | unwrap x [1m])`` ...) and
``absent_over_time``, with Loki's semantics (docs/sources/query/metric_queries.md;
pkg/logql/log/metrics_extraction.go, pkg/logql/range_vector.go).

- ``| unwrap x`` reads the label ``x`` of each line the pipeline keeps; a line without it (or
  with "") gives no sample; a value that does not convert gives the sample 0 with
  ``__error__="SampleExtractionErr"`` (``duration``: a Go duration in seconds; ``bytes``: a
  humanized size). The label filters after ``unwrap`` then run.
- A sample's series is the line's labels without ``x``; with ``by (...)`` only those, with
  ``without (...)`` not those nor ``x`` (the grouping of the range aggregation merges
  samples of different streams before the function, unlike an outer ``sum by``). A sample
  with ``__error__`` keeps all its labels, and its series makes the query fail.
- Each step t looks at the samples in (t - range, t]; ``rate`` is their sum over the range's
  seconds, ``stddev``/``stdvar`` are the population forms, ``quantile_over_time`` is
  Prometheus's (linear between ranks; φ < 0 gives -Inf, φ > 1 +Inf).
- ``rate_counter`` reads the samples as a counter: Loki's extrapolatedRate (range_vector.go,
  adapted from Prometheus's): the increase from first to last sample, resets added back,
  extrapolated towards the window's edges (by at most half the mean spacing when a sample is
  not within 1.1 spacings of an edge, and never below a counter's zero), per second of the
  range; a window with fewer than two samples is 0.
"""

from __future__ import annotations

import bisect
import math
import statistics
from typing import TYPE_CHECKING

from perflab.logs._pipeline import ERROR, label_keeps
from perflab.logs._units import parse_go_bytes, parse_go_duration_s
from perflab.logs._vecops import group_labels, key_of

if TYPE_CHECKING:
    from collections.abc import Iterable

    from perflab.logs._logql import Matcher, RangeAgg, Unwrap

Labels = dict[str, str]
LabelKey = tuple[tuple[str, str], ...]
Points = list[tuple[int, float]]


class SeriesLimit(ValueError):
    """More series than a query may make."""


def _convert(unwrap: Unwrap, text: str) -> float:
    if unwrap.conversion == "duration":
        return parse_go_duration_s(text)
    if unwrap.conversion == "bytes":
        return parse_go_bytes(text)
    return float(text)


def samples(agg: RangeAgg, lines: Iterable[tuple[int, Labels, str]], max_series: int,
            ) -> dict[LabelKey, tuple[list[int], list[float]]]:
    """The unwrapped samples of the lines the pipeline kept, by series, in time order."""
    unwrap = agg.unwrap
    assert unwrap is not None
    out: dict[LabelKey, tuple[list[int], list[float]]] = {}
    for ts, labels, _line in lines:
        text = labels.get(unwrap.name, "")
        if not text:
            continue
        try:
            value = _convert(unwrap, text)
        except ValueError:
            value = 0.0
            labels[ERROR] = "SampleExtractionErr"
        if not all(label_keeps(f.expr, labels) for f in unwrap.post):
            continue
        key = key_of(_series_labels(agg, unwrap, labels))
        got = out.get(key)
        if got is None:
            if len(out) >= max_series:
                raise SeriesLimit(len(out))
            got = out[key] = ([], [])
        got[0].append(ts)
        got[1].append(value)
    return out


def _series_labels(agg: RangeAgg, unwrap: Unwrap, labels: Labels) -> Labels:
    if ERROR in labels:
        return labels
    g = agg.grouping
    if g is not None and not g.without:
        return group_labels(labels, g.names, without=False)
    names = (*(g.names if g is not None else ()), unwrap.name)
    return group_labels(labels, names, without=True)


def quantile(phi: float, values: list[float]) -> float:
    """Prometheus's quantile: linear interpolation between the closest ranks."""
    if math.isnan(phi) or not values:
        return math.nan
    if phi < 0:
        return -math.inf
    if phi > 1:
        return math.inf
    ordered = sorted(values)
    rank = phi * (len(ordered) - 1)
    lower = math.floor(rank)
    upper = min(len(ordered) - 1, lower + 1)
    weight = rank - lower
    return ordered[lower] * (1 - weight) + ordered[upper] * weight


def over_time(agg: RangeAgg, values: list[float]) -> float:
    """The range function over a window's values (at least one), oldest first."""
    func = agg.func
    if func in ("sum_over_time", "rate"):
        total = math.fsum(values)
        return total / (agg.range_ns / 1e9) if func == "rate" else total
    if func == "avg_over_time":
        return math.fsum(values) / len(values)
    if func == "max_over_time":
        return max(values)
    if func == "min_over_time":
        return min(values)
    if func == "first_over_time":
        return values[0]
    if func == "last_over_time":
        return values[-1]
    if func == "stddev_over_time":
        return statistics.pstdev(values)
    if func == "stdvar_over_time":
        return statistics.pvariance(values)
    assert func == "quantile_over_time"
    assert agg.param is not None
    return quantile(agg.param, values)


def counter_rate(ts_list: list[int], values: list[float], range_ns: int, end_ns: int) -> float:
    """Loki's ``extrapolatedRate(..., isCounter=true, isRate=true)`` over one window's
    samples (times in ns) ending at ``end_ns``."""
    if len(values) < 2:
        return 0.0
    increase = values[-1] - values[0]
    last = 0.0
    for v in values:
        if v < last:  # a reset: the counter restarted from zero
            increase += last
        last = v
    to_start = (ts_list[0] - (end_ns - range_ns)) / 1e9
    to_end = (end_ns - ts_list[-1]) / 1e9
    sampled = (ts_list[-1] - ts_list[0]) / 1e9
    spacing = sampled / (len(values) - 1)
    threshold = spacing * 1.1
    if to_start >= threshold:
        to_start = spacing / 2
    to_zero = to_start
    if increase > 0 and values[0] >= 0:
        to_zero = sampled * (values[0] / increase)
    to_start = min(to_start, to_zero)
    if to_end >= threshold:
        to_end = spacing / 2
    if sampled == 0:  # all samples at one time: Go's 0/0, NaN
        return math.nan
    return increase * ((sampled + to_start + to_end) / sampled) / (range_ns / 1e9)


def windows(agg: RangeAgg, ts_list: list[int], values: list[float], times: list[int]) -> Points:
    """The function at each step over the samples in (t - range, t]; no sample, no point."""
    points: Points = []
    for t in times:
        a = bisect.bisect_right(ts_list, t - agg.range_ns)
        b = bisect.bisect_right(ts_list, t)
        if b > a:
            if agg.func == "rate_counter":
                points.append((t, counter_rate(ts_list[a:b], values[a:b], agg.range_ns, t)))
            else:
                points.append((t, over_time(agg, values[a:b])))
    return points


def absent_labels(matchers: tuple[Matcher, ...]) -> Labels:
    """The labels of ``absent_over_time``'s sample: the selector's ``=`` matchers, a name
    matched more than once left out (Loki's absentLabels, as Prometheus's)."""
    out: Labels = {}
    twice: set[str] = set()
    for m in matchers:
        if m.op != "=":
            continue
        if m.name in out:
            twice.add(m.name)
        out[m.name] = m.value
    return {k: v for k, v in out.items() if k not in twice}
