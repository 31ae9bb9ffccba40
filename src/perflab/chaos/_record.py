"""An experiment's journal as a run in the store (kind ``chaos``), on the shared timeline: one
event band per activity and per hypothesis check, and one ``chaos.fault`` band per toxic an
activity added, from that activity's start until the start of the one that removed it (or the
run's end).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perflab.store import Store


def _ns(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1e9)


def _is_toxic(output: object) -> bool:
    return isinstance(output, dict) and {"name", "type", "stream", "attributes"} <= set(output)


def _removed(run: dict[str, Any]) -> str | None:
    """The toxic name a ``remove_toxic`` activity removed, else None."""
    provider = run["activity"].get("provider", {})
    arguments = provider.get("arguments") or {}
    if provider.get("func") == "remove_toxic" and run["status"] == "succeeded":
        name = arguments.get("name")
        return name if isinstance(name, str) else None
    return None


def run_status(journal: dict[str, Any]) -> str:
    """The run's status: ``ok`` when the steady state held, else the journal's word."""
    if journal["status"] == "completed" and not journal["deviated"]:
        before = journal["steady_states"]["before"]
        return "ok" if before is None or before["steady_state_met"] else "failed"
    return "deviated" if journal["deviated"] else str(journal["status"])


def record_journal(store: Store, journal: dict[str, Any]) -> int:
    """Store ``journal`` as a finished ``chaos`` run; answer its id."""
    exp = journal["experiment"]
    run = store.create_run("chaos", str(exp.get("title", "experiment")),
                           meta={"deviated": journal["deviated"], "status": journal["status"],
                                 "description": exp.get("description", "")},
                           started_ns=_ns(journal["start"]))
    end_ns = _ns(journal["end"])
    states = journal["steady_states"]
    checks = [("before", states["before"]), *(("during", s) for s in states["during"]),
              ("after", states["after"])]
    for when, state in checks:
        if state is None or not state["probes"]:
            continue
        met = state["steady_state_met"]
        store.add_event(run.id, "chaos.hypothesis",
                        f"steady state {when}: {'met' if met else 'not met'}",
                        ts_ns=_ns(state["probes"][0]["start"]),
                        end_ns=_ns(state["probes"][-1]["end"]),
                        attrs={"when": when, "met": met})
    activities = [("method", r) for r in journal["run"]] + [
        ("rollback", r) for r in journal["rollbacks"]]
    faults: dict[str, tuple[int, dict[str, Any]]] = {}
    for phase, r in activities:
        activity = r["activity"]
        store.add_event(run.id, f"chaos.{activity.get('type', 'action')}",
                        str(activity.get("name", "")), ts_ns=_ns(r["start"]),
                        end_ns=_ns(r["end"]), attrs={"phase": phase, "status": r["status"]})
        if r["status"] == "succeeded" and _is_toxic(r["output"]):
            # from the action's start: the toxic acts from the API's answer, before the
            # action's end is taken
            faults[r["output"]["name"]] = (_ns(r["start"]), r["output"])
        name = _removed(r)
        if name in faults:
            started, toxic = faults.pop(name)
            _fault(store, run.id, toxic, started, _ns(r["start"]))
    for started, toxic in faults.values():
        _fault(store, run.id, toxic, started, end_ns)
    store.finish_run(run.id, run_status(journal), ended_ns=end_ns)
    return run.id


def _fault(store: Store, run_id: int, toxic: dict[str, Any], start_ns: int, end_ns: int) -> None:
    store.add_event(run_id, "chaos.fault", f"{toxic['type']} toxic {toxic['name']}",
                    ts_ns=start_ns, end_ns=end_ns, attrs=dict(toxic))
