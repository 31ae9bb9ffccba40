"""What share of a load test's requests produced a trace: ``trace coverage`` over the load's
time, matched to the requests it sent.

A load generator that sends no ``traceparent`` makes each request the root of a new trace in
the service: a server span with no parent. So the load's coverage is, per request path, the
traces that began at a server span for that path (``coverage_scan``'s roots) over the requests
the load sent to it; a path with none is a route that produced no trace (uninstrumented, or
sampled out). Requests without a known path (a scenario's named steps) go under ``""`` and are
compared with every root. With head sampling at 10 %, about 10 % is the expected answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perflab.trace._views import coverage_scan

if TYPE_CHECKING:
    from collections.abc import Mapping

    from perflab.load import LoadTracingDoc
    from perflab.store import Store


def load_coverage(store: Store, start_ns: int, end_ns: int,
                  requests_by_path: Mapping[str, int]) -> LoadTracingDoc | None:
    """The load's tracing coverage, or None when no span started in its time (the target is
    not traced, or sends its spans elsewhere)."""
    doc, roots = coverage_scan(store, start_ns, end_ns)
    if not doc["traces"]:
        return None
    traced = [(path, n, sum(roots.values()) if path == "" else roots.get(path, 0))
              for path, n in sorted(requests_by_path.items())]
    requests = sum(requests_by_path.values())
    total = sum(t for _, _, t in traced)
    return {"requests": requests, "traces": total, "traced_pct": _pct(total, requests),
            "routes": [{"path": path, "requests": n, "traces": t, "traced_pct": _pct(t, n)}
                       for path, n, t in traced],
            "untraced_routes": [path for path, n, t in traced if n and not t],
            "complete_pct": doc["complete_pct"],
            "uninstrumented_calls": doc["uninstrumented_calls"][:20]}


def _pct(part: int, whole: int) -> float | None:
    return None if not whole else round(min(100.0, 100.0 * part / whole), 2)


def render_load_coverage(doc: LoadTracingDoc) -> str:
    """The summary's lines for it."""
    pct = doc["traced_pct"]
    lines = [f"tracing: {doc['traces']:,} of {doc['requests']:,} requests produced a trace"
             + (f" ({pct:.1f} %)" if pct is not None else "")]
    if doc["untraced_routes"]:
        lines.append("  no trace: " + ", ".join(p or "(no path)" for p in
                                               doc["untraced_routes"][:10]))
    lines.extend(f"  uninstrumented call: {call['service']} {call['operation']}"
                 + (f" -> {call['peer']}" if call["peer"] else "") + f" ({call['calls']})"
                 for call in doc["uninstrumented_calls"][:5])
    return "\n".join(lines) + "\n"
