"""What the store knew before the incident was opened: the last minutes of metrics, logs,
spans and alerts around the suspects, recent deploys, chaos faults and load runs. Read in the
capturing process (the store is ours; no target to wait on) into one JSON document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from perflab.store import (
    CHAOS_FAULT_EVENT,
    events_of_kind,
    log_level_counts,
    nearest_rank,
    process_series_in,
    service_edges,
    span_outcomes,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from perflab.store import Store

NS = 1_000_000_000
RECENT_NS = 60 * NS  # "now" in the before/now comparisons: the last minute
DEPLOY_LOOKBACK_NS = 60 * 60 * NS  # a deploy up to an hour before is a suspect change
PROCESS_SERIES = ("process.cpu.pct", "process.rss_bytes", "process.fds", "process.threads")
_ERROR_LEVELS = frozenset({"error", "critical", "fatal", "panic", "emergency", "alert"})



def _lines_by_level(store: Store, start_ns: int, end_ns: int) -> dict[str, int]:
    """Lines of every stream per level (``""``: none recognised) in ``[start_ns, end_ns)``."""
    if end_ns <= start_ns:
        return {}
    return {level or "": n for _, level, n in
            log_level_counts(store, None, start_ns, end_ns, end_ns - start_ns)}

def store_context(store: Store, pids: Sequence[int], services: Sequence[str], start_ns: int,
                  end_ns: int) -> dict[str, Any]:
    recent_from = max(start_ns, end_ns - RECENT_NS)
    deploys = [{"ts_ns": e.ts_ns, "run_id": e.run_id, "service": str(e.attrs.get("service", "")),
                "version": str(e.attrs.get("version", ""))}
               for e in events_of_kind(store, "deploy", end_ns - DEPLOY_LOOKBACK_NS, end_ns)]
    alerts = [{"ts_ns": e.ts_ns, "end_ns": e.end_ns, "run_id": e.run_id, "text": e.text,
               "labels": e.attrs.get("labels", {}), "state": e.attrs.get("state", "")}
              for e in events_of_kind(store, "alert", start_ns, end_ns, limit=200)]
    faults = [{"ts_ns": e.ts_ns, "end_ns": e.end_ns, "run_id": e.run_id, "text": e.text}
              for e in events_of_kind(store, CHAOS_FAULT_EVENT, start_ns, end_ns, limit=200)]
    load_runs = [{"id": r.id, "name": r.name, "status": r.status, "started_ns": r.started_ns,
                  "ended_ns": r.ended_ns}
                 for r in store.runs(kind="load", since_ns=start_ns, until_ns=end_ns, limit=20)]
    return {
        "window": [start_ns, end_ns], "recent_from_ns": recent_from,
        "deploys": deploys, "alerts": alerts, "faults": faults, "load_runs": load_runs,
        "logs": {"before": _lines_by_level(store, start_ns, recent_from),
                 "recent": _lines_by_level(store, recent_from, end_ns + 1),
                 "before_s": (recent_from - start_ns) / NS,
                 "recent_s": (end_ns - recent_from) / NS},
        "red": red_by_service(store, (start_ns, recent_from, end_ns), services),
        "edges": [list(e) for e in service_edges(store, start_ns, end_ns)],
        "metrics": {str(pid): _process_metrics(store, pid, start_ns, end_ns) for pid in pids},
    }


def red_by_service(store: Store, bounds: tuple[int, int, int],
                   services: Sequence[str]) -> dict[str, Any]:
    """Rate, errors and p95 of each service's entry spans, ``before`` (from the first bound to
    the second) and ``recent`` (from the second to the third)."""
    out: dict[str, Any] = {}
    start, recent_from, end = bounds
    for label, lo, hi in (("before", start, recent_from - 1), ("recent", recent_from, end)):
        per: dict[str, list[tuple[int, int]]] = {}
        ops: dict[str, dict[str, list[int]]] = {}
        for service, op, duration, status in span_outcomes(store, lo, hi):
            per.setdefault(service, []).append((duration, status))
            ops.setdefault(service, {}).setdefault(op, []).append(duration)
        for service, rows in per.items():
            durations = [d for d, _ in rows]
            worst = max(ops[service].items(), key=lambda kv: nearest_rank(kv[1], 95))
            out.setdefault(service, {"suspect": service in services})[label] = {
                "count": len(rows), "errors": sum(1 for _, s in rows if s == 2),
                "seconds": (hi - lo) / NS, "p95_ms": nearest_rank(durations, 95) / 1e6,
                "slowest_operation": worst[0],
                "slowest_operation_p95_ms": nearest_rank(worst[1], 95) / 1e6}
    return out


def error_lines(levels: dict[str, int]) -> int:
    return sum(n for level, n in levels.items() if level.lower() in _ERROR_LEVELS)


def _process_metrics(store: Store, pid: int, start_ns: int, end_ns: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for sid, name, run_id in process_series_in(store, PROCESS_SERIES, pid, start_ns, end_ns):
        values = store.samples(sid, start_ns, end_ns)
        if not values:
            continue
        vs = [v for _, v in values]
        out[name] = {"run_id": run_id, "n": len(vs), "first": vs[0], "last": vs[-1],
                     "min": min(vs), "max": max(vs), "first_ns": values[0][0],
                     "last_ns": values[-1][0]}
    return out
