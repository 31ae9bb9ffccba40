"""LogQL evaluated over the store, with Loki's semantics (pkg/logql, docs "LogQL").

- Log queries read lines in [start, end), newest first (``backward``) or oldest first, run each
  through the pipeline and keep the first ``limit``; lines are grouped into streams by their
  labels after the pipeline.
- The pipeline's stages: _pipeline.py; unwrapped range functions: _ranges.py; operators,
  aggregations and label_replace at each step: _vecops.py.
- Range functions look at (t - range, t] at each step t = start, start + step, ... <= end
  (``offset d``: the window ending at t - d); a step with no line has no point. A metric
  series with ``__error__`` is an error, as in Loki (filter it with ``| __error__=""``).
"""

from __future__ import annotations

import bisect
import json
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from perflab.errors import InvalidValue
from perflab.logs._logql import (
    LINE_RANGE_FUNCS,
    BinOp,
    LabelReplace,
    LineFilter,
    LogQuery,
    Matcher,
    MetricExpr,
    Number,
    RangeAgg,
    VectorAgg,
    VectorLit,
    is_scalar,
)
from perflab.logs._pipeline import run_pipeline
from perflab.logs._ranges import SeriesLimit, absent_labels, samples, windows
from perflab.logs._template import expand_go
from perflab.logs._vecops import (
    VectorError,
    aggregate_vector,
    key_of,
    label_replace,
    set_op,
    vector_scalar,
    vector_vector,
)
from perflab.store import log_counts, log_lines, log_streams

if TYPE_CHECKING:
    from collections.abc import Iterator

    from perflab.store import Store

Labels = dict[str, str]
LabelKey = tuple[tuple[str, str], ...]
MAX_SERIES = 10_000
MAX_POINTS = 11_000  # per series, as Loki's query_range (max 11,000 points)


class QueryError(InvalidValue):
    """A query that parses but cannot be answered (a pipeline error in a metric query, too
    many series or points)."""


@dataclass(frozen=True, slots=True)
class Stream:
    labels: Labels
    entries: list[tuple[int, str]]      # (ts_ns, line)


@dataclass(frozen=True, slots=True)
class Series:
    labels: Labels
    points: list[tuple[int, float]]     # (ts_ns, value)


# -- reading the store ---------------------------------------------------------------------------

def matching_streams(store: Store, matchers: tuple[Matcher, ...]) -> dict[int, Labels]:
    """The stored streams a selector picks, by id."""
    out: dict[int, Labels] = {}
    for sid, text in log_streams(store):
        labels: Labels = json.loads(text)
        if all(m.matches(labels.get(m.name, "")) for m in matchers):
            out[sid] = labels
    return out


def _lines(store: Store, query: LogQuery, start_ns: int, end_ns: int, *, backward: bool,
           run_id: int | None) -> Iterator[tuple[int, Labels, str]]:
    streams = matching_streams(store, query.matchers)
    for row in log_lines(store, sorted(streams), start_ns, end_ns, backward=backward,
                         contains=query.line_substrings(), run_id=run_id):
        got = run_pipeline(query, streams[row.stream_id], row.line, row.ts_ns)
        if got is not None:
            yield row.ts_ns, got[0], got[1]


def select_logs(store: Store, query: LogQuery, start_ns: int, end_ns: int, *, limit: int,
                backward: bool = True, run_id: int | None = None) -> list[Stream]:
    """The first ``limit`` lines in [start_ns, end_ns) the query keeps, as streams sorted by
    their labels, each stream's entries in the query's direction."""
    by_key: dict[LabelKey, Stream] = {}
    for n, (ts, labels, line) in enumerate(_lines(store, query, start_ns, end_ns,
                                                  backward=backward, run_id=run_id)):
        if n >= limit:
            break
        key = key_of(labels)
        stream = by_key.get(key)
        if stream is None:
            stream = by_key[key] = Stream(labels, [])
        stream.entries.append((ts, line))
    return [by_key[k] for k in sorted(by_key)]


