"""Incident response: capture an evidence bundle, triage it into ranked findings, keep the
responders' notes and actions on one timeline, run runbooks, write the postmortem draft, and
bundle it all to share. See docs/incident.md.

Public names: ``CaptureOptions``, ``Captured``, ``open_incident`` (capture, ``_capture``);
``analyse`` (triage into stored findings), ``incident_document`` (the ``perflab.incident/1``
document), ``Finding`` and ``triage`` (the pure checks, ``_triage``); ``timeline`` /
``Moment``; ``postmortem`` (the Markdown draft); ``Runbook``, ``find_runbook``,
``load_runbook``, ``run_runbook``; ``bundle_members``, ``write_bundle``; ``ROUTES`` and
``TEMPLATES`` (the Incident pages and API, mounted by the hub); the contracts' TypedDicts.
"""

from perflab.incident._bundle import bundle_members, write_bundle
from perflab.incident._capture import Captured, CaptureOptions, open_incident
from perflab.incident._contracts import (
    DeployEvent,
    EventDeployDoc,
    IncidentBundleDoc,
    IncidentCloseDoc,
    IncidentDoc,
    IncidentEntry,
    IncidentLsDoc,
    IncidentLsRow,
    IncidentNoteDoc,
    IncidentRunbookDoc,
)
from perflab.incident._document import analyse, incident_document
from perflab.incident._postmortem import postmortem
from perflab.incident._routes import ROUTES, TEMPLATES, deploy_document
from perflab.incident._runbook import Runbook, find_runbook, load_runbook, run_runbook
from perflab.incident._timeline import Moment, timeline
from perflab.incident._triage import Finding, triage

__all__ = [
    "ROUTES",
    "TEMPLATES",
    "CaptureOptions",
    "Captured",
    "DeployEvent",
    "EventDeployDoc",
    "Finding",
    "IncidentBundleDoc",
    "IncidentCloseDoc",
    "IncidentDoc",
    "IncidentEntry",
    "IncidentLsDoc",
    "IncidentLsRow",
    "IncidentNoteDoc",
    "IncidentRunbookDoc",
    "Moment",
    "Runbook",
    "analyse",
    "bundle_members",
    "deploy_document",
    "find_runbook",
    "incident_document",
    "load_runbook",
    "open_incident",
    "postmortem",
    "run_runbook",
    "timeline",
    "triage",
    "write_bundle",
]
