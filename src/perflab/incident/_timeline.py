"""One merged timeline of an incident: alerts, deploys and chaos faults from every run around
it, the capture's evidence, the findings, and the responders' notes and actions. What the
Incident page draws and the postmortem lists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from perflab.incident._context import DEPLOY_LOOKBACK_NS
from perflab.store import CHAOS_FAULT_EVENT, events_of_kind, incident, incident_items

if TYPE_CHECKING:
    from perflab.store import Store

NS = 1_000_000_000
BEFORE_NS = 15 * 60 * NS  # how far before the opening the timeline reaches (alerts, faults)


@dataclass(frozen=True, slots=True)
class Moment:
    ts_ns: int
    end_ns: int | None
    kind: str  # alert, deploy, fault, evidence, finding, note, action, opened, closed
    text: str
    link: str = ""


def timeline(store: Store, incident_id: int, *, now_ns: int | None = None) -> list[Moment]:
    row = incident(store, incident_id)
    end = row.closed_ns if row.closed_ns is not None else now_ns
    out = [Moment(row.opened_ns, None, "opened", f"incident opened: {row.title}")]
    for kind, lookback in (("alert", BEFORE_NS), ("deploy", DEPLOY_LOOKBACK_NS),
                           (CHAOS_FAULT_EVENT, BEFORE_NS)):
        out += [Moment(e.ts_ns, e.end_ns, kind, e.text, f"/runs/{e.run_id}")
                for e in events_of_kind(store, kind, row.opened_ns - lookback, end, limit=200)]
    for item in incident_items(store, incident_id):
        text = item.title if item.kind != "evidence" else (
            f"captured {item.title}: {item.attrs.get('status')}")
        link = str(item.attrs.get("link", ""))
        out.append(Moment(item.ts_ns, None, item.kind, text, link))
    if row.closed_ns is not None:
        out.append(Moment(row.closed_ns, None, "closed", "incident closed"))
    return sorted(out, key=lambda m: m.ts_ns)
