"""The postmortem draft ``perflab incident close`` writes: Markdown with a summary, the impact
(alerts that fired, the error and latency figures of the services from their spans), the
merged timeline, the root-cause evidence (the best findings with their links) and the action
items. A draft: the responders edit it; every figure in it comes from the store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from perflab.incident._document import incident_document, load_evidence
from perflab.incident._timeline import timeline
from perflab.units import format_duration, format_timestamp

if TYPE_CHECKING:
    from perflab.store import Store

NS = 1_000_000_000
_SHOWN_FINDINGS = 5


def _md(text: str) -> str:
    """A line of Markdown that shows the text as given: no markup, no raw HTML."""
    out = " ".join(text.split())
    for ch in "\\`*_[]<>#|":
        out = out.replace(ch, "\\" + ch)
    return out


def postmortem(store: Store, incident_id: int, *, closed_ns: int) -> str:
    doc = incident_document(store, incident_id)
    evidence, _ = load_evidence(store, incident_id)
    lines = [f"# Postmortem (draft): {_md(doc['title'])}", "",
             (f"Incident {doc['id']}, opened {format_timestamp(doc['opened_ns'])}, closed"
              f" {format_timestamp(closed_ns)}"
              f" ({format_duration((closed_ns - doc['opened_ns']) / NS)})."), ""]
    suspects = doc["suspects"]
    named = [f"PID {p}" for p in suspects["pids"]] + suspects["services"] + suspects["pprof"]
    lines += ["## Summary", ""]
    top = doc["findings"][0] if doc["findings"] else None
    lines.append(f"Suspects: {_md(', '.join(named)) if named else 'none named'}. "
                 + (f"Most likely cause: **{_md(top['title'])}** ({_md(top['detail'])})."
                    if top else "Triage found nothing conclusive."))
    lines += ["", "## Impact", ""]
    context = evidence.get("store context") or {}
    alerts = [a for a in context.get("alerts", []) if str(a.get("text", "")).endswith("firing")]
    for a in alerts:
        lasted = (f"for {format_duration((a['end_ns'] - a['ts_ns']) / NS)}" if a.get("end_ns")
                  else "still firing at capture")
        sev = a.get("labels", {}).get("severity", "")
        lines.append(f"- alert {_md(a['text'])}{f' ({_md(sev)})' if sev else ''}, {lasted}")
    for service, windows in sorted(context.get("red", {}).items()):
        now = windows.get("recent")
        if now and now.get("count"):
            lines.append(f"- {_md(service)}: {now['errors']} errors in {now['count']} requests,"
                         f" p95 {now['p95_ms']:.0f} ms over the {now['seconds']:.0f} s before"
                         " the incident was opened")
    if lines[-1] == "":
        lines.append("- no SLO alert fired and no spans were recorded: impact to be written")
    lines += ["", "## Timeline", "", "| time | what |", "| --- | --- |"]
    lines += [f"| {format_timestamp(m.ts_ns)} | {m.kind}: {_md(m.text)} |"
              for m in timeline(store, incident_id, now_ns=closed_ns)]
    lines += ["", "## Root-cause evidence", ""]
    for f in doc["findings"][:_SHOWN_FINDINGS]:
        link = f" ([evidence]({f['link']}))" if f["link"] else ""
        lines.append(f"{f['rank']}. **{_md(f['title'])}**: {_md(f['detail'])}; from"
                     f" {_md(', '.join(f['evidence']))}{link}")
    if not doc["findings"]:
        lines.append("No finding: see the evidence captured.")
    lines += ["", "## Action items", ""]
    actions = [e for e in doc["entries"] if e["kind"] == "action"]
    lines += [f"- [ ] {_md(a['text'])}" for a in actions] or ["- [ ] (to be written)"]
    notes = [e for e in doc["entries"] if e["kind"] == "note"]
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- {format_timestamp(n['ts_ns'])}: {_md(n['text'])}" for n in notes]
    return "\n".join(lines) + "\n"
