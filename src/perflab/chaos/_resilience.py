"""The resilience of a chaos run, read from its event bands: the steady state before and after,
and for each fault how many hypothesis checks it broke and how long after its end the steady
state was met again (time to recover)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from perflab.errors import UsageError

if TYPE_CHECKING:
    from perflab.chaos._contracts import ChaosReportDoc, FaultDoc
    from perflab.store import Event, Store


def resilience(store: Store, ref: int | str) -> ChaosReportDoc:
    """``perflab chaos report RUN``'s document (docs/schemas/chaos-report.schema.json)."""
    run = store.run(ref)
    if run.kind != "chaos":
        raise UsageError(f"run {run.id} is a {run.kind} run, not a chaos experiment",
                         hint="perflab runs --kind chaos lists the experiments")
    events = store.events(run.id)
    checks = sorted((e for e in events if e.kind == "chaos.hypothesis"), key=lambda e: e.ts_ns)
    faults = sorted((e for e in events if e.kind == "chaos.fault"), key=lambda e: e.ts_ns)

    def met(when: str) -> bool | None:
        found = [bool(e.attrs.get("met")) for e in checks if e.attrs.get("when") == when]
        return found[-1] if found else None

    return {"version": 1, "run_id": run.id, "name": run.name, "status": run.status,
            "steady_state_before": met("before"), "steady_state_after": met("after"),
            "faults": [_fault(f, checks) for f in faults]}


def _fault(fault: Event, checks: list[Event]) -> FaultDoc:
    end = fault.end_ns if fault.end_ns is not None else fault.ts_ns
    # a check overlapping the band counts: its probes may have started before the action that
    # made the fault had finished (the toxic exists from the API's answer, before the action's end)
    during = [c for c in checks if c.ts_ns <= end and (c.end_ns or c.ts_ns) >= fault.ts_ns]
    recovered = next((c for c in checks if c.ts_ns >= end and c.attrs.get("met")), None)
    return {"name": str(fault.attrs.get("name", fault.text)),
            "type": str(fault.attrs.get("type", "")),
            "start_ns": fault.ts_ns, "end_ns": end,
            "checks_during": len(during),
            "not_met_during": sum(1 for c in during if not c.attrs.get("met")),
            "recovered_after_s": None if recovered is None else (recovered.ts_ns - end) / 1e9}


def render_resilience(doc: ChaosReportDoc) -> str:
    """The document as lines for people."""
    def word(value: bool | None) -> str:
        return "not checked" if value is None else "met" if value else "NOT met"

    lines = [f"chaos run {doc['run_id']} {doc['name']!r}: {doc['status']}",
             (f"  steady state before: {word(doc['steady_state_before'])}, "
              f"after: {word(doc['steady_state_after'])}")]
    for f in doc["faults"]:
        recovered = ("not seen" if f["recovered_after_s"] is None
                     else f"{f['recovered_after_s']:.2f} s after it ended")
        seconds = (f["end_ns"] - f["start_ns"]) / 1e9
        lines.append(f"  fault {f['type']} {f['name']}: {seconds:.2f} s,"
                     f" {f['not_met_during']} of {f['checks_during']} checks not met during it;"
                     f" steady state again: {recovered}")
    if not doc["faults"]:
        lines.append("  no fault recorded")
    return "\n".join(lines)