# -- metric queries ------------------------------------------------------------------------------

def steps(start_ns: int, end_ns: int, step_ns: int) -> list[int]:
    if step_ns <= 0:
        raise QueryError("the step must be positive", hint="give step=15s, or a number")
    if end_ns < start_ns:
        raise QueryError("the end is before the start")
    count = (end_ns - start_ns) // step_ns + 1
    if count > MAX_POINTS:
        raise QueryError(f"{count:,} points per series; at most {MAX_POINTS:,}",
                         hint="give a larger step or a shorter range")
    return [start_ns + i * step_ns for i in range(count)]


def _counted_in_sql(agg: RangeAgg) -> bool:
    """Whether SQLite can count the query's lines exactly: no stage but ``|=`` filters (which
    the store applies exactly), so each line keeps its stream's labels and its text."""
    return all(isinstance(s, LineFilter) and s.op == "|=" for s in agg.query.stages)


def _sql_series(store: Store, agg: RangeAgg, times: list[int], run_id: int | None,
                ) -> list[Series]:
    """The range function from per-bucket counts: buckets of gcd(step, range), so that every
    window (t - range, t] is a whole run of buckets."""
    streams = matching_streams(store, agg.query.matchers)
    step = times[1] - times[0] if len(times) > 1 else agg.range_ns
    width = math.gcd(step, agg.range_ns)
    origin = times[0] - agg.range_ns
    by_bytes = agg.func in ("bytes_over_time", "bytes_rate")
    per_window = agg.range_ns // width
    buckets: dict[int, list[tuple[int, int, float]]] = {}
    for sid, k, n, size in log_counts(store, sorted(streams), origin, times[-1], width,
                                      contains=agg.query.line_substrings(), run_id=run_id,
                                      with_bytes=by_bytes):
        buckets.setdefault(sid, []).append((k, n, float(size if by_bytes else n)))
    per_second = agg.func in ("rate", "bytes_rate")
    out = []
    for sid, rows in buckets.items():
        rows.sort()
        keys = [k for k, _, _ in rows]
        lines, values = [0], [0.0]           # cumulative, so a window is two lookups
        for _, n, v in rows:
            lines.append(lines[-1] + n)
            values.append(values[-1] + v)
        points = []
        for t in times:
            hi = bisect.bisect_right(keys, (t - origin) // width)
            lo = bisect.bisect_right(keys, (t - origin) // width - per_window)
            if lines[hi] > lines[lo]:        # a window with lines (even empty ones) has a point
                total = values[hi] - values[lo]
                points.append((t, total / (agg.range_ns / 1e9) if per_second else total))
        if points:
            out.append(Series(dict(streams[sid]), points))
    return sorted(out, key=lambda s: key_of(s.labels))


def _range_series(store: Store, agg: RangeAgg, times: list[int], run_id: int | None,
                  ) -> list[Series]:
    if _counted_in_sql(agg):
        return _sql_series(store, agg, times, run_id)
    samples: dict[LabelKey, tuple[list[int], list[float]]] = {}
    lo, hi = times[0] - agg.range_ns + 1, times[-1] + 1
    by_bytes = agg.func in ("bytes_over_time", "bytes_rate")
    for ts, labels, line in _lines(store, agg.query, lo, hi, backward=False, run_id=run_id):
        key = key_of(labels)
        got = samples.get(key)
        if got is None:
            if "__error__" in labels:
                raise QueryError(f"pipeline error: {labels['__error__']!r} for series "
                                 f"{_text(labels)}",
                                 hint='drop the lines the parser could not read: '
                                      '| __error__=""')
            if len(samples) >= MAX_SERIES:
                raise QueryError(f"more than {MAX_SERIES:,} series",
                                 hint="aggregate with sum by (...) or narrow the selector")
            got = samples[key] = ([], [])
        got[0].append(ts)
        got[1].append(float(len(line.encode("utf-8", "surrogatepass"))) if by_bytes else 1.0)
    per_second = agg.func in ("rate", "bytes_rate")
    out = []
    for key, (ts_list, values) in sorted(samples.items()):
        prefix = [0.0]
        for v in values:
            prefix.append(prefix[-1] + v)
        points = []
        for t in times:
            a = bisect.bisect_right(ts_list, t - agg.range_ns)
            b = bisect.bisect_right(ts_list, t)
            if b > a:
                total = prefix[b] - prefix[a]
                points.append((t, total / (agg.range_ns / 1e9) if per_second else total))
        if points:
            out.append(Series(dict(key), points))
    return out


def _range_agg(store: Store, agg: RangeAgg, times: list[int], run_id: int | None,
               ) -> list[Series]:
    """A range aggregation; with ``offset`` each step t looks at the window ending at
    t - offset, and the points keep the step's time."""
    shifted = [t - agg.offset_ns for t in times] if agg.offset_ns else times
    if agg.func == "absent_over_time":
        series = _absent(store, agg, shifted, run_id)
    elif agg.unwrap is None and agg.func in LINE_RANGE_FUNCS:
        series = _range_series(store, agg, shifted, run_id)
    else:
        series = _unwrapped_series(store, agg, shifted, run_id)
    if agg.offset_ns:
        series = [Series(s.labels, [(t + agg.offset_ns, v) for t, v in s.points])
                  for s in series]
    return series


def _unwrapped_series(store: Store, agg: RangeAgg, times: list[int], run_id: int | None,
                      ) -> list[Series]:
    lines = _lines(store, agg.query, times[0] - agg.range_ns + 1, times[-1] + 1,
                   backward=False, run_id=run_id)
    try:
        by_key = samples(agg, lines, MAX_SERIES)
    except SeriesLimit:
        raise QueryError(f"more than {MAX_SERIES:,} series",
                         hint="aggregate with sum by (...) or narrow the selector") from None
    out = []
    for key, (ts_list, values) in sorted(by_key.items()):
        labels = dict(key)
        if "__error__" in labels:
            raise QueryError(f"pipeline error: {labels['__error__']!r} for series "
                             f"{_text(labels)}",
                             hint='drop the samples that did not convert: | unwrap x '
                                  '| __error__=""')
        points = windows(agg, ts_list, values, times)
        if points:
            out.append(Series(labels, points))
    return out


def _absent(store: Store, agg: RangeAgg, times: list[int], run_id: int | None) -> list[Series]:
    """1 at each step whose window has no line (or, unwrapped, no sample), else no point."""
    if agg.unwrap is None:
        inner = replace(agg, func="count_over_time")
        present = _range_series(store, inner, times, run_id)
    else:
        present = _unwrapped_series(store, replace(agg, func="sum_over_time"), times, run_id)
    seen = {t for s in present for t, _ in s.points}
    points = [(t, 1.0) for t in times if t not in seen]
    return [Series(absent_labels(agg.query.matchers), points)] if points else []


# -- operators over vectors ----------------------------------------------------------------------

Vectors = dict[int, list[tuple[Labels, float]]]


def _by_step(series: list[Series], times: list[int]) -> Vectors:
    out: Vectors = {t: [] for t in times}
    for s in series:
        for t, v in s.points:
            out[t].append((s.labels, v))
    return out


def _to_series(vectors: Vectors) -> list[Series]:
    """Series from per-step vectors, in the order each label set first appears."""
    by_key: dict[LabelKey, Series] = {}
    for t in sorted(vectors):
        for labels, v in vectors[t]:
            k = key_of(labels)
            s = by_key.get(k)
            if s is None:
                s = by_key[k] = Series(dict(labels), [])
            s.points.append((t, v))
    return list(by_key.values())


def _eval(store: Store, expr: MetricExpr, times: list[int], run_id: int | None,
          ) -> list[Series] | float:
    if isinstance(expr, Number):
        return expr.value
    if isinstance(expr, VectorLit):
        return [Series({}, [(t, expr.value) for t in times])]
    if isinstance(expr, RangeAgg):
        return _range_agg(store, expr, times, run_id)
    if isinstance(expr, VectorAgg):
        inner = _vector(store, expr.inner, times, run_id)
        return _to_series({t: aggregate_vector(expr.op, vec, expr.grouping,
                                               without=expr.without, param=expr.param)
                           for t, vec in _by_step(inner, times).items()})
    if isinstance(expr, LabelReplace):
        return _label_replace(expr, _vector(store, expr.inner, times, run_id), times)
    return _binop(store, expr, times, run_id)


def _vector(store: Store, expr: MetricExpr, times: list[int], run_id: int | None,
            ) -> list[Series]:
    got = _eval(store, expr, times, run_id)
    assert not isinstance(got, float)  # the parser refuses a number where a vector goes
    return got


def _label_replace(expr: LabelReplace, inner: list[Series], times: list[int]) -> list[Series]:
    def expand(value: str) -> str | None:
        m = expr.regex.fullmatch(value)
        return None if m is None else expand_go(expr.replacement, m)
    try:
        return _to_series({t: label_replace(vec, expr.dst, expr.src, expand)
                           for t, vec in _by_step(inner, times).items()})
    except VectorError as exc:
        raise QueryError(exc.message, hint=exc.hint) from None


def _binop(store: Store, expr: BinOp, times: list[int], run_id: int | None,
           ) -> list[Series] | float:
    lhs = _eval(store, expr.lhs, times, run_id)
    rhs = _eval(store, expr.rhs, times, run_id)
    op = expr.op
    try:
        if isinstance(lhs, float) or isinstance(rhs, float):
            scalar_left = isinstance(lhs, float)
            vec, scalar = (rhs, lhs) if scalar_left else (lhs, rhs)
            assert isinstance(scalar, float)
            assert not isinstance(vec, float)
            return _to_series({t: vector_scalar(op, v, scalar, scalar_left=scalar_left,
                                                return_bool=expr.return_bool)
                               for t, v in _by_step(vec, times).items()})
        m = expr.matching
        on, names = (m.on, m.labels) if m is not None else (False, ())
        left, right = _by_step(lhs, times), _by_step(rhs, times)
        if op in ("and", "or", "unless"):
            return _to_series({t: set_op(op, left[t], right[t], on, names) for t in times})
        return _to_series({t: vector_vector(op, left[t], right[t], on=on, names=names,
                                            group=m.group if m else "",
                                            include=m.include if m else (),
                                            return_bool=expr.return_bool)
                           for t in times})
    except VectorError as exc:
        raise QueryError(exc.message, hint=exc.hint) from None


def eval_metric(store: Store, expr: MetricExpr, times: list[int], *,
                run_id: int | None = None) -> list[Series]:
    """The series of a metric query at each of ``times``, sorted by labels; at one step, a
    query with ``sort``/``sort_desc`` keeps their order instead (Loki orders instant vectors
    by value only then)."""
    if is_scalar(expr):
        raise QueryError("the query is a number, not a vector of series",
                         hint="wrap it in vector(...), as vector(1)")
    if len(times) > 1 and _uses(expr, ("approx_topk",)):
        raise QueryError("approx_topk is only supported for instant queries",
                         hint="ask /loki/api/v1/query, or use topk for a range")
    series = _vector(store, expr, times, run_id)
    if len(times) == 1 and _uses(expr, ("sort", "sort_desc")):
        return series
    return sorted(series, key=lambda s: key_of(s.labels))


def _uses(expr: MetricExpr, ops: tuple[str, ...]) -> bool:
    """Whether one of the aggregations ``ops`` appears anywhere in the query (for
    sort/sort_desc, Loki's ``Sortable``)."""
    if isinstance(expr, VectorAgg):
        return expr.op in ops or _uses(expr.inner, ops)
    if isinstance(expr, BinOp):
        return _uses(expr.lhs, ops) or _uses(expr.rhs, ops)
    return isinstance(expr, LabelReplace) and _uses(expr.inner, ops)


def _text(labels: Labels) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
