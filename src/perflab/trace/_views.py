"""The documents every view of traces shows: the API's answers, ``perflab trace ... --json``
and the pages' data are these, so they cannot disagree.

    search_document     trace summaries of a search
    trace_document      one trace, its spans with their critical-path time, the path itself
    diff_document       two traces or two groups: operations by share of the latency change
    services_document   dependency graph, RED per operation over time, coverage
    coverage_document   which operations have complete traces, which calls end uninstrumented
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from perflab.errors import NotFound
from perflab.store import (
    SpanFilter,
    nearest_rank,
    service_edges,
    span_durations,
    span_operations,
    spans_in_window,
    spans_matching,
    trace_summaries,
)
from perflab.trace._critical import critical_path
from perflab.trace._diff import diff_groups
from perflab.trace._jaeger import skew_warnings
from perflab.trace._model import (
    KIND_CLIENT,
    KIND_CONSUMER,
    KIND_NAMES,
    KIND_PRODUCER,
    KIND_SERVER,
    STATUS_ERROR,
    Trace,
    parse_hex_id,
)
from perflab.trace._query import (
    MAX_TRACE_SPANS,
    Processes,
    TraceQuery,
    find_trace_ids_for,
    get_trace,
    to_span,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from perflab.store import Store, StoredSpan
    from perflab.trace._contracts import (
        ApiTraceSearchQuery,
        ApiTraceServicesBucket,
        ApiTraceServicesJson,
        ApiTraceServicesRed,
        ApiTraceServicesRedop,
        ApiTraceSpan,
        TraceCoverageJson,
        TraceDiffJson,
        TraceJson,
        TraceLsJson,
        TraceSummaryJson,
    )

RED_MAX_SPANS = 500_000  # spans one RED view reads; beyond, it says it sampled the newest
RED_BUCKETS = 30
COVERAGE_MAX_SPANS = 200_000
GROUP_MAX = 50  # traces per group of a diff


class ViewError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def summary(trace: Trace) -> TraceSummaryJson:
    root = trace.root()
    return {"trace_id": trace.trace_id.hex(), "start_ns": trace.start_ns,
            "duration_ns": trace.duration_ns, "spans": trace.total_spans or len(trace.spans),
            "errors": trace.errors(), "services": trace.services(),
            "root_service": root.service if root else "", "root_name": root.name if root else "",
            "broken": trace.missing_parents() > 0}


def query_json(q: TraceQuery) -> ApiTraceSearchQuery:
    return {"service": q.service, "operation": q.operation, "tags": q.tags,
            "start_ns": q.start_ns, "end_ns": q.end_ns, "min_duration_ns": q.min_duration_ns,
            "max_duration_ns": q.max_duration_ns, "limit": q.limit}


def search_document(store: Store, query: TraceQuery) -> TraceLsJson:
    """Summaries of the traces a search matches, from the trace index (no span decoded: a
    list of 1,000 traces, one of them 10,000 spans long, reads fast)."""
    ids = find_trace_ids_for(store, query, Processes(store))
    traces: list[TraceSummaryJson] = [{"trace_id": t.trace_id.hex(), "start_ns": t.start_ns,
               "duration_ns": t.end_ns - t.start_ns, "spans": t.spans, "errors": t.errors,
               "services": t.services, "root_service": t.root_service,
               "root_name": t.root_name, "broken": t.missing_parents > 0}
              for t in trace_summaries(store, ids)]
    return {"query": query_json(query), "traces": traces}


def trace_document(store: Store, trace_id: bytes, *, limit: int = MAX_TRACE_SPANS
                   ) -> TraceJson:
    trace = get_trace(store, trace_id, limit=limit)
    if trace is None:
        raise ViewError(404, f"no trace {trace_id.hex()} in this store")
    return trace_json(trace)


def trace_json(trace: Trace) -> TraceJson:
    sections = critical_path(trace)
    critical: dict[bytes, int] = {}
    for sec in sections:
        critical[sec.span_id] = critical.get(sec.span_id, 0) + sec.duration_ns
    skew = skew_warnings(trace)
    spans: list[ApiTraceSpan] = []
    for s in trace.spans:
        doc = s.to_json()
        # the span's own warnings keep their place; its critical-path time comes last
        spans.append({**doc, "warnings": doc["warnings"] + skew.get(s.span_id, []),
                      "critical_ns": critical.get(s.span_id, 0)})
    warnings = []
    if trace.truncated:
        warnings.append(f"this trace has {trace.total_spans:,} spans; the first "
                        f"{len(trace.spans):,} by start time are shown")
    missing = trace.missing_parents()
    if missing:
        warnings.append(f"{missing} span{'s refer' if missing > 1 else ' refers'} to a parent "
                        "this trace does not hold (lost, unsampled or not yet arrived): the "
                        "trace is broken there")
    if skew:
        warnings.append(f"{len(skew)} span{'s lie' if len(skew) > 1 else ' lies'} outside "
                        f"{'their parents' if len(skew) > 1 else 'its parent'} in time (clock "
                        "skew between hosts)")
    return {"trace": {**summary(trace), "truncated": trace.truncated}, "spans": spans,
            "critical_path": [s.to_json() for s in sections], "warnings": warnings}


# -- diff ----------------------------------------------------------------------------------------

def _trace_arg(store: Store, raw: str, key: str) -> Trace:
    tid = parse_hex_id(raw, 16)
    if tid is None:
        raise ViewError(400, f"{key} must be a trace id (hex), not {raw[:40]!r}")
    trace = get_trace(store, tid)
    if trace is None:
        raise ViewError(404, f"no trace {raw[:40]} in this store")
    return trace


def diff_document(store: Store, params: Mapping[str, str], query: TraceQuery
                  ) -> TraceDiffJson:
    """``a`` and ``b``: two trace ids. Otherwise groups of the operation ``query`` names:
    ``a_run``/``b_run`` (the operation's traces during two runs), or else its slowest
    ``slowest_pct`` % (default 1) against as many traces around its median."""
    a_raw, b_raw = params.get("a"), params.get("b")
    mode: Literal["traces", "runs", "slowest"]
    if a_raw or b_raw:
        if not (a_raw and b_raw):
            raise ViewError(400, "give both a and b (two trace ids)")
        a, b = [_trace_arg(store, a_raw, "a")], [_trace_arg(store, b_raw, "b")]
        mode = "traces"
        labels = (f"trace {a_raw[:32]}", f"trace {b_raw[:32]}")
    elif params.get("a_run") or params.get("b_run"):
        a, b, labels = _run_groups(store, params, query)
        mode = "runs"
    else:
        raw = params.get("slowest_pct") or "1"
        try:
            pct = float(raw)
        except ValueError:
            pct = -1.0
        if not 0 < pct <= 50:
            raise ViewError(400, f"slowest_pct must be a percentage above 0 and at most 50, "
                                 f"not {raw[:20]!r}")
        a, b = _slow_groups(store, query, pct)
        mode = "slowest"
        labels = ("around the median", f"slowest {pct:g} %")
    if not a or not b:
        raise ViewError(404, "no traces to compare: "
                        + ("group A is empty" if not a else "group B is empty"))
    d = diff_groups(a, b)
    return {"mode": mode, "labels": {"a": labels[0], "b": labels[1]},
            "a_traces": [t.trace_id.hex() for t in a], "b_traces": [t.trace_id.hex() for t in b],
            **d.to_json()}


def _op_spans(store: Store, query: TraceQuery, start: int | None, end: int | None
              ) -> list[StoredSpan]:
    if query.service is None:
        raise ViewError(400, "name the operation to compare: service (and operation)")
    f = SpanFilter(query.service, query.operation, None, start, end, query.min_duration_ns,
                   query.max_duration_ns)
    rows = spans_matching(store, f, limit=100_000)
    if query.operation is None:  # a service alone: its entry spans
        rows = [r for r in rows if r.kind in (KIND_SERVER, KIND_CONSUMER)] or rows
    return rows


def _traces_of(store: Store, rows: list[StoredSpan]) -> list[Trace]:
    procs = Processes(store)
    out = []
    seen: set[bytes] = set()
    for r in rows:
        if r.trace_id in seen:
            continue
        seen.add(r.trace_id)
        t = get_trace(store, r.trace_id, processes=procs)
        if t is not None:
            out.append(t)
    return out


def _slow_groups(store: Store, query: TraceQuery, pct: float = 1.0
                 ) -> tuple[list[Trace], list[Trace]]:
    rows = sorted(_op_spans(store, query, query.start_ns, query.end_ns),
                  key=lambda r: r.duration_ns)
    if len(rows) < 2:
        return [], []
    n = max(1, min(GROUP_MAX, int(len(rows) * pct / 100)))
    slow = rows[-n:]
    mid = len(rows) // 2
    lo = max(0, mid - n // 2)
    median = [r for r in rows[lo:lo + n] if r not in slow]
    return _traces_of(store, median), _traces_of(store, list(reversed(slow)))


def _run_groups(store: Store, params: Mapping[str, str], query: TraceQuery
                ) -> tuple[list[Trace], list[Trace], tuple[str, str]]:
    groups = []
    labels = []
    for key in ("a_run", "b_run"):
        raw = params.get(key) or ""
        if not raw.isascii() or not raw.isdigit():
            raise ViewError(400, f"{key} must be a run id")
        try:
            run = store.run(int(raw))
        except NotFound:
            raise ViewError(404, f"no run {raw}") from None
        end = run.ended_ns if run.ended_ns is not None else time.time_ns()
        rows = _op_spans(store, query, run.started_ns, end)[:GROUP_MAX]
        groups.append(_traces_of(store, rows))
        labels.append(f"run {run.id} ({run.name})")
    return groups[0], groups[1], (labels[0], labels[1])


# -- services: dependencies, RED, coverage -------------------------------------------------------

def services_document(store: Store, start_ns: int, end_ns: int) -> ApiTraceServicesJson:
    edges = service_edges(store, start_ns, end_ns)
    return {"start_ns": start_ns, "end_ns": end_ns,
            "edges": [{"parent": a, "child": b, "calls": n, "errors": e,
                       "calls_per_s": n / max((end_ns - start_ns) / 1e9, 1e-9),
                       "error_pct": 100.0 * e / n if n else 0.0} for a, b, n, e in edges],
            "red": red_document(store, start_ns, end_ns),
            "coverage": coverage_document(store, start_ns, end_ns)}


def red_document(store: Store, start_ns: int, end_ns: int) -> ApiTraceServicesRed:
    """Rate, errors and duration percentiles per (service, operation, kind) over the window,
    overall and in ``RED_BUCKETS`` steps."""
    rows = span_durations(store, SpanFilter(start_ns=start_ns, end_ns=end_ns),
                          limit=RED_MAX_SPANS)
    names = {(op, kind): (svc, name) for svc, name, kind, op in span_operations(store)}
    window_s = max((end_ns - start_ns) / 1e9, 1e-9)
    step = max((end_ns - start_ns) // RED_BUCKETS, 1)
    groups: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    for op, kind, start, dur, status in rows:
        groups.setdefault((op, kind), []).append((start, dur, status))
    ops: list[ApiTraceServicesRedop] = []
    for key, spans in groups.items():
        svc, name = names.get(key, ("?", "?"))
        durations = [d / 1e6 for _, d, _ in spans]
        errors = sum(1 for _, _, st in spans if st == STATUS_ERROR)
        buckets: list[ApiTraceServicesBucket] = []
        by_bucket: dict[int, list[tuple[int, int, int]]] = {}
        for sp in spans:
            by_bucket.setdefault(min((sp[0] - start_ns) // step, RED_BUCKETS - 1), []).append(sp)
        for i in range(RED_BUCKETS):
            inb = by_bucket.get(i, [])
            ds = [d / 1e6 for _, d, _ in inb]
            buckets.append({"start_ns": start_ns + i * step, "calls": len(inb),
                            "errors": sum(1 for _, _, st in inb if st == STATUS_ERROR),
                            "p50_ms": nearest_rank(ds, 50) if ds else None,
                            "p95_ms": nearest_rank(ds, 95) if ds else None,
                            "p99_ms": nearest_rank(ds, 99) if ds else None})
        ops.append({"service": svc, "operation": name, "kind": KIND_NAMES[key[1]],
                    "calls": len(spans), "errors": errors, "rate_per_s": len(spans) / window_s,
                    "error_pct": 100.0 * errors / len(spans),
                    "p50_ms": nearest_rank(durations, 50), "p95_ms": nearest_rank(durations, 95),
                    "p99_ms": nearest_rank(durations, 99), "buckets": buckets})
    ops.sort(key=lambda o: (o["service"], o["kind"] != "server", o["operation"]))
    return {"step_ns": step, "sampled": len(rows) >= RED_MAX_SPANS, "operations": ops}


@dataclass
class _Entry:
    traces: set[bytes]
    broken: set[bytes]


def coverage_document(store: Store, start_ns: int, end_ns: int) -> TraceCoverageJson:
    """Tracing coverage of the window: for each entry operation (server and consumer spans),
    how many of its traces are complete; the client calls that end with no span on the other
    side (an uninstrumented service; database calls, ``db.system``, are leaves by nature and
    not counted); the traces with missing parents."""
    return coverage_scan(store, start_ns, end_ns)[0]


def coverage_scan(store: Store, start_ns: int, end_ns: int
                  ) -> tuple[TraceCoverageJson, dict[str, int],
                                                list[tuple[int, bytes, str]]]:
    """``coverage_document``'s document, the traces that began at a server span per request
    path (``url.path``, else ``http.target`` without its query, else ``http.route``; ``""``
    when the span says none): what a load test's requests are matched against; and those
    server spans as (duration, trace id, path)."""
    roots: dict[str, int] = {}
    entries_seen: list[tuple[int, bytes, str]] = []
    by_trace: dict[bytes, list[StoredSpan]] = {}
    n = 0
    for row in spans_in_window(store, start_ns, end_ns, limit=COVERAGE_MAX_SPANS):
        by_trace.setdefault(row.trace_id, []).append(row)
        n += 1
    entries: dict[tuple[str, str], _Entry] = {}
    dangling: dict[tuple[str, str, str], int] = {}
    broken: list[dict[str, Any]] = []
    procs = Processes(store)
    for tid, rows in by_trace.items():
        ids = {r.span_id for r in rows}
        parents = {r.parent_id for r in rows if r.parent_id is not None}
        missing = [r for r in rows if r.parent_id is not None and r.parent_id not in ids]
        entry = _entered_from_outside(rows, missing)
        if entry is not None:
            missing = []
        if missing:
            broken.append({"trace_id": tid.hex(), "missing_parents": len(missing),
                           "spans": len(rows)})
        for r in rows:
            if r.kind == KIND_SERVER and (r.parent_id is None or r is entry):
                path = request_path(to_span(r, procs.get(r.process_id, r.service)).attrs)
                roots[path] = roots.get(path, 0) + 1
                entries_seen.append((r.duration_ns, tid, path))
            if r.kind in (KIND_SERVER, KIND_CONSUMER):
                e = entries.setdefault((r.service, r.name), _Entry(set(), set()))
                e.traces.add(tid)
                if missing:
                    e.broken.add(tid)
            # in a broken trace a call's other side may be lost, not uninstrumented
            if r.kind in (KIND_CLIENT, KIND_PRODUCER) and r.span_id not in parents \
                    and not missing:
                attrs = to_span(r, procs.get(r.process_id, r.service)).attrs
                if "db.system" in attrs or "db.system.name" in attrs:
                    continue  # a database answers without spans of its own: a leaf by nature
                key = (r.service, r.name, _peer(attrs))
                dangling[key] = dangling.get(key, 0) + 1
    ops = [{"service": s, "operation": o, "traces": len(e.traces),
            "complete": len(e.traces) - len(e.broken),
            "complete_pct": 100.0 * (len(e.traces) - len(e.broken)) / len(e.traces)}
           for (s, o), e in sorted(entries.items())]
    total = len(by_trace)
    return {"traces": total, "spans_read": n, "sampled": n >= COVERAGE_MAX_SPANS,
            "complete_traces": total - len(broken),
            "complete_pct": 100.0 * (total - len(broken)) / total if total else None,
            "operations": ops,
            "uninstrumented_calls": [
                {"service": s, "operation": o, "peer": p, "calls": c}
                for (s, o, p), c in sorted(dangling.items(), key=lambda kv: -kv[1])],
            "broken_traces": broken[:100], "broken_count": len(broken)}, roots, entries_seen


def _entered_from_outside(rows: list[StoredSpan], missing: list[StoredSpan]
                          ) -> StoredSpan | None:
    """The trace's entry when its one missing parent is its first span's, a server span's: a
    caller that sends a ``traceparent`` but no spans (``perflab load --traceparent``, a proxy
    that only propagates). Such a trace is complete and began at that server span."""
    if len(missing) != 1 or missing[0].kind != KIND_SERVER:
        return None
    first = missing[0]
    return first if all(r.start_ns >= first.start_ns for r in rows) else None


def request_path(attrs: dict[str, Any]) -> str:
    """The path a server span answered, from the HTTP semantic conventions (new, then old)."""
    for key in ("url.path", "http.target", "http.route"):
        value = attrs.get(key)
        if isinstance(value, str) and value:
            return value.split("?", 1)[0][:500]
    return ""


def _peer(attrs: dict[str, Any]) -> str:
    for key in ("peer.service", "server.address", "net.peer.name", "http.host", "url.full",
                "http.url"):
        value = attrs.get(key)
        if value:
            return str(value)[:200]
    return ""
