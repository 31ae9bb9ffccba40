"""The report's tracing section: spans received during the run (``perflab.trace``): RED per
operation, the slowest traces with the critical path of the slowest, and tracing coverage."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perflab.trace import (
    TraceQuery,
    coverage_document,
    find_traces,
    services_document,
    trace_document,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from perflab.store import Run, Store

SLOWEST = 5


@dataclass(frozen=True)
class TraceReport:
    red: Sequence[Mapping[str, Any]]
    slowest: list[dict[str, Any]]
    critical: list[dict[str, Any]]  # the slowest trace's operations by critical-path time
    critical_trace: str | None
    coverage: Mapping[str, Any]
    edges: list[dict[str, Any]]


def trace_report(store: Store, run: Run) -> TraceReport | None:
    end = run.ended_ns if run.ended_ns is not None else time.time_ns()
    services = services_document(store, run.started_ns, end)
    if not services["red"]["operations"]:
        return None
    entry = [o for o in services["red"]["operations"] if o["kind"] in ("server", "consumer")]
    roots = {(o["service"], o["operation"]) for o in entry}
    slowest: list[dict[str, Any]] = []
    for service, op in sorted(roots):
        for t in find_traces(store, TraceQuery(service=service, operation=op,
                                               start_ns=run.started_ns, end_ns=end,
                                               limit=200), span_limit=2000):
            root = t.root()
            if root is not None and (root.service, root.name) == (service, op):
                slowest.append({"trace_id": t.trace_id.hex(), "duration_ns": t.duration_ns,
                                "root": f"{root.service}: {root.name}",
                                "spans": t.total_spans, "errors": t.errors()})
    slowest.sort(key=lambda d: -d["duration_ns"])
    slowest = slowest[:SLOWEST]
    critical: list[dict[str, Any]] = []
    if slowest:
        doc = trace_document(store, bytes.fromhex(slowest[0]["trace_id"]))
        spans = {s["span_id"]: s for s in doc["spans"]}
        total = sum(c["end_ns"] - c["start_ns"] for c in doc["critical_path"]) or 1
        by_op: dict[str, int] = {}
        for c in doc["critical_path"]:
            s = spans[c["span_id"]]
            key = f"{s['service']}: {s['name']}"
            by_op[key] = by_op.get(key, 0) + c["end_ns"] - c["start_ns"]
        critical = [{"operation": k, "ns": v, "share": v / total}
                    for k, v in sorted(by_op.items(), key=lambda kv: -kv[1])]
    return TraceReport(entry or services["red"]["operations"], slowest, critical,
                       slowest[0]["trace_id"] if slowest else None,
                       coverage_document(store, run.started_ns, end), services["edges"])
