"""LogQL evaluated over the store, with Loki's semantics (pkg/logql, docs "LogQL").

- Log queries read lines in [start, end), newest first (``backward``) or oldest first, run each
  through the pipeline and keep the first ``limit``; lines are grouped into streams by their
  labels after the pipeline.
- Parsers add the fields as labels; a field named like a stream label gets ``_extracted``
  appended; a line the parser cannot read gets ``__error__`` (``JSONParserErr``,
  ``LogfmtParserErr``). A numeric label filter drops a line without the label and marks one
  whose value is not a number with ``__error__="LabelFilterErr"`` (kept); a line with an
  error already passes numeric filters (only string matchers filter it). perflab does not add
  Loki's ``__error_details__`` label.
- Range functions look at (t - range, t] at each step t = start, start + step, ... <= end;
  a step with no line has no point. A metric series with ``__error__`` is an error, as in
  Loki (filter it with ``| __error__=""``).
"""

from __future__ import annotations

import bisect
import json
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from perflab.errors import InvalidValue
from perflab.logs._fields import ParseFailed, parse_json, parse_logfmt
from perflab.logs._logql import (
    TEMPLATE_FIELD,
    BoolExpr,
    Compare,
    LabelExpr,
    LabelFilter,
    LineFilter,
    LineFormat,
    LogQuery,
    Matcher,
    Parser,
    RangeAgg,
    VectorAgg,
    parse_duration_ns,
)
from perflab.store import log_counts, log_lines, log_streams

if TYPE_CHECKING:
    from collections.abc import Iterator

    from perflab.store import Store

Labels = dict[str, str]
LabelKey = tuple[tuple[str, str], ...]
_GO_DURATION = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h)"
                          r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))*")
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


def key_of(labels: Labels) -> LabelKey:
    return tuple(sorted(labels.items()))


# -- the pipeline --------------------------------------------------------------------------------

def _numeric(c: Compare, text: str) -> float | None:
    if c.duration:
        if not _GO_DURATION.fullmatch(text):
            return None
        sign = -1.0 if text.startswith("-") else 1.0
        return sign * parse_duration_ns(text.lstrip("+-")) / 1e9
    try:
        return float(text)
    except ValueError:
        return None


_CMP = {"==": float.__eq__, "!=": float.__ne__, ">": float.__gt__, ">=": float.__ge__,
        "<": float.__lt__, "<=": float.__le__}


def _label_keeps(expr: LabelExpr, labels: Labels) -> bool:
    if isinstance(expr, BoolExpr):
        if expr.op == "and":
            return _label_keeps(expr.left, labels) and _label_keeps(expr.right, labels)
        return _label_keeps(expr.left, labels) or _label_keeps(expr.right, labels)
    if expr.matcher is not None:
        return expr.matcher.matches(labels.get(expr.name, ""))
    if "__error__" in labels:
        return True  # as Loki: once a line has an error, only string matchers filter it
    got = labels.get(expr.name)
    if got is None:
        return False
    value = _numeric(expr, got)
    if value is None:
        labels.setdefault("__error__", "LabelFilterErr")
        return True
    assert expr.number is not None
    return bool(_CMP[expr.op](value, expr.number))


def _extract(kind: str, line: str, labels: Labels) -> None:
    try:
        fields = parse_json(line) if kind == "json" else parse_logfmt(line)
    except ParseFailed:
        labels.setdefault("__error__", "JSONParserErr" if kind == "json" else "LogfmtParserErr")
        return
    for k, v in fields.items():
        labels[k + "_extracted" if k in labels else k] = v


def _format(template: str, line: str, labels: Labels) -> str:
    return TEMPLATE_FIELD.sub(lambda m: line if m.group(2) else labels.get(m.group(1), ""),
                              template)


def run_pipeline(query: LogQuery, stream: Labels, line: str) -> tuple[Labels, str] | None:
    """(labels, line) of a line after the query's stages, or None when a stage drops it."""
    labels = dict(stream)
    for stage in query.stages:
        if isinstance(stage, LineFilter):
            if not stage.keeps(line):
                return None
        elif isinstance(stage, Parser):
            _extract(stage.kind, line, labels)
        elif isinstance(stage, LabelFilter):
            if not _label_keeps(stage.expr, labels):
                return None
        elif isinstance(stage, LineFormat):
            line = _format(stage.template, line, labels)
    return labels, line


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
        got = run_pipeline(query, streams[row.stream_id], row.line)
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


def _group(labels: Labels, agg: VectorAgg) -> Labels:
    if agg.without:
        return {k: v for k, v in labels.items() if k not in agg.grouping}
    return {k: labels[k] for k in agg.grouping if k in labels}


def _aggregate(op: str, values: list[float]) -> float:
    if op == "sum":
        return sum(values)
    if op == "count":
        return float(len(values))
    if op == "avg":
        return sum(values) / len(values)
    return min(values) if op == "min" else max(values)


def eval_metric(store: Store, expr: RangeAgg | VectorAgg, times: list[int], *,
                run_id: int | None = None) -> list[Series]:
    """The series of a metric query at each of ``times``, sorted by labels."""
    if isinstance(expr, RangeAgg):
        return _range_series(store, expr, times, run_id)
    inner = eval_metric(store, expr.inner, times, run_id=run_id)
    groups: dict[LabelKey, dict[int, list[float]]] = {}
    for s in inner:
        per_t = groups.setdefault(key_of(_group(s.labels, expr)), {})
        for t, v in s.points:
            per_t.setdefault(t, []).append(v)
    return [Series(dict(key), [(t, _aggregate(expr.op, vs)) for t, vs in sorted(per_t.items())])
            for key, per_t in sorted(groups.items())]


def _text(labels: Labels) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
