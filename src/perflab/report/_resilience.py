"""The report's Resilience section: for each fault band on a run (``chaos.fault``: a toxic, a
process, resource or network fault), its parameters and what the run's load did before, during
and after it, and how long after its end p99 came back.

The figures come from the run's per-second load series (``load.latency_ms{quantile="0.99"}``,
``load.rps``, ``load.errors_per_s``; the worst p99 and the sum of rates when the load has
several label sets). ``perflab chaos report``'s ``resilience`` judges an experiment by its
hypothesis checks, which a run under a toxic has not; this one judges by the load, so it is
its own computation.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perflab.store import CHAOS_FAULT_EVENT, nearest_rank
from perflab.units import format_duration, format_rate

if TYPE_CHECKING:
    from perflab.store import Event, Series, Store

RECOVERED_WITHIN = 0.10  # p99 back within 10 % of its value before the fault
_P99 = "0.99"


@dataclass(frozen=True, slots=True)
class Phase:
    """The load over a stretch of the run: p99 (the median of its per-second p99s), the share
    of requests that failed, and requests per second."""

    seconds: int
    p99_ms: float | None
    error_rate: float | None
    rps: float | None


def _per_second(store: Store, series: list[Series], name: str, *,
                p99: bool = False) -> dict[int, float]:
    """ts -> value of the ``name`` series; several label sets: the worst p99, the sum of rates."""
    out: dict[int, float] = defaultdict(float)
    for s in series:
        if s.name != name or (p99 and s.labels.get("quantile") != _P99):
            continue
        for ts, value in store.samples(s.id):
            out[ts] = max(out[ts], value) if p99 else out[ts] + value
    return dict(out)


def _phase(p99: dict[int, float], rps: dict[int, float], errors: dict[int, float],
           start_ns: int, end_ns: int) -> Phase:
    """The load of the seconds ending in (start_ns, end_ns]."""
    seconds = sorted(ts for ts in rps if start_ns < ts <= end_ns)
    latencies = [p99[ts] for ts in seconds if ts in p99]
    done = sum(rps[ts] for ts in seconds)
    failed = sum(errors.get(ts, 0.0) for ts in seconds)
    return Phase(len(seconds),
                 nearest_rank(latencies, 50) if latencies else None,
                 failed / done if done else None,
                 done / len(seconds) if seconds else None)


def resilience_rows(store: Store, events: list[Event], run_end_ns: int) -> list[dict[str, Any]]:
    """Each fault band with its parameters and the load before, during and after it (display
    values), and the seconds from its end until p99 was back within 10 % of before."""
    faults = sorted((e for e in events if e.kind == CHAOS_FAULT_EVENT), key=lambda e: e.ts_ns)
    if not faults:
        return []
    series = store.series(faults[0].run_id)
    p99 = _per_second(store, series, "load.latency_ms", p99=True)
    rps = _per_second(store, series, "load.rps")
    errors = _per_second(store, series, "load.errors_per_s")
    rows = []
    for i, fault in enumerate(faults):
        end = fault.end_ns if fault.end_ns is not None else run_end_ns
        # before: since the previous fault ended; after: until the next one starts
        since = faults[i - 1].end_ns or faults[i - 1].ts_ns if i else 0
        until = faults[i + 1].ts_ns if i + 1 < len(faults) else run_end_ns
        phases = {"before": _phase(p99, rps, errors, since, fault.ts_ns),
                  "during": _phase(p99, rps, errors, fault.ts_ns, end),
                  "after": _phase(p99, rps, errors, end, max(until, end))}
        rows.append({"text": fault.text, "start_ns": fault.ts_ns, "duration_ns": end - fault.ts_ns,
                     "params": _params(fault.attrs),
                     "phases": {k: _shown(v) for k, v in phases.items()},
                     "recovered": _recovery(p99, phases["before"].p99_ms, end, until)})
    return rows


def _recovery(p99: dict[int, float], before_ms: float | None, end_ns: int, until_ns: int) -> str:
    if before_ms is None:
        return "no p99 before the fault"
    back = next((ts for ts in sorted(p99) if end_ns < ts <= max(until_ns, end_ns)
                 and p99[ts] <= before_ms * (1 + RECOVERED_WITHIN)), None)
    if back is None:
        return "not seen"
    return f"{format_duration((back - end_ns) / 1e9)} after its end"


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
