"""An incident as one document (``perflab incident show --json``, the API, the page), and
triage run over its stored evidence (at the end of a capture, and again after a runbook)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal, cast

from perflab.incident._triage import Finding, triage
from perflab.store import incident, incident_items, replace_findings

if TYPE_CHECKING:
    from perflab.incident._contracts import (
        EvidenceStatus,
        FindingCategory,
        IncidentDoc,
        IncidentEntry,
        IncidentEvidence,
        IncidentFinding,
    )
    from perflab.store import Store


def evidence_link(incident_id: int, artifact_id: int) -> str:
    return f"/incidents/{incident_id}/evidence/{artifact_id}"


def load_evidence(store: Store, incident_id: int) -> tuple[dict[str, Any], dict[str, str]]:
    """Each evidence step's parsed JSON output, and the link to it (profiles: their flame)."""
    docs: dict[str, Any] = {}
    links: dict[str, str] = {}
    for art in store.artifacts(incident_id, "evidence"):
        try:
            docs[art.name] = json.loads(store.artifact_data(art.id))
        except ValueError:
            continue  # a step's output that is not JSON (cut off at the bound) is only shown
        links[art.name] = evidence_link(incident_id, art.id)
    for art in store.artifacts(incident_id, "evidence.file"):
        links[str(art.attrs.get("step", ""))] = evidence_link(incident_id, art.id)
    return docs, links


def analyse(store: Store, incident_id: int) -> list[Finding]:
    """Triage the incident's evidence and store the findings (replacing earlier ones)."""
    row = incident(store, incident_id)
    docs, links = load_evidence(store, incident_id)
    found = triage(docs, links, row.suspects)
    replace_findings(store, incident_id, [
        (f.title, f.detail, f.score, {"category": f.category, "resource": f.resource,
                                      "evidence": list(f.evidence), "link": f.link, **f.attrs})
        for f in found])
    return found


def incident_document(store: Store, incident_id: int) -> IncidentDoc:
    row = incident(store, incident_id)
    evidence: list[IncidentEvidence] = []
    findings: list[IncidentFinding] = []
    entries: list[IncidentEntry] = []
    for item in incident_items(store, incident_id):
        a = item.attrs
        if item.kind == "evidence":
            evidence.append({"id": item.id, "ts_ns": item.ts_ns, "step": item.title,
                             "status": cast("EvidenceStatus", a.get("status", "failed")),
                             "duration_s": float(a.get("duration_s", 0.0)),
                             "message": item.body, "artifact_id": a.get("artifact_id"),
                             "bytes": int(a.get("bytes", 0))})
        elif item.kind in ("note", "action"):
            entries.append({"id": item.id, "ts_ns": item.ts_ns,
                            "kind": cast("Literal['note', 'action']", item.kind),
                            "text": item.title})
    for rank, item in enumerate(incident_items(store, incident_id, "finding"), start=1):
        a = item.attrs
        findings.append({"rank": rank, "category": cast("FindingCategory", a.get("category")),
                         "resource": str(a.get("resource", "")), "title": item.title,
                         "detail": item.body, "score": float(item.score or 0.0),
                         "evidence": [str(e) for e in a.get("evidence", [])],
                         "link": str(a.get("link", ""))})
    suspects = row.suspects
    return {"schema": "perflab.incident/1", "id": row.id, "title": row.title,
            "status": cast("Literal['open', 'closed']", row.status),
            "opened_ns": row.opened_ns, "closed_ns": row.closed_ns,
            "suspects": {"services": [str(s) for s in suspects.get("services", [])],
                         "pids": [int(p) for p in suspects.get("pids", [])],
                         "pprof": [str(u) for u in suspects.get("pprof", [])]},
            "evidence": evidence, "findings": findings, "entries": entries,
            "link": f"/incidents/{row.id}"}
