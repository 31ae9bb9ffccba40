"""The JSON documents of ``perflab incident`` and ``perflab event deploy`` (and the same
answers of the hub's API), as TypedDicts; docs/schemas/incident*.schema.json and
event-deploy.schema.json say the same (tests/unit/test_contracts.py checks they agree)."""

from __future__ import annotations

from typing import Literal, TypedDict

EvidenceStatus = Literal["ok", "failed", "timeout", "skipped"]
FindingCategory = Literal["use", "red", "change", "profile", "stacks", "alert", "logs"]


class IncidentSuspects(TypedDict):
    services: list[str]
    pids: list[int]
    pprof: list[str]


class IncidentEvidence(TypedDict):
    id: int
    ts_ns: int
    step: str
    status: EvidenceStatus
    duration_s: float
    message: str
    artifact_id: int | None
    bytes: int


class IncidentFinding(TypedDict):
    rank: int
    category: FindingCategory
    resource: str
    title: str
    detail: str
    score: float
    evidence: list[str]
    link: str


class IncidentEntry(TypedDict):
    id: int
    ts_ns: int
    kind: Literal["note", "action"]
    text: str


class IncidentDoc(TypedDict):
    schema: Literal["perflab.incident/1"]
    id: int
    title: str
    status: Literal["open", "closed"]
    opened_ns: int
    closed_ns: int | None
    suspects: IncidentSuspects
    evidence: list[IncidentEvidence]
    findings: list[IncidentFinding]
    entries: list[IncidentEntry]
    link: str


class IncidentLsRow(TypedDict):
    id: int
    title: str
    status: Literal["open", "closed"]
    opened_ns: int
    closed_ns: int | None
    top_finding: str | None


class IncidentLsDoc(TypedDict):
    schema: Literal["perflab.incident-ls/1"]
    incidents: list[IncidentLsRow]


class IncidentNoteDoc(TypedDict):
    schema: Literal["perflab.incident-note/1"]
    incident: int
    entry: IncidentEntry


class IncidentCloseDoc(TypedDict):
    schema: Literal["perflab.incident-close/1"]
    id: int
    closed_ns: int
    output: str | None
    postmortem: str


class RunbookStepResult(TypedDict):
    name: str
    command: str
    status: Literal["ok", "failed", "timeout"]
    exit_code: int | None
    duration_s: float
    output_bytes: int


class IncidentRunbookDoc(TypedDict):
    schema: Literal["perflab.incident-runbook/1"]
    incident: int
    runbook: str
    steps: list[RunbookStepResult]


class IncidentBundleDoc(TypedDict):
    schema: Literal["perflab.incident-bundle/1"]
    id: int
    output: str
    files: list[str]
    bytes: int


class DeployEvent(TypedDict):
    id: int
    run_id: int
    ts_ns: int
    service: str
    version: str


class EventDeployDoc(TypedDict):
    schema: Literal["perflab.event-deploy/1"]
    event: DeployEvent
