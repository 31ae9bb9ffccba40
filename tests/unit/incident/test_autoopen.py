"""A critical firing alert sent to the hub's Alertmanager webhook receiver opens an incident
(once: the same alert again does not open a second), with the alert's pid and service as
suspects and its linked runbook run; other alerts and bad bodies open nothing."""

from __future__ import annotations

import json

import pytest
from tests.unit._webclient import hub_client

from perflab.incident import _autoopen
from perflab.store import Store, incident_items, incidents


def _payload(pid: int, severity: str, status: str = "firing") -> dict:
    return {"version": "4", "status": status, "alerts": [{
        "status": status, "fingerprint": "abc123",
        "labels": {"alertname": "CheckoutDown", "severity": severity, "service": "checkout",
                   "pid": str(pid)},
        "annotations": {"summary": "checkout <b>down</b>"}}]}


def test_a_critical_alert_opens_one_incident_and_runs_its_runbook(store_path, sleeper,
                                                                   tmp_path, monkeypatch):
    books = tmp_path / "books"
    books.mkdir()
    (books / "down.yaml").write_text(
        "alerts: [CheckoutDown]\nsteps:\n  - name: say\n    shell: echo runbook ran\n")
    monkeypatch.setenv("PERFLAB_RUNBOOKS", str(books))
    monkeypatch.setattr(_autoopen, "PROFILE_S", 0.0)
    with hub_client(store_path) as c:
        r = c.post("/api/incidents/alertmanager", json=_payload(sleeper.pid, "critical"))
        assert (r.status_code, r.json()) == (202, {"opened": ["CheckoutDown"]})
        _autoopen.wait_all()
        again = c.post("/api/incidents/alertmanager", json=_payload(sleeper.pid, "critical"))
        assert again.json() == {"opened": []}
    with Store.open(store_path) as store:
        [row] = incidents(store)
        assert row.title == "CheckoutDown: checkout <b>down</b>"
        assert row.suspects["pids"] == [sleeper.pid]
        assert row.suspects["services"] == ["checkout"]
        assert row.suspects["alert"] == {"name": "CheckoutDown", "fingerprint": "abc123"}
        steps = {i.title: i.attrs["status"] for i in incident_items(store, row.id, "evidence")}
    assert steps[f"proc {sleeper.pid}"] == "ok"
    assert steps["runbook down: say"] == "ok"


@pytest.mark.parametrize("body", [
    json.dumps(_payload(1, "warning")).encode(),
    json.dumps(_payload(1, "critical", status="resolved")).encode(),
    b'{"alerts": "many"}',
    b"[]",
])
def test_other_alerts_open_nothing(store_path, body):
    with hub_client(store_path) as c:
        r = c.post("/api/incidents/alertmanager", content=body)
        assert (r.status_code, r.json()) == (200, {"opened": []})
        assert c.post("/api/incidents/alertmanager", content=b"not json").status_code == 400
    with Store.open(store_path) as store:
        assert incidents(store) == []
