"""PromQL's functions: dispatch, the instant-vector functions and ``histogram_quantile``.

The range-vector functions (``rate``, ``*_over_time`` ...) are in ``_rangefuncs``; this module
finds a call's range argument, reads its windows and hands them over.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from perflab.metrics import _labels as lab
from perflab.metrics import _rangefuncs as rf
from perflab.metrics._ast import (
    Call,
    MatrixSel,
    Node,
    Paren,
    PromQLError,
    StringLit,
    Subquery,
    VectorSel,
    compile_regex,
)
from perflab.metrics._labels import Labels
from perflab.metrics._values import FloatArray, Series

if TYPE_CHECKING:
    from perflab.metrics._engine import Evaluator, Value

# Functions whose answer changes with the evaluation time even for fixed inputs: Prometheus
# does not treat them as step-invariant under @ (see Evaluator.range_source's moving_at).
AT_UNSAFE = frozenset({"days_in_month", "day_of_month", "day_of_week", "day_of_year", "hour",
                       "minute", "month", "year", "predict_linear", "time", "timestamp"})

_RangeFn = Callable[..., rf.Result]
RANGE_FUNCTIONS: dict[str, _RangeFn] = {
    "rate": lambda w: rf.extrapolated_rate(w, is_counter=True, is_rate=True),
    "increase": lambda w: rf.extrapolated_rate(w, is_counter=True, is_rate=False),
    "delta": lambda w: rf.extrapolated_rate(w, is_counter=False, is_rate=False),
    "irate": lambda w: rf.instant_value(w, is_rate=True),
    "idelta": lambda w: rf.instant_value(w, is_rate=False),
    "avg_over_time": rf.avg_over_time,
    "count_over_time": rf.count_over_time,
    "last_over_time": rf.last_over_time,
    "max_over_time": rf.max_over_time,
    "min_over_time": rf.min_over_time,
    "present_over_time": rf.present_over_time,
    "quantile_over_time": rf.quantile_over_time,
    "stddev_over_time": rf.stddev_over_time,
    "stdvar_over_time": rf.stdvar_over_time,
    "sum_over_time": rf.sum_over_time,
    "changes": rf.changes,
    "resets": rf.resets,
    "deriv": rf.deriv,
    "predict_linear": rf.predict_linear,
    "holt_winters": rf.holt_winters,
    "double_exponential_smoothing": rf.holt_winters,
}


def _unparen(node: Node) -> Node:
    while isinstance(node, Paren):
        node = node.expr
    return node


def call(ev: Evaluator, node: Call) -> Value:
    name = node.func
    if name == "timestamp":
        arg = _unparen(node.args[0])
        if isinstance(arg, VectorSel):
            return ev_merge([Series(lab.drop_name(s.labels), s.mask, s.values)
                             for s in ev.vector_selector(arg, with_times=True)])
    for i, arg in enumerate(node.args):
        if isinstance(_unparen(arg), (MatrixSel, Subquery)):
            return _range_call(ev, node, i)
    fn = INSTANT_FUNCTIONS.get(name)
    if fn is None:
        raise PromQLError(f"function {name!r} is not supported by perflab's PromQL engine",
                          kind="execution")
    return fn(ev, node)


def ev_merge(series: list[Series]) -> list[Series]:
    from perflab.metrics._engine import merge  # noqa: PLC0415  # the engine imports us

    return merge(series)


def _range_call(ev: Evaluator, node: Call, index: int) -> list[Series]:
    name = node.func
    others = [ev.scalar(a) for i, a in enumerate(node.args) if i != index]
    raws, refs, range_ms = ev.range_source(node.args[index], moving_at=name in AT_UNSAFE)
    if name == "absent_over_time":
        any_present = np.zeros(ev.n, dtype=bool)
        for raw in raws:
            any_present |= ev.windows(raw, refs, range_ms).n > 0
        if any_present.all():
            return []
        arg = _unparen(node.args[index])
        labels = _absent_labels(arg.selector) if isinstance(arg, MatrixSel) else ()
        return [Series(labels, ~any_present, np.ones(ev.n))]
    fn = RANGE_FUNCTIONS.get(name)
    if fn is None:
        raise PromQLError(f"function {name!r} is not supported by perflab's PromQL engine",
                          kind="execution")
    out: list[Series] = []
    seen: set[Labels] = set()
    for raw in raws:
        values, mask = fn(ev.windows(raw, refs, range_ms), *others)
        if not mask.any():
            continue
        labels = raw.labels if name == "last_over_time" else lab.drop_name(raw.labels)
        if labels in seen:
            raise PromQLError("vector cannot contain metrics with the same labelset",
                              kind="execution")
        seen.add(labels)
        out.append(Series(labels, mask, values))
    ev.check()
    return out


def _absent_labels(sel: VectorSel) -> Labels:
    """The labels ``absent()`` gives: those matched exactly once with ``=`` (not the name)."""
    out: dict[str, str] = {}
    seen: set[str] = set()
    for m in sel.matchers:
        if m.name == lab.NAME:
            continue
        if m.op == "=" and m.name not in seen:
            out[m.name] = m.value
            seen.add(m.name)
        else:
            out.pop(m.name, None)
            seen.add(m.name)
    return lab.from_dict(out)


# -- instant-vector functions ------------------------------------------------------------------

def _simple(f: Callable[[FloatArray], FloatArray]) -> Callable[[Evaluator, Call], Value]:
    def fn(ev: Evaluator, node: Call) -> Value:
        vec = ev.vector(node.args[0])
        with np.errstate(all="ignore"):
            return ev_merge([Series(lab.drop_name(s.labels), s.mask, f(s.values)) for s in vec])
    return fn


def _time(ev: Evaluator, node: Call) -> Value:  # noqa: ARG001
    return ev.steps.astype(np.float64) / 1000


def _pi(ev: Evaluator, node: Call) -> Value:  # noqa: ARG001
    return np.full(ev.n, math.pi)


def _vector(ev: Evaluator, node: Call) -> Value:
    return [Series((), np.ones(ev.n, dtype=bool), ev.scalar(node.args[0]).copy())]


def _scalar(ev: Evaluator, node: Call) -> Value:
    vec = ev.vector(node.args[0])
    count = np.zeros(ev.n, dtype=np.int64)
    value = np.full(ev.n, math.nan)
    for s in vec:
        count += s.mask
        value = np.where(s.mask, s.values, value)
    return np.where(count == 1, value, math.nan)


def _absent(ev: Evaluator, node: Call) -> Value:
    vec = ev.vector(node.args[0])
    present = np.zeros(ev.n, dtype=bool)
    for s in vec:
        present |= s.mask
    if present.all():
        return []
    arg = _unparen(node.args[0])
    if isinstance(arg, MatrixSel):
        arg = arg.selector
    labels = _absent_labels(arg) if isinstance(arg, VectorSel) else ()
    return [Series(labels, ~present, np.ones(ev.n))]


def _clamp(ev: Evaluator, node: Call) -> Value:
    vec = ev.vector(node.args[0])
    lo, hi = ev.scalar(node.args[1]), ev.scalar(node.args[2])
    ok = ~(hi < lo)
    with np.errstate(all="ignore"):
        return ev_merge([Series(lab.drop_name(s.labels), s.mask & ok,
                                np.maximum(lo, np.minimum(hi, s.values))) for s in vec])


def _clamp_max(ev: Evaluator, node: Call) -> Value:
    vec = ev.vector(node.args[0])
    hi = ev.scalar(node.args[1])
    return ev_merge([Series(lab.drop_name(s.labels), s.mask, np.minimum(hi, s.values))
                     for s in vec])


def _clamp_min(ev: Evaluator, node: Call) -> Value:
    vec = ev.vector(node.args[0])
    lo = ev.scalar(node.args[1])
    return ev_merge([Series(lab.drop_name(s.labels), s.mask, np.maximum(lo, s.values))
                     for s in vec])


def _round(ev: Evaluator, node: Call) -> Value:
    vec = ev.vector(node.args[0])
    nearest = ev.scalar(node.args[1]) if len(node.args) > 1 else np.ones(ev.n)
    with np.errstate(all="ignore"):
        inverse = 1.0 / nearest
        return ev_merge([Series(lab.drop_name(s.labels), s.mask,
                                np.floor(s.values * inverse + 0.5) / inverse) for s in vec])


def _timestamp(ev: Evaluator, node: Call) -> Value:
    vec = ev.vector(node.args[0])
    times = ev.steps.astype(np.float64) / 1000
    return ev_merge([Series(lab.drop_name(s.labels), s.mask, times) for s in vec])


def _sort(descending: bool) -> Callable[[Evaluator, Call], Value]:
    def fn(ev: Evaluator, node: Call) -> Value:
        vec = ev.vector(node.args[0])
        if ev.n != 1:
            return vec  # sorting means nothing to a range query
        from perflab.metrics._gocompat import go_sort  # noqa: PLC0415

        items = [s for s in vec if s.mask[0]]
        if descending:  # Go: sort.Reverse(byValueHeap) with NaN as "less"
            go_sort(items, lambda a, b: math.isnan(b.values[0]) or b.values[0] < a.values[0])
        else:
            go_sort(items, lambda a, b: math.isnan(b.values[0]) or b.values[0] > a.values[0])
        return items
    return fn


def _label_replace(ev: Evaluator, node: Call) -> Value:
    vec = ev.vector(node.args[0])
    dst, repl, src, regex_text = (_string(a) for a in node.args[1:5])
    regex = compile_regex(regex_text)
    if not lab.LABEL_NAME.match(dst):
        raise PromQLError(f"invalid destination label name in label_replace(): {dst}",
                          kind="execution")
    out = []
    for s in vec:
        value = lab.get(s.labels, src)
        match = regex.fullmatch(value)
        if match is None:
            out.append(s)
            continue
        res = go_expand(repl, match)
        out.append(Series(lab.with_label(s.labels, dst, res), s.mask, s.values))
    return ev_merge(out)


def _label_join(ev: Evaluator, node: Call) -> Value:
    vec = ev.vector(node.args[0])
    dst, sep = _string(node.args[1]), _string(node.args[2])
    srcs = [_string(a) for a in node.args[3:]]
    for src in srcs:
        if not lab.LABEL_NAME.match(src):
            raise PromQLError(f"invalid source label name in label_join(): {src}",
                              kind="execution")
    if not lab.LABEL_NAME.match(dst):
        raise PromQLError(f"invalid destination label name in label_join(): {dst}",
                          kind="execution")
    out = []
    for s in vec:
        joined = sep.join(lab.get(s.labels, src) for src in srcs)
        out.append(Series(lab.with_label(s.labels, dst, joined), s.mask, s.values))
    return ev_merge(out)


def _string(node: Node) -> str:
    node = _unparen(node)
    if not isinstance(node, StringLit):
        raise PromQLError("expected a string literal", kind="execution")
    return node.value


_GROUP_REF = re.compile(r"\$(\$|\{([a-zA-Z0-9_]+)\}|([a-zA-Z0-9_]+))")


def go_expand(template: str, match: re.Match[str]) -> str:
    """Go's ``Regexp.Expand``: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``; an unknown
    or unmatched group is the empty string (``$1x`` names the group ``1x``); a ``$`` that
    starts no reference stays as it is."""
    def ref(m: re.Match[str]) -> str:
        if m.group(1) == "$":
            return "$"
        name = m.group(2) if m.group(2) is not None else m.group(3)
        try:
            got = match.group(int(name)) if name.isdigit() else match.group(name)
        except IndexError:
            return ""
        return got or ""
    return _GROUP_REF.sub(ref, template)


def _date(getter: Callable[[dt.datetime], float]) -> Callable[[Evaluator, Call], Value]:
    def fn(ev: Evaluator, node: Call) -> Value:
        if not node.args:
            values = np.array([_date_value(getter, int(t) // 1000) for t in ev.steps])
            return [Series((), np.ones(ev.n, dtype=bool), values)]
        vec = ev.vector(node.args[0])
        out = []
        for s in vec:
            values = np.array([_date_value(getter, _to_int(v)) if m else 0.0
                               for v, m in zip(s.values, s.mask, strict=True)])
            out.append(Series(lab.drop_name(s.labels), s.mask, values))
        return ev_merge(out)
    return fn


def _to_int(value: float) -> int | None:
    if math.isnan(value) or math.isinf(value):
        return None
    return int(value)


def _date_value(getter: Callable[[dt.datetime], float], seconds: int | None) -> float:
    if seconds is None:
        return math.nan
    try:
        when = dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return math.nan
    return getter(when)


def _histogram_quantile(ev: Evaluator, node: Call) -> Value:
    q = ev.scalar(node.args[0])
    vec = ev.vector(node.args[1])
    bounds: list[float | None] = []
    keys: list[Labels] = []
    for s in vec:
        bounds.append(parse_bound(lab.get(s.labels, "le")))
        keys.append(lab.without(s.labels, ("le",)))
    pieces: dict[Labels, list[tuple[int, float]]] = {}
    order: list[Labels] = []
    from perflab.metrics._engine import _add_point, _pieces_to_series  # noqa: PLC0415

    for step in range(ev.n):
        groups: dict[Labels, list[tuple[float, float]]] = {}
        for s, bound, key in zip(vec, bounds, keys, strict=True):
            if bound is None or not s.mask[step]:
                continue
            groups.setdefault(key, []).append((bound, float(s.values[step])))
        for key, buckets in groups.items():
            metric = lab.without(key, (lab.NAME,))
            _add_point(pieces, order, metric, step, bucket_quantile(float(q[step]), buckets))
    return _pieces_to_series(pieces, order, ev.n)


def parse_bound(text: str) -> float | None:
    """A bucket's ``le`` as Go's ``strconv.ParseFloat`` reads it; None when it does not."""
    if not text or "_" in text or text != text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        return None


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus's ``bucketQuantile`` over (upper bound, cumulative count) pairs."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(buckets, key=lambda b: b[0])
    if not math.isinf(ordered[-1][0]) or ordered[-1][0] < 0:
        return math.nan
    merged: list[list[float]] = []
    for bound, count in ordered:  # coalesce equal bounds
        if merged and merged[-1][0] == bound:
            merged[-1][1] += count
        else:
            merged.append([bound, count])
    top = merged[0][1]
    for bucket in merged[1:]:  # ensure monotonic
        if bucket[1] > top:
            top = bucket[1]
        elif bucket[1] < top:
            bucket[1] = top
    if len(merged) < 2:
        return math.nan
    observations = merged[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = len(merged) - 1
    for i in range(len(merged) - 1):  # sort.Search: the first bucket holding the rank
        if merged[i][1] >= rank:
            b = i
            break
    if b == len(merged) - 1:
        return merged[-2][0]
    if b == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start = 0.0
    end = merged[b][0]
    count = merged[b][1]
    if b > 0:
        start = merged[b - 1][0]
        count -= merged[b - 1][1]
        rank -= merged[b - 1][1]
    return start + (end - start) * (rank / count)


def _native_only(ev: Evaluator, node: Call) -> Value:
    ev.vector(node.args[-1])
    return []  # native histograms are not stored: nothing to answer


def _sgn(values: FloatArray) -> FloatArray:
    return np.where(values < 0, -1.0, np.where(values > 0, 1.0, values))


INSTANT_FUNCTIONS: dict[str, Callable[[Evaluator, Call], Value]] = {
    "abs": _simple(np.abs),
    "ceil": _simple(np.ceil),
    "floor": _simple(np.floor),
    "exp": _simple(np.exp),
    "sqrt": _simple(np.sqrt),
    "ln": _simple(np.log),
    "log2": _simple(np.log2),
    "log10": _simple(np.log10),
    "sin": _simple(np.sin),
    "cos": _simple(np.cos),
    "tan": _simple(np.tan),
    "asin": _simple(np.arcsin),
    "acos": _simple(np.arccos),
    "atan": _simple(np.arctan),
    "sinh": _simple(np.sinh),
    "cosh": _simple(np.cosh),
    "tanh": _simple(np.tanh),
    "asinh": _simple(np.arcsinh),
    "acosh": _simple(np.arccosh),
    "atanh": _simple(np.arctanh),
    "rad": _simple(lambda v: v * math.pi / 180),
    "deg": _simple(lambda v: v * 180 / math.pi),
    "sgn": _simple(_sgn),
    "time": _time,
    "pi": _pi,
    "vector": _vector,
    "scalar": _scalar,
    "absent": _absent,
    "clamp": _clamp,
    "clamp_max": _clamp_max,
    "clamp_min": _clamp_min,
    "round": _round,
    "timestamp": _timestamp,
    "sort": _sort(descending=False),
    "sort_desc": _sort(descending=True),
    "label_replace": _label_replace,
    "label_join": _label_join,
    "histogram_quantile": _histogram_quantile,
    "histogram_count": _native_only,
    "histogram_sum": _native_only,
    "histogram_fraction": _native_only,
    "histogram_stddev": _native_only,
    "histogram_stdvar": _native_only,
    "days_in_month": _date(lambda t: float(calendar.monthrange(t.year, t.month)[1])),
    "day_of_month": _date(lambda t: float(t.day)),
    "day_of_week": _date(lambda t: float((t.weekday() + 1) % 7)),
    "day_of_year": _date(lambda t: float(t.timetuple().tm_yday)),
    "hour": _date(lambda t: float(t.hour)),
    "minute": _date(lambda t: float(t.minute)),
    "month": _date(lambda t: float(t.month)),
    "year": _date(lambda t: float(t.year)),
}
