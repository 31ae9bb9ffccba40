"""The Alertmanager webhook receiver behind a hub's token: without it (or with a wrong one)
a 401 that says what to send, and nothing opened; with it, the payload is read."""

from __future__ import annotations

import pytest
from tests.unit._webclient import hub_client

from perflab.store import Store, incidents

TOKEN = "webhook-secret-1"  # a test's token
WARNING = {"version": "4", "status": "firing", "alerts": [{
    "status": "firing", "labels": {"alertname": "Slow", "severity": "warning"}}]}


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
    {"Authorization": f"Basic {TOKEN}"},
])
def test_without_the_token_the_webhook_is_a_401(store_path, headers):
    with hub_client(store_path, token=TOKEN) as c:
        r = c.post("/api/incidents/alertmanager", json=WARNING, headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="perflab"'
    assert r.json() == {"status": 401, "error": "this server needs its token: send "
                                                "'Authorization: Bearer TOKEN'"}
    with Store.open(store_path) as store:
        assert incidents(store) == []


def test_with_the_token_the_webhook_reads_the_payload(store_path):
    with hub_client(store_path, token=TOKEN) as c:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        r = c.post("/api/incidents/alertmanager", json=WARNING, headers=auth)
        assert (r.status_code, r.json()) == (200, {"opened": []})
        bad = c.post("/api/incidents/alertmanager", content=b"not json", headers=auth)
        assert bad.status_code == 400  # read, and refused as a body, not as a caller
