"""The public surface of perflab.incident, pinned: changing it is a decision, not an accident."""

import perflab.incident


def test_exported_names() -> None:
    assert sorted(perflab.incident.__all__) == sorted([
        "ROUTES", "TEMPLATES", "CaptureOptions", "Captured", "DeployEvent", "EventDeployDoc",
        "Finding", "IncidentBundleDoc", "IncidentCloseDoc", "IncidentDoc", "IncidentEntry",
        "IncidentLsDoc", "IncidentLsRow", "IncidentNoteDoc", "IncidentRunbookDoc", "Moment",
        "Runbook", "analyse", "bundle_members", "deploy_document", "find_runbook",
        "incident_document", "load_runbook", "open_incident", "postmortem", "run_runbook",
        "timeline", "triage", "write_bundle",
    ])
    for name in perflab.incident.__all__:
        assert getattr(perflab.incident, name) is not None
