"""PromQL evaluation: Prometheus 2.x semantics over any ``Queryable`` (the store, or memory).

``instant_query`` and ``range_query`` are the entry points. An evaluation walks the syntax tree
once (``Evaluator.eval``); every node is computed for all the steps of the query at once, as
numpy arrays where Prometheus's arithmetic allows it and step by step where order or ties
matter (``topk``, ``quantile``, ``count_values``, vector matching with duplicates). The rules
are Prometheus's (``promql/engine.go`` of v2.42):

- an instant vector selector takes, at each step, the newest sample at or before the step (less
  the ``offset``, or at the ``@`` time) and no older than the lookback delta (5 m), unless that
  sample is a staleness marker;
- a range selector takes the samples in ``[t - range, t]`` (both ends included), markers left
  out; ``rate`` and friends extrapolate as ``extrapolatedRate`` does;
- a subquery evaluates its expression at steps aligned to its step (the default step is the
  evaluation interval) and hands the results to its function as samples;
- results of a range query come sorted by labels; those of an instant query in the order
  Prometheus produces them (``sort``, ``topk`` ...).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from perflab.gotemplate import format_float_f
from perflab.metrics import _functions
from perflab.metrics import _labels as lab
from perflab.metrics._ast import (
    COMPARISON_OPS,
    Aggregate,
    At,
    Binary,
    Call,
    MatrixSel,
    Node,
    NumberLit,
    Paren,
    PromQLError,
    StringLit,
    Subquery,
    Unary,
    VectorSel,
    parse,
)
from perflab.metrics._gocompat import go_sort, heap_pop, heap_push
from perflab.metrics._labels import Labels
from perflab.metrics._rangefuncs import Windows, quantile
from perflab.metrics._values import FloatArray, Queryable, RawSeries, Series

DEFAULT_LOOKBACK_MS = 5 * 60 * 1000
DEFAULT_MAX_SAMPLES = 50_000_000  # Prometheus's --query.max-samples
DEFAULT_SUBQUERY_STEP_MS = 60_000  # the global evaluation interval Prometheus would use
MAX_STEPS = 11_000  # Prometheus refuses range queries of more points per series

Value = list[Series] | FloatArray | str


@dataclass(frozen=True, slots=True)
class QueryOptions:
    lookback_ms: int = DEFAULT_LOOKBACK_MS
    max_samples: int = DEFAULT_MAX_SAMPLES
    subquery_step_ms: int = DEFAULT_SUBQUERY_STEP_MS
    deadline: float | None = None  # time.monotonic() after which the query stops


@dataclass(frozen=True, slots=True)
class InstantResult:
    """``type``: vector, scalar, matrix or string (the API's resultType)."""

    type: str
    vector: list[tuple[Labels, float]] = field(default_factory=list)
    matrix: list[tuple[Labels, list[tuple[int, float]]]] = field(default_factory=list)
    scalar: float = 0.0
    string: str = ""
    time_ms: int = 0


def instant_query(queryable: Queryable, query: str | Node, time_ms: int,
                  options: QueryOptions | None = None) -> InstantResult:
    node = parse(query) if isinstance(query, str) else query
    opts = options or QueryOptions()
    ev = Evaluator(queryable, time_ms, time_ms, 1, opts, query_start=time_ms, query_end=time_ms)
    inner = _unparen(node)
    if isinstance(inner, (MatrixSel, Subquery)):
        raws = ev.range_source(inner)[0]
        out = []
        for raw in raws:
            refs = ev.refs(inner.at if isinstance(inner, Subquery) else inner.selector.at,
                           inner.offset_ms if isinstance(inner, Subquery)
                           else inner.selector.offset_ms)
            maxt = int(refs[0])
            mint = maxt - inner.range_ms
            lo = int(np.searchsorted(raw.ts, mint, "left"))
            hi = int(np.searchsorted(raw.ts, maxt, "right"))
            if hi > lo:
                out.append((raw.labels, [(int(t), float(v)) for t, v in
                                         zip(raw.ts[lo:hi], raw.values[lo:hi], strict=True)]))
        return InstantResult("matrix", matrix=out, time_ms=time_ms)
    value = ev.eval(node)
    if isinstance(value, str):
        return InstantResult("string", string=value, time_ms=time_ms)
    if isinstance(value, np.ndarray):
        return InstantResult("scalar", scalar=float(value[0]), time_ms=time_ms)
    return InstantResult("vector", vector=[(s.labels, float(s.values[0])) for s in value
                                           if s.mask[0]], time_ms=time_ms)


def range_query(queryable: Queryable, query: str | Node, start_ms: int, end_ms: int,  # noqa: PLR0917  # Prometheus's order
                step_ms: int, options: QueryOptions | None = None,
                ) -> list[tuple[Labels, list[tuple[int, float]]]]:
    """The matrix of a range query: series sorted by labels, each with its (ms, value)."""
    node = parse(query) if isinstance(query, str) else query
    if step_ms <= 0:
        raise PromQLError("zero or negative query resolution step widths are not accepted. "
                          "Try a positive integer")
    if end_ms < start_ms:
        raise PromQLError("end timestamp must not be before start time")
    if (end_ms - start_ms) // step_ms + 1 > MAX_STEPS:
        raise PromQLError("exceeded maximum resolution of 11,000 points per timeseries. Try "
                          "decreasing the query resolution (?step=XX)")
    if node.type not in ("vector", "scalar"):
        kind = {"matrix": "range vector", "string": "string"}[node.type]
        raise PromQLError(f'invalid expression type "{kind}" for range query, must be Scalar '
                          "or instant Vector")
    opts = options or QueryOptions()
    ev = Evaluator(queryable, start_ms, end_ms, step_ms, opts, query_start=start_ms,
                   query_end=end_ms)
    value = ev.eval(node)
    if isinstance(value, np.ndarray):
        value = [Series((), np.ones(len(value), dtype=bool), value)]
    assert isinstance(value, list)
    out = []
    steps = [int(t) for t in ev.steps]
    for s in sorted(value, key=lambda s: s.labels):
        points = [(steps[i], float(s.values[i])) for i in np.flatnonzero(s.mask)]
        if points:
            out.append((s.labels, points))
    return out


def _unparen(node: Node) -> Node:
    while isinstance(node, Paren):
        node = node.expr
    return node


class Evaluator:
    """Evaluates expressions over the steps ``start, start + step, ..., <= end`` (ms)."""

    def __init__(self, queryable: Queryable, start: int, end: int, step: int,
                 options: QueryOptions, *, query_start: int, query_end: int) -> None:
        self.q = queryable
        self.start, self.end, self.step = start, end, step
        self.steps = np.arange(start, end + 1, step, dtype=np.int64)
        self.n = len(self.steps)
        self.opts = options
        self.query_start, self.query_end = query_start, query_end
        self.samples = 0

    # -- bookkeeping ---------------------------------------------------------------------------

    def check(self) -> None:
        if self.opts.deadline is not None and time.monotonic() > self.opts.deadline:
            raise PromQLError("query timed out in expression evaluation", kind="timeout")

    def count(self, n: int) -> None:
        self.samples += n
        if self.samples > self.opts.max_samples:
            raise PromQLError("query processing would load too many samples into memory in "
                              "query execution", kind="execution")

    def select(self, sel: VectorSel, mint: int, maxt: int) -> list[RawSeries]:
        self.check()
        raws = self.q.select(sel.matchers, mint, maxt)
        self.count(sum(len(r.ts) for r in raws))
        return [r for r in raws if len(r.ts)]

    def child(self, start: int, end: int, step: int) -> Evaluator:
        ev = Evaluator(self.q, start, end, step, self.opts, query_start=self.query_start,
                       query_end=self.query_end)
        ev.samples = self.samples
        return ev

    def at_ms(self, at: At) -> int:
        if at.kind == "start":
            return self.query_start
        if at.kind == "end":
            return self.query_end
        return at.ms

    def refs(self, at: At | None, offset_ms: int) -> np.ndarray:
        """The time each step reads at: the step (or the ``@`` time), less the offset."""
        if at is None:
            return self.steps - offset_ms
        return np.full(self.n, self.at_ms(at) - offset_ms, dtype=np.int64)

    # -- the walk --------------------------------------------------------------------------------

    def eval(self, node: Node) -> Value:  # one branch per node type
        self.check()
        if isinstance(node, NumberLit):
            return np.full(self.n, node.value, dtype=np.float64)
        if isinstance(node, StringLit):
            return node.value
        if isinstance(node, Paren):
            return self.eval(node.expr)
        if isinstance(node, Unary):
            return self._unary(node)
        if isinstance(node, VectorSel):
            return self.vector_selector(node)
        if isinstance(node, Call):
            return _functions.call(self, node)
        if isinstance(node, Aggregate):
            return self._aggregate(node)
        if isinstance(node, Binary):
            return self._binary(node)
        if isinstance(node, (MatrixSel, Subquery)):
            raise PromQLError("cannot do range evaluation of a range vector here",
                              kind="execution")
        raise PromQLError(f"unhandled expression of type {type(node).__name__}")

    def vector(self, node: Node) -> list[Series]:
        value = self.eval(node)
        if not isinstance(value, list):
            raise PromQLError("expected an instant vector", kind="execution")
        return value

    def scalar(self, node: Node) -> FloatArray:
        value = self.eval(node)
        if not isinstance(value, np.ndarray):
            raise PromQLError("expected a scalar", kind="execution")
        return value

    def _unary(self, node: Unary) -> Value:
        value = self.eval(node.expr)
        if isinstance(value, np.ndarray):
            return -value
        assert isinstance(value, list)
        return merge([Series(lab.drop_name(s.labels), s.mask, -s.values) for s in value])

    # -- selectors -----------------------------------------------------------------------------

    def vector_selector(self, sel: VectorSel, *, with_times: bool = False) -> list[Series]:
        refs = self.refs(sel.at, sel.offset_ms)
        lookback = self.opts.lookback_ms
        raws = self.select(sel, int(refs.min()) - lookback, int(refs.max()))
        out = []
        for raw in raws:
            idx = np.searchsorted(raw.ts, refs, "right") - 1
            ok = idx >= 0
            idx = np.where(ok, idx, 0)
            ok &= raw.ts[idx] >= refs - lookback
            ok &= ~raw.stale[idx]
            if not ok.any():
                continue
            values = (raw.ts[idx].astype(np.float64) / 1000 if with_times
                      else raw.values[idx])
            out.append(Series(raw.labels, ok, values))
        return out

    def range_source(self, node: Node, *, moving_at: bool = False,
                     ) -> tuple[list[RawSeries], np.ndarray, int]:
        """The samples a range-vector argument covers: (series without staleness markers, the
        window end per step, the range). ``moving_at``: Prometheus moves the window of an
        ``@`` range selector with the step under the functions whose result depends on the
        evaluation time (``predict_linear``); reproduced for the same answers."""
        node = _unparen(node)
        if isinstance(node, MatrixSel):
            sel = node.selector
            if moving_at and sel.at is not None:
                refs = self.steps - sel.offset_ms - self.start + self.at_ms(sel.at)
            else:
                refs = self.refs(sel.at, sel.offset_ms)
            raws = self.select(sel, int(refs.min()) - node.range_ms, int(refs.max()))
            return [r.without_stale() for r in raws], refs, node.range_ms
        if isinstance(node, Subquery):
            refs = self.refs(node.at, node.offset_ms)
            step = node.step_ms or self.opts.subquery_step_ms
            lo = int(refs.min()) - node.range_ms
            start = step * (lo // step)
            if start < lo:
                start += step
            end = int(refs.max())
            if end < start:
                return [], refs, node.range_ms
            child = self.child(start, end, step)
            inner = child.vector(node.expr)
            self.samples = child.samples
            raws = []
            for s in inner:
                idx = np.flatnonzero(s.mask)
                if len(idx):
                    raws.append(RawSeries(s.labels, child.steps[idx], s.values[idx],
                                          np.zeros(len(idx), dtype=bool)))
            return raws, refs, node.range_ms
        raise PromQLError("expected a range vector", kind="execution")

    def windows(self, raw: RawSeries, refs: np.ndarray, range_ms: int) -> Windows:
        mint = refs - range_ms
        return Windows(raw.ts, raw.values, np.searchsorted(raw.ts, mint, "left"),
                       np.searchsorted(raw.ts, refs, "right"), mint, refs, self.steps, range_ms)

    # -- aggregation ---------------------------------------------------------------------------

    def _aggregate(self, node: Aggregate) -> list[Series]:
        op = node.op
        grouping = tuple(sorted(node.grouping))
        param: Any = None
        if node.param is not None:
            param = self.eval(node.param)
        vec = self.vector(node.expr)
        if op == "count_values":
            assert isinstance(param, str)
            return self._count_values(vec, param, grouping, node.without)
        keys: list[Labels] = []
        groups: dict[Labels, Labels] = {}
        for s in vec:
            if node.without:
                key = lab.without(s.labels, (*grouping, lab.NAME))
                groups.setdefault(key, key)
            else:
                key = lab.keep(s.labels, grouping)
                groups.setdefault(key, key)
            keys.append(key)
        if op in ("topk", "bottomk", "quantile"):
            assert isinstance(param, np.ndarray)
            return self._aggregate_stepwise(op, vec, keys, groups, param)
        return _aggregate_arrays(op, vec, keys, self.n)

    def _aggregate_stepwise(self, op: str, vec: list[Series], keys: list[Labels],
                            groups: dict[Labels, Labels], param: FloatArray) -> list[Series]:
        pieces: dict[Labels, list[tuple[int, float]]] = {}
        order: list[Labels] = []
        for step in range(self.n):
            present = [(i, s) for i, s in enumerate(vec) if s.mask[step]]
            if not present:
                continue
            if op == "quantile":
                q = float(param[step])
                by_group: dict[Labels, list[float]] = {}
                for i, s in present:
                    by_group.setdefault(keys[i], []).append(float(s.values[step]))
                for key, values in by_group.items():
                    _add_point(pieces, order, groups[key], step, quantile(q, values))
                continue
            f = float(param[step])
            if not -9.2e18 <= f <= 9.2e18 or math.isnan(f):
                raise PromQLError(f"Scalar value {format_float_f(f)} overflows int64",
                                  kind="execution")
            k = int(f)
            if k < 1:
                continue
            heaps: dict[Labels, list[tuple[float, Labels]]] = {}
            if op == "topk":
                def less(a: tuple[float, Labels], b: tuple[float, Labels]) -> bool:
                    return math.isnan(a[0]) or a[0] < b[0]
            else:
                def less(a: tuple[float, Labels], b: tuple[float, Labels]) -> bool:
                    return math.isnan(a[0]) or a[0] > b[0]
            for i, s in present:
                item = (float(s.values[step]), s.labels)
                heap = heaps.get(keys[i])
                if heap is None:
                    heaps[keys[i]] = [item]
                    continue
                top = heap[0][0]
                better = (item[0] > top) if op == "topk" else (item[0] < top)
                if len(heap) < k or better or math.isnan(top):
                    if len(heap) == k:
                        if k == 1:
                            heap[0] = item
                            continue
                        heap_pop(heap, less)
                    heap_push(heap, item, less)
            for heap in heaps.values():
                if len(heap) > 1:
                    go_sort(heap, lambda a, b: less(b, a))
                for value, labels in heap:
                    _add_point(pieces, order, labels, step, value)
        return _pieces_to_series(pieces, order, self.n)

    def _count_values(self, vec: list[Series], label: str, grouping: tuple[str, ...],
                      without: bool) -> list[Series]:
        if not lab.LABEL_NAME.match(label):
            raise PromQLError(f'invalid label name "{label}"', kind="execution")
        pieces: dict[Labels, list[tuple[int, float]]] = {}
        order: list[Labels] = []
        for step in range(self.n):
            counts: dict[Labels, int] = {}
            for s in vec:
                if not s.mask[step]:
                    continue
                metric = lab.with_label(s.labels, label, format_float_f(float(s.values[step])))
                if without:
                    key = lab.without(metric, (*grouping, lab.NAME))
                else:
                    key = lab.keep(metric, (*grouping, label))
                counts[key] = counts.get(key, 0) + 1
            for key, n in counts.items():
                _add_point(pieces, order, key, step, float(n))
        return _pieces_to_series(pieces, order, self.n)

    # -- binary operators ----------------------------------------------------------------------

    def _binary(self, node: Binary) -> Value:
        lhs = self.eval(node.lhs)
        rhs = self.eval(node.rhs)
        op = node.op
        if isinstance(lhs, np.ndarray) and isinstance(rhs, np.ndarray):
            return _scalar_op(op, lhs, rhs, comparison_as_bool=True)
        if isinstance(lhs, list) and isinstance(rhs, np.ndarray):
            return _vector_scalar(op, lhs, rhs, swap=False, return_bool=node.return_bool)
        if isinstance(lhs, np.ndarray) and isinstance(rhs, list):
            return _vector_scalar(op, rhs, lhs, swap=True, return_bool=node.return_bool)
        if isinstance(lhs, list) and isinstance(rhs, list):
            if op in ("and", "or", "unless"):
                return _set_op(op, lhs, rhs, node, self.n)
            return _vector_vector(op, lhs, rhs, node, self.n)
        raise PromQLError("binary expression must contain only scalar and instant vector types")


# -- helpers shared with the functions ---------------------------------------------------------

def merge(series: list[Series], message: str = "vector cannot contain metrics with the same "
          "labelset") -> list[Series]:
    """Join series of the same labels into one (Prometheus builds its output series by label
    hash); two present at the same step is the error Prometheus raises."""
    seen: dict[Labels, int] = {}
    out: list[Series] = []
    for s in series:
        if not s.mask.any():
            continue
        i = seen.get(s.labels)
        if i is None:
            seen[s.labels] = len(out)
            out.append(s)
            continue
        first = out[i]
        if (first.mask & s.mask).any():
            raise PromQLError(message, kind="execution")
        out[i] = Series(first.labels, first.mask | s.mask,
                        np.where(s.mask, s.values, first.values))
    return out


def _add_point(pieces: dict[Labels, list[tuple[int, float]]], order: list[Labels],
               labels: Labels, step: int, value: float) -> None:
    points = pieces.get(labels)
    if points is None:
        pieces[labels] = points = []
        order.append(labels)
    elif points[-1][0] == step:
        raise PromQLError("vector cannot contain metrics with the same labelset",
                          kind="execution")
    points.append((step, value))


def _pieces_to_series(pieces: dict[Labels, list[tuple[int, float]]], order: list[Labels],
                      n: int) -> list[Series]:
    out = []
    for labels in order:
        mask = np.zeros(n, dtype=bool)
        values = np.zeros(n, dtype=np.float64)
        for step, value in pieces[labels]:
            mask[step] = True
            values[step] = value
        out.append(Series(labels, mask, values))
    return out


def _aggregate_arrays(op: str, vec: list[Series], keys: list[Labels], n: int) -> list[Series]:
    """sum, avg, count, min, max, group, stddev, stdvar: every step at once, adding the series
    in the order Prometheus adds them, so the float sums are the same."""
    order: list[Labels] = []
    members: dict[Labels, list[Series]] = {}
    for s, key in zip(vec, keys, strict=True):
        if key not in members:
            members[key] = []
            order.append(key)
        members[key].append(s)
    out = []
    with np.errstate(all="ignore"):
        for key in order:
            started = np.zeros(n, dtype=bool)
            value = np.zeros(n)
            mean = np.zeros(n)
            count = np.zeros(n)
            for s in members[key]:
                m, v = s.mask, s.values
                first = m & ~started
                rest = m & started
                if op == "sum":
                    value = np.where(first, v, np.where(rest, value + v, value))
                elif op in ("max", "min"):
                    better = (value < v) if op == "max" else (value > v)
                    value = np.where(first | (rest & (better | np.isnan(value))), v, value)
                elif op in ("count", "group"):
                    count = count + m
                elif op == "avg":
                    count = count + m
                    inf_mean = np.isinf(mean)
                    skip = inf_mean & ((np.isinf(v) & ((mean > 0) == (v > 0)))
                                       | (~np.isinf(v) & ~np.isnan(v)))
                    updated = mean + (v / count - mean / count)
                    mean = np.where(first, v, np.where(rest & ~skip, updated, mean))
                elif op in ("stddev", "stdvar"):
                    count = count + m
                    delta = v - mean
                    new_mean = mean + delta / count
                    new_value = value + delta * (v - new_mean)
                    value = np.where(first, 0.0, np.where(rest, new_value, value))
                    mean = np.where(first, v, np.where(rest, new_mean, mean))
                else:
                    raise PromQLError(f"unsupported aggregation {op!r}")
                started |= m
            if op == "count":
                value = count
            elif op == "group":
                value = np.ones(n)
            elif op == "avg":
                value = mean
            elif op == "stdvar":
                value = value / count
            elif op == "stddev":
                value = np.sqrt(value / count)
            if started.any():
                out.append(Series(key, started, value))
    return out


def _scalar_op(op: str, a: np.ndarray, b: np.ndarray, *,
               comparison_as_bool: bool) -> np.ndarray:
    with np.errstate(all="ignore"):
        if op in _ARITHMETIC:
            return np.asarray(_ARITHMETIC[op](a, b))
        if op in COMPARISON_OPS:
            result = _compare(op, a, b)
            return result.astype(np.float64) if comparison_as_bool else result
    raise PromQLError(f"operator {op!r} not allowed for scalar operations")


_ARITHMETIC: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "^": np.power,
    "%": np.fmod, "atan2": np.arctan2,
}


def _compare(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if op == "==":
        return np.asarray(a == b)
    if op == "!=":
        return np.asarray(a != b)
    if op == ">":
        return np.asarray(a > b)
    if op == "<":
        return np.asarray(a < b)
    if op == ">=":
        return np.asarray(a >= b)
    return np.asarray(a <= b)


_DROPS_NAME = frozenset({"+", "-", "*", "/", "^", "%"})  # not atan2, as in Prometheus


def _vector_scalar(op: str, vec: list[Series], scalar: np.ndarray, *, swap: bool,
                   return_bool: bool) -> list[Series]:
    out = []
    for s in vec:
        lv, rv = (scalar, s.values) if swap else (s.values, scalar)
        mask = s.mask
        if op in COMPARISON_OPS:
            keep = _compare(op, lv, rv)
            if return_bool:
                values = keep.astype(np.float64)
            else:
                values = s.values
                mask = mask & keep
        else:
            values = _scalar_op(op, lv, rv, comparison_as_bool=False)
        labels = s.labels
        if op in _DROPS_NAME or return_bool:
            labels = lab.drop_name(labels)
        out.append(Series(labels, mask, values))
    return merge(out)


def _signature(labels: Labels, on: bool, names: Sequence[str]) -> Labels:
    if on:
        return lab.keep(labels, names)
    return lab.without(labels, (*names, lab.NAME))


def _set_op(op: str, lhs: list[Series], rhs: list[Series], node: Binary,
            n: int) -> list[Series]:
    def sig(s: Series) -> Labels:
        return _signature(s.labels, node.on, node.matching)

    rhs_any: dict[Labels, np.ndarray] = {}
    for s in rhs:
        key = sig(s)
        rhs_any[key] = rhs_any.get(key, np.zeros(n, dtype=bool)) | s.mask
    none = np.zeros(n, dtype=bool)
    if op == "and":
        return [Series(s.labels, s.mask & rhs_any.get(sig(s), none), s.values) for s in lhs
                if (s.mask & rhs_any.get(sig(s), none)).any()]
    if op == "unless":
        return [Series(s.labels, s.mask & ~rhs_any.get(sig(s), none), s.values) for s in lhs
                if (s.mask & ~rhs_any.get(sig(s), none)).any()]
    lhs_any: dict[Labels, np.ndarray] = {}
    for s in lhs:
        key = sig(s)
        lhs_any[key] = lhs_any.get(key, np.zeros(n, dtype=bool)) | s.mask
    out = list(lhs)
    out.extend(Series(s.labels, s.mask & ~lhs_any.get(sig(s), none), s.values) for s in rhs)
    return merge(out)


def _vector_vector(op: str, lhs: list[Series], rhs: list[Series], node: Binary,
                   n: int) -> list[Series]:
    card = node.card
    if card == "many-to-many":
        raise PromQLError("many-to-many only allowed for set operators", kind="execution")
    many, one = (rhs, lhs) if card == "one-to-many" else (lhs, rhs)
    swapped = card == "one-to-many"
    one_by_sig: dict[Labels, list[Series]] = {}
    for s in one:
        one_by_sig.setdefault(_signature(s.labels, node.on, node.matching), []).append(s)
    many_any = np.zeros(n, dtype=bool)
    for s in many:
        many_any |= s.mask
    for sig, group in one_by_sig.items():
        if len(group) > 1:
            # Prometheus looks at a step only when both sides have samples there
            present = np.sum([g.mask for g in group], axis=0) * many_any
            if (present > 1).any():
                step = int(np.flatnonzero(present > 1)[0])
                dupes = [g for g in group if g.mask[step]]
                side = "left" if swapped else "right"
                raise PromQLError(
                    f"found duplicate series for the match group {lab.format_labels(sig)} on the "
                    f"{side} hand-side of the operation: [{lab.format_labels(dupes[0].labels)}, "
                    f"{lab.format_labels(dupes[1].labels)}];many-to-many matching not allowed: "
                    "matching labels must be unique on one side", kind="execution")
    pieces: list[Series] = []
    matched_count: dict[Labels, np.ndarray] = {}
    cache: dict[tuple[Labels, Labels], Labels] = {}
    for ls in many:
        sig = _signature(ls.labels, node.on, node.matching)
        for rs in one_by_sig.get(sig, ()):
            both = ls.mask & rs.mask
            if not both.any():
                continue
            vl, vr = (rs.values, ls.values) if swapped else (ls.values, rs.values)
            mask = both
            if op in COMPARISON_OPS:
                keep = _compare(op, vl, vr)
                if node.return_bool:
                    values = keep.astype(np.float64)
                else:
                    values = vl
                    mask = both & keep
            else:
                values = _scalar_op(op, vl, vr, comparison_as_bool=False)
            if not mask.any():
                continue
            if card == "one-to-one":  # counted after filtering, as Prometheus does
                count = matched_count.get(sig)
                count = mask.astype(np.int64) if count is None else count + mask
                matched_count[sig] = count
                if (count > 1).any():
                    raise PromQLError("multiple matches for labels: many-to-one matching must be "
                                      "explicit (group_left/group_right)", kind="execution")
            metric = cache.get((ls.labels, rs.labels))
            if metric is None:
                metric = _result_metric(ls.labels, rs.labels, op, node)
                cache[(ls.labels, rs.labels)] = metric
            pieces.append(Series(metric, mask, values))
    message = ("multiple matches for labels: grouping labels must ensure unique matches"
               if card != "one-to-one" else "vector cannot contain metrics with the same "
               "labelset")
    return merge(pieces, message)


def _result_metric(lhs: Labels, rhs: Labels, op: str, node: Binary) -> Labels:
    labels = dict(lhs)
    if op in _DROPS_NAME:
        labels.pop(lab.NAME, None)
    if node.card == "one-to-one":
        if node.on:
            labels = {k: v for k, v in labels.items() if k in node.matching}
        else:
            for name in node.matching:
                labels.pop(name, None)
    other = dict(rhs)
    for name in node.include:
        value = other.get(name, "")
        if value:
            labels[name] = value
        else:
            labels.pop(name, None)
    if node.return_bool:
        labels.pop(lab.NAME, None)
    return lab.from_dict(labels)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    return fn(), time.perf_counter() - t0
