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

import heapq
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from perflab.trace._views import coverage_scan

if TYPE_CHECKING:
    from collections.abc import Mapping

    from perflab.load import LoadTracingDoc
    from perflab.store import Run, Store


def load_coverage(store: Store, start_ns: int, end_ns: int,
                  requests_by_path: Mapping[str, int]) -> LoadTracingDoc | None:
    """The load's tracing coverage, or None when no span started in its time (the target is
    not traced, or sends its spans elsewhere)."""
    doc, roots, entered = coverage_scan(store, start_ns, end_ns)
    if not doc["traces"]:
        return None
    # at most one trace a request: a request still in flight when the load stopped counting is
    # not one of its requests, but its trace began in the load's time (and may arrive after the
    # load has printed its count, before a page shows it)
    traced = [(path, n, min(n, sum(roots.values()) if path == "" else roots.get(path, 0)))
              for path, n in sorted(requests_by_path.items())]
    requests = sum(requests_by_path.values())
    total = sum(t for _, _, t in traced)
    return {"requests": requests, "traces": total, "traced_pct": _pct(total, requests),
            "routes": [{"path": path, "requests": n, "traces": t, "traced_pct": _pct(t, n)}
                       for path, n, t in traced],
            "untraced_routes": [path for path, n, t in traced if n and not t],
            "complete_pct": doc["complete_pct"],
            "uninstrumented_calls": doc["uninstrumented_calls"][:20],
            # the requests to open first: the slowest the service saw (its server spans)
            "slowest_traces": [{"trace_id": tid.hex(), "duration_ms": round(dur / 1e6, 3),
                                "path": path}
                               for dur, tid, path in heapq.nlargest(SLOWEST_TRACES, entered)]}


SLOWEST_TRACES = 5  # a load test's slowest traced requests, in its --json
LOAD_RUNS_READ = 20  # the newest runs of a window looked at for load tests
LOAD_RUNS_SHOWN = 5


def requests_by_path(view: Mapping[str, Any], url: object) -> dict[str, int]:
    """A load test's requests per path, from its ``load_view``: an endpoint's path (a
    scenario's), else the path of the URL a plain load test hit; ``""`` for named steps."""
    by_path: dict[str, int] = {}
    for g in view["groups"]:
        endpoint = g["labels"].get("endpoint", "")
        path = endpoint if endpoint.startswith("/") else \
            (urlsplit(url).path or "/") if isinstance(url, str) and not g["labels"] else ""
        by_path[path] = by_path.get(path, 0) + int(g["requests"])
    return by_path


def run_load_coverage(store: Store, run: Run,
                      view: Mapping[str, Any]) -> LoadTracingDoc | None:
    """``load_coverage`` of a run's load test (its ``load_view``) over the run's time."""
    summary = run.meta.get("summary")
    url = summary.get("url") if isinstance(summary, dict) else None
    end = run.ended_ns if run.ended_ns is not None else time.time_ns()
    return load_coverage(store, run.started_ns, end, requests_by_path(view, url))


def load_tests_coverage(store: Store, start_ns: int, end_ns: int) -> list[dict[str, Any]]:
    """The load tests of the runs that overlap the window (the newest ``LOAD_RUNS_SHOWN``),
    each with its tracing coverage (None when no span started in its time)."""
    from perflab.load import load_view  # noqa: PLC0415  # numpy, only when asked

    out: list[dict[str, Any]] = []
    for run in store.runs(since_ns=start_ns, until_ns=end_ns, limit=LOAD_RUNS_READ):
        view = load_view(store, run)
        if view is None:
            continue
        out.append({"run_id": run.id, "name": run.name, "kind": run.kind,
                    "started_ns": run.started_ns, "ended_ns": run.ended_ns,
                    "coverage": run_load_coverage(store, run, view)})
        if len(out) == LOAD_RUNS_SHOWN:
            break
    return out


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
