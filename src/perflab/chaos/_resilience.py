"""The resilience of a run under faults (``perflab chaos report RUN``), read from its
``chaos.fault`` bands and the load around them: for each fault the steady state before it, the
worst deviation during it (p99 against the steady state, error rate) and the time to recover
after it (back within the steady-state band; ``_deviation``). The run is a chaos experiment
(its load is that of the load runs overlapping it: its ``load_test`` probes, or a load test
run beside it), a load run whose bands a proxy put on it (``--follow-load``, ``--run``), or
any run with fault bands. An experiment also has its hypothesis checks: the steady state
before and after, and per fault how many checks it broke and when one met it again."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from perflab.chaos._deviation import LoadSeconds, deviation
from perflab.errors import UsageError
from perflab.store import CHAOS_FAULT_EVENT
from perflab.units import format_duration

if TYPE_CHECKING:
    from perflab.chaos._contracts import ChaosReportDoc, FaultDoc
    from perflab.store import Event, Run, Store


def _load_runs(store: Store, run: Run, end_ns: int) -> list[int]:
    """Where the load figures come from: the run itself, and for an experiment the load runs
    overlapping it."""
    if run.kind != "chaos":
        return [run.id]
    return [run.id, *sorted(r.id for r in store.runs(kind="load", since_ns=run.started_ns,
                                                     until_ns=end_ns))]


def resilience(store: Store, ref: int | str) -> ChaosReportDoc:
    """``perflab chaos report RUN``'s document (docs/schemas/chaos-report.schema.json)."""
    run = store.run(ref)
    events = store.events(run.id)
    faults = sorted((e for e in events if e.kind == CHAOS_FAULT_EVENT), key=lambda e: e.ts_ns)
    if not faults and run.kind != "chaos":
        raise UsageError(f"run {run.id} ({run.kind}) has no fault on its timeline",
                         hint="perflab runs --kind chaos lists the experiments; a proxy puts "
                              "its toxics on a load run with --follow-load or --run")
    checks = sorted((e for e in events if e.kind == "chaos.hypothesis"), key=lambda e: e.ts_ns)
    end_ns = run.ended_ns or time.time_ns()
    sources = _load_runs(store, run, end_ns)
    load = LoadSeconds.read(store, sources)
    until = max([end_ns, *load.rps])

    def met(when: str) -> bool | None:
        found = [bool(e.attrs.get("met")) for e in checks if e.attrs.get("when") == when]
        return found[-1] if found else None

    docs = []
    for i, fault in enumerate(faults):
        since = (faults[i - 1].end_ns or faults[i - 1].ts_ns) if i else 0
        next_start = faults[i + 1].ts_ns if i + 1 < len(faults) else until
        doc: FaultDoc = {
            "name": str(fault.attrs.get("name", fault.text)),
            "type": str(fault.attrs.get("type", fault.attrs.get("fault", ""))),
            "text": fault.text, "attributes": fault.attrs,
            "start_ns": fault.ts_ns, "end_ns": fault.end_ns,
            **deviation(load, fault.ts_ns, fault.end_ns, since, next_start),
            "checks_during": None, "not_met_during": None, "steady_state_again_after_s": None}
        if run.kind == "chaos":
            _checks(doc, fault, checks)
        docs.append(doc)
    return {"version": 2, "run_id": run.id, "kind": run.kind, "name": run.name,
            "status": run.status, "load_runs": [s for s in sources if s != run.id],
            "steady_state_before": met("before"), "steady_state_after": met("after"),
            "faults": docs}


def _checks(doc: FaultDoc, fault: Event, checks: list[Event]) -> None:
    """An experiment's hypothesis checks during the fault, and the first after it that met."""
    end = fault.end_ns if fault.end_ns is not None else fault.ts_ns
    # a check overlapping the band counts: its probes may have started before the action that
    # made the fault had finished (the toxic exists from the API's answer, before the action's end)
    during = [c for c in checks if c.ts_ns <= end and (c.end_ns or c.ts_ns) >= fault.ts_ns]
    again = next((c for c in checks if c.ts_ns >= end and c.attrs.get("met")), None)
    doc["checks_during"] = len(during)
    doc["not_met_during"] = sum(1 for c in during if not c.attrs.get("met"))
    doc["steady_state_again_after_s"] = None if again is None else (again.ts_ns - end) / 1e9


def _ms(value: float) -> str:
    return format_duration(value / 1000)


def _fault_lines(f: FaultDoc) -> list[str]:
    length = ("still on" if f["end_ns"] is None
              else f"{(f['end_ns'] - f['start_ns']) / 1e9:.2f} s")
    lines = [f"  fault {f['type']} {f['name']}: {length}"]
    band = f["steady"]
    if band is None:
        lines.append("    steady state: no load before it")
    else:
        lines.append(f"    steady state: p99 {_ms(band['p99_ms'])} (band up to "
                     f"{_ms(band['p99_band_ms'])}), errors {band['error_rate']:.2%} (band up to "
                     f"{band['error_band']:.2%}), over {band['seconds']} s")
    if f["worst_error_rate"] is None:
        lines.append("    during it: no load")
    else:
        p99 = "-" if f["worst_p99_ms"] is None else _ms(f["worst_p99_ms"])
        ratio = "" if f["worst_p99_ratio"] is None else f" ({f['worst_p99_ratio']:.1f}x steady)"
        at = ("" if f["worst_p99_at_ns"] is None
              else f" at +{(f['worst_p99_at_ns'] - f['start_ns']) / 1e9:.0f} s")
        out = ("" if f["out_of_band_s"] is None
               else f"; {f['out_of_band_s']} of {f['seconds_during']} s out of band")
        lines.append(f"    worst during it: p99 {p99}{ratio}{at}, errors "
                     f"{f['worst_error_rate']:.2%} in a second ({f['error_rate_during']:.2%} "
                     f"over the fault){out}")
    if f["recovered_after_s"] is not None:
        recovered = f"{f['recovered_after_s']:.2f} s after its end"
    elif band is None or f["end_ns"] is None:
        recovered = "-"
    else:
        recovered = "not seen"
    lines.append(f"    back within the steady band: {recovered}")
    if f["checks_during"] is not None:
        again = ("not seen" if f["steady_state_again_after_s"] is None
                 else f"{f['steady_state_again_after_s']:.2f} s after it ended")
        lines.append(f"    checks: {f['not_met_during']} of {f['checks_during']} not met during"
                     f" it; steady state again: {again}")
    return lines


def render_resilience(doc: ChaosReportDoc) -> str:
    """The document as lines for people."""
    def word(value: bool | None) -> str:
        return "not checked" if value is None else "met" if value else "NOT met"

    lines = [f"{doc['kind']} run {doc['run_id']} {doc['name']!r}: {doc['status']}"]
    if doc["kind"] == "chaos":
        lines.append(f"  steady state before: {word(doc['steady_state_before'])}, "
                     f"after: {word(doc['steady_state_after'])}")
    if doc["load_runs"]:
        lines.append("  load: runs " + ", ".join(str(r) for r in doc["load_runs"]))
    for f in doc["faults"]:
        lines.extend(_fault_lines(f))
    if not doc["faults"]:
        lines.append("  no fault recorded")
    return "\n".join(lines)
