"""Trace diff beyond Jaeger's structural compare: which operations account for the latency
difference between two traces, or two groups of traces, by their share of the critical path.

Each trace is reduced to the critical-path time of each operation (service + span name). A group
is the mean over its traces. The difference of an operation is B's mean minus A's; its share is
that difference over the difference of the groups' mean critical-path lengths (the end-to-end
latencies): the shares of all operations add up to 100 %, so "api GET /items: +38 ms, 91 %"
reads as "this is where the time went".

The differential waterfall aligns spans by their path from the root (``frontend GET / >
api GET /items > store SELECT``, with the repetition index for siblings of the same name) and
shows each path's mean offset and duration in A and in B, with its critical-path time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perflab.trace._critical import critical_path

if TYPE_CHECKING:
    from collections.abc import Sequence

    from perflab.trace._contracts import ApiTraceDiffOp, ApiTraceDiffRow, TraceDiffFigures
    from perflab.trace._model import Trace

OpKey = tuple[str, str]  # service, span name


@dataclass(frozen=True, slots=True)
class OpDiff:
    service: str
    operation: str
    a_ns: float  # mean critical-path time per trace in A
    b_ns: float
    a_spans: float  # mean spans of this operation per trace
    b_spans: float
    share: float | None  # of the latency difference; None when the groups' latencies are equal

    @property
    def delta_ns(self) -> float:
        return self.b_ns - self.a_ns

    def to_json(self) -> ApiTraceDiffOp:
        return {"service": self.service, "operation": self.operation, "a_ns": self.a_ns,
                "b_ns": self.b_ns, "delta_ns": self.delta_ns, "a_spans": self.a_spans,
                "b_spans": self.b_spans, "share": self.share}


@dataclass(frozen=True, slots=True)
class PathRow:
    """One row of the differential waterfall."""

    path: str
    depth: int
    service: str
    operation: str
    a_offset_ns: float | None  # mean start after the trace's start; None: absent in A
    a_duration_ns: float | None
    b_offset_ns: float | None
    b_duration_ns: float | None
    a_critical_ns: float
    b_critical_ns: float

    def to_json(self) -> ApiTraceDiffRow:
        return {"path": self.path, "depth": self.depth, "service": self.service,
                "operation": self.operation, "a_offset_ns": self.a_offset_ns,
                "a_duration_ns": self.a_duration_ns, "b_offset_ns": self.b_offset_ns,
                "b_duration_ns": self.b_duration_ns, "a_critical_ns": self.a_critical_ns,
                "b_critical_ns": self.b_critical_ns}


@dataclass(frozen=True, slots=True)
class TraceDiff:
    a_traces: int
    b_traces: int
    a_latency_ns: float  # mean critical-path length (= root duration)
    b_latency_ns: float
    ops: list[OpDiff]
    rows: list[PathRow]

    def to_json(self) -> TraceDiffFigures:
        return {"a": {"traces": self.a_traces, "latency_ns": self.a_latency_ns},
                "b": {"traces": self.b_traces, "latency_ns": self.b_latency_ns},
                "delta_ns": self.b_latency_ns - self.a_latency_ns,
                "operations": [o.to_json() for o in self.ops],
                "waterfall": [r.to_json() for r in self.rows]}


@dataclass
class _Profile:
    """What one trace contributes: critical time and span count per operation, and its
    spans by path."""

    latency: int
    critical: dict[OpKey, int]
    spans: dict[OpKey, int]
    paths: dict[str, tuple[int, str, str, int, int, int]]  # depth, service, op, offset, dur, cp


def _profile(trace: Trace) -> _Profile:
    sections = critical_path(trace)
    by_span = {s.span_id: s for s in trace.spans}
    per_span: dict[bytes, int] = {}
    for sec in sections:
        per_span[sec.span_id] = per_span.get(sec.span_id, 0) + sec.duration_ns
    critical: dict[OpKey, int] = {}
    for sid, ns in per_span.items():
        s = by_span[sid]
        key = (s.service, s.name)
        critical[key] = critical.get(key, 0) + ns
    spans: dict[OpKey, int] = {}
    for s in trace.spans:
        key = (s.service, s.name)
        spans[key] = spans.get(key, 0) + 1
    return _Profile(sum(sec.duration_ns for sec in sections), critical, spans,
                    _paths(trace, per_span))


def _paths(trace: Trace, per_span: dict[bytes, int]) -> dict[str, tuple[int, str, str, int,
                                                                         int, int]]:
    root = trace.root()
    if root is None:
        return {}
    children: dict[bytes, list[Any]] = {}
    for s in trace.spans:
        if s.parent_id is not None:
            children.setdefault(s.parent_id, []).append(s)
    out: dict[str, tuple[int, str, str, int, int, int]] = {}
    t0 = root.start_ns
    stack = [(root, f"{root.service} {root.name}", 0)]
    seen = set()
    while stack:
        span, path, depth = stack.pop()
        if span.span_id in seen:
            continue
        seen.add(span.span_id)
        out[path] = (depth, span.service, span.name, span.start_ns - t0, span.duration_ns,
                     per_span.get(span.span_id, 0))
        counts: dict[str, int] = {}
        for c in children.get(span.span_id, ()):
            label = f"{c.service} {c.name}"
            n = counts[label] = counts.get(label, 0) + 1
            stack.append((c, f"{path} > {label}" + (f" #{n}" if n > 1 else ""), depth + 1))
    return out


def diff_groups(a: Sequence[Trace], b: Sequence[Trace]) -> TraceDiff:
    """The diff of two groups of traces (a group of one is a trace)."""
    pa, pb = [_profile(t) for t in a], [_profile(t) for t in b]
    lat_a = _mean([p.latency for p in pa])
    lat_b = _mean([p.latency for p in pb])
    delta = lat_b - lat_a
    keys = sorted({k for p in pa + pb for k in p.critical} | {k for p in pa + pb
                                                                for k in p.spans})
    ops = []
    for key in keys:
        ca = _mean([p.critical.get(key, 0) for p in pa])
        cb = _mean([p.critical.get(key, 0) for p in pb])
        ops.append(OpDiff(key[0], key[1], ca, cb, _mean([p.spans.get(key, 0) for p in pa]),
                          _mean([p.spans.get(key, 0) for p in pb]),
                          None if delta == 0 else (cb - ca) / delta))
    ops.sort(key=lambda o: (-abs(o.delta_ns), o.service, o.operation))
    return TraceDiff(len(a), len(b), lat_a, lat_b, ops, _rows(pa, pb))


def _rows(pa: list[_Profile], pb: list[_Profile]) -> list[PathRow]:
    paths: dict[str, tuple[int, str, str]] = {}
    for p in pa + pb:
        for path, (depth, svc, op, *_rest) in p.paths.items():
            paths.setdefault(path, (depth, svc, op))

    def stats(group: list[_Profile], path: str) -> tuple[float | None, float | None, float]:
        hits = [p.paths[path] for p in group if path in p.paths]
        if not hits:
            return None, None, 0.0
        return (_mean([h[3] for h in hits]), _mean([h[4] for h in hits]),
                _mean([p.paths[path][5] if path in p.paths else 0 for p in group]))

    rows: dict[str, PathRow] = {}
    children: dict[str | None, list[PathRow]] = {}
    for path, (depth, svc, op) in paths.items():
        ao, ad, ac = stats(pa, path)
        bo, bd, bc = stats(pb, path)
        row = rows[path] = PathRow(path, depth, svc, op, ao, ad, bo, bd, ac, bc)
        parent = path.rsplit(" > ", 1)[0] if depth else None
        children.setdefault(parent, []).append(row)
    # tree order: each path under its parent, siblings by when they start
    ordered: list[PathRow] = []
    stack = sorted(children.get(None, []), key=_start, reverse=True)
    while stack:
        row = stack.pop()
        ordered.append(row)
        stack.extend(sorted(children.get(row.path, []), key=_start, reverse=True))
    return ordered


def _start(row: PathRow) -> float:
    starts = [s for s in (row.a_offset_ns, row.b_offset_ns) if s is not None]
    return min(starts) if starts else 0.0


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
