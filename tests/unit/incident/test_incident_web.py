"""The hub's incident side: deploys through the API (behind the token, bounded, strict), the
incident's API answer, the Incidents/Incident pages with hostile text shown inert, the
evidence viewer, and deploy markers on the Run page's events."""

from __future__ import annotations

import json

import pytest
from tests._schemas import validate
from tests.unit._webclient import hub_client

from perflab.store import (
    Store,
    add_incident_item,
    create_incident,
    record_deploy,
    replace_findings,
)

S = 10**9
AUTH = {"Authorization": "Bearer s3cret"}


@pytest.fixture
def filled(store_path):
    with Store.open(store_path) as store:
        run = create_incident(store, "<script>alert(1)</script>", suspects={"pids": [7]})
        store.finish_run(run.id, "ok")
        art = store.add_artifact(run.id, "evidence", b'{"html": "<img src=x onerror=1>"}',
                                 name="system", content_type="application/json")
        add_incident_item(store, run.id, "evidence", "system",
                          attrs={"status": "ok", "artifact_id": art, "bytes": 33})
        prof = store.add_artifact(run.id, "evidence.file", b"main;handler;hot 90\nmain;idle 10\n",
                                  name="cpu-7.pb.gz", attrs={"step": "cpu-profile 7"})
        replace_findings(store, run.id, [("<b>hot</b>", "detail", 0.9, {
            "category": "profile", "resource": "cpu 7", "evidence": ["cpu-profile 7"],
            "link": f"/incidents/{run.id}/evidence/{prof}"})])
        add_incident_item(store, run.id, "note", "<i>rolled back</i>")
        return store_path, run.id, art, prof


def test_a_deploy_posted_with_the_token_is_recorded(store_path):
    body = {"service": "checkout", "version": "v7", "attrs": {"commit": "abc"}}
    with hub_client(store_path, token="s3cret") as c:
        assert c.post("/api/events/deploy", json=body).status_code == 401
        r = c.post("/api/events/deploy", json=body, headers=AUTH)
        assert r.status_code == 200, r.text
        doc = validate(r.json(), "event-deploy")
    with Store.open(store_path) as store:
        assert store.run(doc["event"]["run_id"]).meta["commit"] == "abc"


@pytest.mark.parametrize(("body", "status"), [
    (b"not json", 400),
    (b"[1, 2]", 400),
    (json.dumps({"service": "a"}).encode(), 400),
    (json.dumps({"service": "a", "version": "x" * 201}).encode(), 400),
    (json.dumps({"service": "a", "version": "1", "ts_ns": "soon"}).encode(), 400),
    (json.dumps({"service": "a", "version": "1", "ts_ns": 2**64}).encode(), 400),
    (json.dumps({"service": "a", "version": "1", "attrs": []}).encode(), 400),
    (b"{" + b" " * 70_000 + b"}", 413),
])
def test_a_bad_deploy_body_is_refused_and_nothing_is_written(store_path, body, status):
    with hub_client(store_path) as c:
        r = c.post("/api/events/deploy", content=body,
                   headers={"Content-Type": "application/json"})
        assert r.status_code == status
        assert "error" in r.json()
    with Store.open(store_path) as store:
        assert store.runs(kind="deploy") == []


def test_the_incident_api_answers_its_document(filled):
    path, iid, _, _ = filled
    with hub_client(path) as c:
        doc = validate(c.get(f"/api/incidents/{iid}").json(), "incident")
        assert doc["findings"][0]["title"] == "<b>hot</b>"
        assert c.get("/api/incidents/999").status_code == 404
        assert c.get("/api/incidents/\uff11").status_code == 404  # a fullwidth digit is no id
        assert c.get(f"/api/incidents/{2**64}").status_code == 404


def test_pages_show_hostile_text_inert(filled):
    path, iid, art, _ = filled
    with hub_client(path) as c:
        listing = c.get("/incidents").text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing
        assert "<script>alert(1)" not in listing
        page = c.get(f"/incidents/{iid}")
        assert page.status_code == 200
        assert "&lt;b&gt;hot&lt;/b&gt;" in page.text
        assert "&lt;i&gt;rolled back&lt;/i&gt;" in page.text
        assert f'href="/incidents/{iid}/evidence/{art}"' in page.text
        assert c.get("/incidents/12345").status_code == 404
        assert c.get("/incidents/abc").status_code == 404


def test_evidence_is_shown_as_text_and_profiles_as_flame_graphs(filled):
    path, iid, art, prof = filled
    with hub_client(path) as c:
        raw = c.get(f"/incidents/{iid}/evidence/{art}")
        assert raw.headers["content-type"].startswith("text/plain")
        assert raw.headers["x-content-type-options"] == "nosniff"
        assert raw.text == '{"html": "<img src=x onerror=1>"}'
        flame = c.get(f"/incidents/{iid}/evidence/{prof}")
        assert flame.status_code == 200
        assert "hot" in flame.text
        assert c.get(f"/incidents/{iid}/evidence/99999").status_code == 404
        assert c.get(f"/incidents/{iid + 1}/evidence/{art}").status_code == 404


def test_deploys_within_a_run_are_markers_on_its_timeline(store_path):
    with Store.open(store_path) as store:
        run = store.create_run("record", "r", started_ns=100 * S)
        store.add_event(run.id, "stage", "own", ts_ns=110 * S)
        store.finish_run(run.id, "ok", ended_ns=200 * S)
        record_deploy(store, "checkout", "v2", ts_ns=150 * S)
        record_deploy(store, "checkout", "v3", ts_ns=250 * S)  # after the run: not its own
    with hub_client(store_path) as c:
        doc = c.get(f"/api/runs/{run.id}").json()
        assert [(e["kind"], e["text"]) for e in doc["events"]] == [
            ("stage", "own"), ("deploy", "deploy checkout v2")]
        assert "deploy checkout v2" in c.get(f"/runs/{run.id}").text
        assert 'href="/incidents"' in c.get("/runs").text
