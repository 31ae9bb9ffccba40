"""A runner for Prometheus's own PromQL test files (``promql/testdata/*.test``).

The format: ``load <step>`` then series (``_seriesdesc``), ``clear``, and
``eval[_fail|_ordered] instant at <time> <expr>`` then the expected samples (or one number for
a scalar). Each eval runs as Prometheus's ``test.go`` runs it: as an instant query, then as a
range query from a minute before to a minute after, whose point at the time must agree too.
Values agree within Prometheus's relative epsilon of 1e-6.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from perflab.metrics._ast import (
    Aggregate,
    At,
    Binary,
    Call,
    MatrixSel,
    Node,
    Paren,
    PromQLError,
    Subquery,
    Unary,
    VectorSel,
    parse,
)
from perflab.metrics._engine import InstantResult, QueryOptions, instant_query, range_query
from perflab.metrics._functions import AT_UNSAFE
from perflab.metrics._labels import Labels, format_labels
from perflab.metrics._seriesdesc import parse_number, parse_series
from perflab.metrics._values import MemoryQueryable

_EVAL = re.compile(r"^eval(?:_(fail|ordered))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
_LOAD = re.compile(r"^load\s+(.+?)$")
EPSILON = 1e-6
MIN_NORMAL = 2.2250738585072014e-308


@dataclass(slots=True)
class EvalCase:
    file: str
    line: int
    expr: str
    time_ms: int
    fail: bool
    ordered: bool
    scalar: float | None = None
    expected: list[tuple[Labels, float]] = field(default_factory=list)


@dataclass(slots=True)
class CaseResult:
    case: EvalCase
    ok: bool
    message: str = ""


def almost_equal(a: float, b: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    diff = abs(a - b)
    if a == 0 or b == 0 or diff < MIN_NORMAL:
        return diff < EPSILON * MIN_NORMAL
    return diff / (abs(a) + abs(b)) < EPSILON


def _duration_ms(text: str) -> int:
    from perflab.metrics._duration import parse_duration_ms  # noqa: PLC0415

    return parse_duration_ms(text)


def run_file(path: Path) -> list[CaseResult]:
    """Every eval of one test file, in order, with its outcome."""
    lines = [_strip(line) for line in path.read_text().splitlines()]
    store = MemoryQueryable()
    results: list[CaseResult] = []
    opts = QueryOptions(subquery_step_ms=60_000, max_samples=10_000_000)
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line:
            i += 1
            continue
        word = line.split(None, 1)[0].lower()
        if word == "clear":
            store.clear()
            i += 1
        elif word == "load":
            m = _LOAD.match(line)
            if m is None:
                raise PromQLError(f"{path}:{i + 1}: invalid load command")
            gap = _duration_ms(m.group(1))
            i += 1
            while i < len(lines) and lines[i]:
                desc = parse_series(lines[i])
                for k, value in enumerate(desc.values):
                    if value is not None:
                        store.add(desc.labels, k * gap, value)
                i += 1
        elif word.startswith("eval"):
            case, i = _parse_eval(path, lines, i)
            results.append(_run_case(store, case, opts))
        else:
            raise PromQLError(f"{path}:{i + 1}: invalid command {line!r}")
    return results


def _strip(line: str) -> str:
    s = line.strip()
    return "" if s.startswith("#") else s


def _parse_eval(path: Path, lines: list[str], i: int) -> tuple[EvalCase, int]:
    m = _EVAL.match(lines[i])
    if m is None:
        raise PromQLError(f"{path}:{i + 1}: invalid evaluation command")
    mod, at, expr = m.group(1), m.group(2), m.group(3)
    case = EvalCase(path.name, i + 1, expr, _duration_ms(at or "0s"), mod == "fail",
                    mod == "ordered")
    i += 1
    while i < len(lines) and lines[i]:
        text = lines[i]
        try:
            case.scalar = parse_number(text)
        except PromQLError:
            desc = parse_series(text)
            if len(desc.values) != 1 or desc.values[0] is None:
                raise PromQLError(f"{path}:{i + 1}: expected one value") from None
            case.expected.append((desc.labels, desc.values[0]))
        else:
            i += 1
            break
        i += 1
    return case, i


def _run_case(store: MemoryQueryable, case: EvalCase, opts: QueryOptions) -> CaseResult:
    """The case as written, then (as Prometheus's test.go does) with ``@ <time>`` added to
    every selector and evaluated at other times, which must give the same answer."""
    try:
        node = parse(case.expr)
    except PromQLError as exc:
        return CaseResult(case, ok=case.fail, message="" if case.fail else f"parse: {exc}")
    at_node, unsafe = _with_at(node, case.time_ms, pinned=False)
    runs = [(node, case.time_ms)]
    if not unsafe:
        ts = case.time_ms
        others = [-1000, 0, 1000] if ts == 0 else [-10 * ts, 0, ts // 5, ts, 10 * ts]
        runs.extend((at_node, t) for t in others)
    for query, at in runs:
        result = _run_one(store, dataclasses.replace(case, time_ms=at), query, opts)
        if not result.ok:
            if query is not node:
                shown = f"(with @ {case.time_ms / 1000:g}, at {at / 1000:g})"
                result.message = f"{shown} {result.message}"
            result.case = case
            return result
    return CaseResult(case, ok=True)


def _with_at(node: Node, ts: int, *, pinned: bool) -> tuple[Node, bool]:
    """``node`` with ``@ ts`` on every selector and subquery not pinned already; and whether it
    calls a function whose answer depends on the evaluation time."""
    def walk(n: Node, pinned: bool) -> tuple[Node, bool]:
        if isinstance(n, VectorSel):
            return (n if pinned or n.at is not None
                    else dataclasses.replace(n, at=At("at", ts))), False
        if isinstance(n, MatrixSel):
            sel, unsafe = walk(n.selector, pinned)
            assert isinstance(sel, VectorSel)
            return dataclasses.replace(n, selector=sel), unsafe
        if isinstance(n, Subquery):
            if pinned:  # Prometheus's test looks no further under a pinned subquery
                return n, False
            new = n if n.at is not None else dataclasses.replace(n, at=At("at", ts))
            inner, unsafe = walk(n.expr, pinned=True)
            return dataclasses.replace(new, expr=inner), unsafe
        if isinstance(n, Call):
            args = [walk(a, pinned) for a in n.args]
            return (dataclasses.replace(n, args=tuple(a for a, _ in args)),
                    (n.func in AT_UNSAFE and not pinned) or any(u for _, u in args))
        if isinstance(n, Aggregate):
            expr, u1 = walk(n.expr, pinned)
            param, u2 = walk(n.param, pinned) if n.param is not None else (None, False)
            return dataclasses.replace(n, expr=expr, param=param), u1 or u2
        if isinstance(n, Binary):
            lhs, u1 = walk(n.lhs, pinned)
            rhs, u2 = walk(n.rhs, pinned)
            return dataclasses.replace(n, lhs=lhs, rhs=rhs), u1 or u2
        if isinstance(n, (Unary, Paren)):
            inner, unsafe = walk(n.expr, pinned)
            return dataclasses.replace(n, expr=inner), unsafe
        return n, False

    return walk(node, pinned)


def _run_one(store: MemoryQueryable, case: EvalCase, node: Node,
             opts: QueryOptions) -> CaseResult:
    try:
        result = instant_query(store, node, case.time_ms, opts)
    except PromQLError as exc:
        if case.fail:
            return CaseResult(case, ok=True)
        return CaseResult(case, ok=False, message=f"instant: {exc}")
    except Exception as exc:  # a bug in the engine: reported, not raised, so the rest runs
        return CaseResult(case, ok=False, message=f"instant: {type(exc).__name__}: {exc}")
    if case.fail:
        return CaseResult(case, ok=False, message="expected an error, got none")
    problem = _compare(case, result)
    if problem:
        return CaseResult(case, ok=False, message=f"instant: {problem}")
    if node.type not in ("vector", "scalar"):
        return CaseResult(case, ok=True)
    try:
        matrix = range_query(store, node, case.time_ms - 60_000, case.time_ms + 60_000,
                             60_000, opts)
    except PromQLError as exc:
        return CaseResult(case, ok=False, message=f"range: {exc}")
    except Exception as exc:
        return CaseResult(case, ok=False, message=f"range: {type(exc).__name__}: {exc}")
    if case.ordered:
        return CaseResult(case, ok=True)
    at_time = [(labels, v) for labels, points in matrix for t, v in points
               if t == case.time_ms]
    if result.type == "scalar":
        got = InstantResult("scalar", scalar=at_time[0][1] if at_time else math.nan)
    else:
        got = InstantResult("vector", vector=at_time)
    problem = _compare(case, got)
    return CaseResult(case, ok=not problem, message=f"range: {problem}" if problem else "")


def _compare(case: EvalCase, result: InstantResult) -> str:
    if result.type == "matrix":
        return "received range result on instant evaluation"
    if result.type == "scalar":
        want = case.scalar if case.scalar is not None else math.nan
        if not almost_equal(want, result.scalar):
            return f"expected scalar {want} but got {result.scalar}"
        return ""
    if result.type != "vector":
        return f"unexpected result type {result.type}"
    expected = {labels: (pos, value) for pos, (labels, value) in enumerate(case.expected, 1)}
    seen = set()
    for pos, (labels, value) in enumerate(result.vector, 1):
        if labels not in expected:
            return f"unexpected metric {format_labels(labels)} in result"
        want_pos, want = expected[labels]
        if case.ordered and want_pos != pos:
            return (f"expected metric {format_labels(labels)} at position {want_pos} but was "
                    f"at {pos}")
        if not almost_equal(want, value):
            return f"expected {want} for {format_labels(labels)} but got {value}"
        seen.add(labels)
    for labels in expected:
        if labels not in seen:
            return f"expected metric {format_labels(labels)} not found"
    return ""
