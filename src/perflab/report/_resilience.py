"""The report's Resilience section: for each fault band on a run (``chaos.fault``: a toxic, a
process, resource or network fault), its parameters and what the run's load did before, during
and after it, its worst deviation and how long after its end the load was back within the
steady-state band.

The figures come from the run's per-second load series (``load.latency_ms{quantile="0.99"}``,
``load.rps``, ``load.errors_per_s``; the worst p99 and the sum of rates when the load has
several label sets), read and judged by ``perflab.chaos``'s ``LoadSeconds`` and
``fault_deviation``, as ``perflab chaos report`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perflab.chaos import LoadSeconds, fault_deviation
from perflab.store import CHAOS_FAULT_EVENT, nearest_rank
from perflab.units import format_duration, format_rate

if TYPE_CHECKING:
    from perflab.chaos import DeviationDoc
    from perflab.store import Event, Store


@dataclass(frozen=True, slots=True)
class Phase:
    """The load over a stretch of the run: p99 (the median of its per-second p99s), the share
    of requests that failed, and requests per second."""

    seconds: int
    p99_ms: float | None
    error_rate: float | None
    rps: float | None


def _phase(load: LoadSeconds, start_ns: int, end_ns: int) -> Phase:
    """The load of the seconds ending in (start_ns, end_ns]."""
    seconds = sorted(ts for ts in load.rps if start_ns < ts <= end_ns)
    latencies = [load.p99[ts] for ts in seconds if ts in load.p99]
    done = sum(load.rps[ts] for ts in seconds)
    failed = sum(load.errors.get(ts, 0.0) for ts in seconds)
    return Phase(len(seconds),
                 nearest_rank(latencies, 50) if latencies else None,
                 failed / done if done else None,
                 done / len(seconds) if seconds else None)


def resilience_rows(store: Store, events: list[Event], run_end_ns: int) -> list[dict[str, Any]]:
    """Each fault band with its parameters and the load before, during and after it (display
    values), its worst deviation and the time from its end until the load was back within the
    steady band (``fault_deviation``)."""
    faults = sorted((e for e in events if e.kind == CHAOS_FAULT_EVENT), key=lambda e: e.ts_ns)
    if not faults:
        return []
    load = LoadSeconds.read(store, [faults[0].run_id])
    rows = []
    for i, fault in enumerate(faults):
        end = fault.end_ns if fault.end_ns is not None else run_end_ns
        # before: since the previous fault ended; after: until the next one starts
        since = faults[i - 1].end_ns or faults[i - 1].ts_ns if i else 0
        until = faults[i + 1].ts_ns if i + 1 < len(faults) else run_end_ns
        phases = {"before": _phase(load, since, fault.ts_ns),
                  "during": _phase(load, fault.ts_ns, end),
                  "after": _phase(load, end, max(until, end))}
        worst = fault_deviation(load, fault.ts_ns, fault.end_ns, since, max(until, end))
        rows.append({"text": fault.text, "start_ns": fault.ts_ns, "duration_ns": end - fault.ts_ns,
                     "params": _params(fault.attrs),
                     "phases": {k: _shown(v) for k, v in phases.items()},
                     "worst": _worst(worst), "recovered": _recovery(worst)})
    return rows


def _worst(doc: DeviationDoc) -> str:
    if doc["worst_p99_ms"] is None or doc["worst_error_rate"] is None:
        return "no load during it"
    ratio = "" if doc["worst_p99_ratio"] is None else f" ({doc['worst_p99_ratio']:.1f}x before)"
    return (f"p99 {format_duration(doc['worst_p99_ms'] / 1000)}{ratio}, errors "
            f"{doc['worst_error_rate']:.2%} in its worst second")


def _recovery(doc: DeviationDoc) -> str:
    if doc["steady"] is None:
        return "no p99 before the fault"
    if doc["recovered_after_s"] is None:
        return "not seen"
    return f"{format_duration(doc['recovered_after_s'])} after its end"


def _params(attrs: dict[str, Any]) -> list[tuple[str, str]]:
    """The fault's parameters as (name, value): a toxic's attributes spread out."""
    out: list[tuple[str, str]] = []
    for key, value in sorted(attrs.items()):
        if isinstance(value, dict):
            out.extend((f"{key}.{k}", str(v)) for k, v in sorted(value.items()))
        else:
            out.append((key, str(value)))
    return out


def _shown(phase: Phase) -> dict[str, str]:
    return {"seconds": str(phase.seconds),
            "p99": "-" if phase.p99_ms is None else format_duration(phase.p99_ms / 1000),
            "errors": "-" if phase.error_rate is None else f"{phase.error_rate:.2%}",
            "rps": "-" if phase.rps is None else format_rate(phase.rps, "/s")}
