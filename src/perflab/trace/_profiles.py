"""Which profiles show the code that served a trace: profile slices matched to the trace's
services by the identity of the processes that sent their spans.

A span's process is known by its resource: ``process.pid`` (OpenTelemetry's semantic
convention; ``perflab.otel.setup`` sets it) and ``perflab.run.id`` (``perflab run`` sets it). A
profile slice knows the PID it sampled (its own ``pid``, or its run's). A slice matches a
service when it overlaps the trace in time and sampled a PID that one of the service's
processes reported, or belongs to the run that started one of them. The overlap in time makes
the PID a process identity: a PID names one process at a time, so a PID reused by another
program later matches nothing, and a service served by several processes gets a link per
process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from perflab.errors import PerflabError
from perflab.profile import profile_slices

if TYPE_CHECKING:
    from perflab.store import Store
    from perflab.trace._model import AttrValue, Process, Trace

MAX_RUNS = 20  # runs recorded while the trace ran that are looked at


def process_pid(p: Process) -> int | None:
    return _int(p.attrs.get("process.pid"))


def _int(value: AttrValue | None) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    return None


def profile_links(store: Store, trace: Trace) -> list[dict[str, Any]]:
    """A flame graph of the trace's time range per profiled process, with the services of the
    trace it served (empty when it served none of them: profiled then, but not in this
    trace)."""
    if not trace.spans:
        return []
    start, end = trace.start_ns, trace.end_ns
    pids: dict[int, set[str]] = {}
    runs_of: dict[int, set[str]] = {}
    for p in {id(s.process): s.process for s in trace.spans}.values():
        pid = process_pid(p)
        if pid is not None:
            pids.setdefault(pid, set()).add(p.service)
        run_id = _int(p.attrs.get("perflab.run.id"))
        if run_id is not None:
            runs_of.setdefault(run_id, set()).add(p.service)
    out: list[dict[str, Any]] = []
    try:
        runs = store.runs(since_ns=start, until_ns=end, limit=MAX_RUNS)
    except PerflabError:
        return out
    for run in runs:
        try:
            slices = [s for s in profile_slices(store, run.id)
                      if s.start_ns <= end and s.end_ns >= start]
        except PerflabError:
            continue
        run_pid = _int(run.meta.get("pid"))
        for pid in sorted({s.pid or run_pid or 0 for s in slices}):
            services = pids.get(pid, set()) | runs_of.get(run.id, set()) if pid else \
                runs_of.get(run.id, set())
            url = f"/runs/{run.id}/flame?start={start}&end={max(end, start + 1)}"
            if pid:
                url += f"&pid={pid}"
            out.append({"run": run.id, "run_name": run.name, "pid": pid or None,
                        "services": sorted(services), "url": url})
    out.sort(key=lambda link: (not link["services"], link["services"], link["run"]))
    return out
