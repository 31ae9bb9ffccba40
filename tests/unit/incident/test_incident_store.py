"""Incidents in the store (schema v8): a v7 file migrates keeping its runs; an incident is a run
with its row and timeline; deploys are instant runs found across runs by kind and time."""

from __future__ import annotations

import pytest
from tests.conftest import store_file_at_version

from perflab.errors import NotFound
from perflab.store import (
    SCHEMA_VERSION,
    Store,
    add_incident_item,
    close_incident,
    create_incident,
    events_of_kind,
    incident,
    incident_items,
    incidents,
    record_deploy,
    replace_findings,
)


def test_a_v8_store_is_migrated_to_v9_and_keeps_its_runs(tmp_path):
    """v9 adds incidents, incident_items and events_kind: a v8 file gains them, keeps its
    runs and events, and the index answers a query by kind."""
    path = tmp_path / "v8.db"
    conn = store_file_at_version(path, 8)
    conn.execute("INSERT INTO runs (kind, name, status, started_ns, host)"
                 " VALUES ('record', 'old', 'ok', 1, 'h')")
    conn.execute("INSERT INTO events (run_id, ts_ns, kind, text) VALUES (1, 5, 'deploy', 'd')")
    conn.close()
    with Store.open(path) as st:
        assert st.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 10
        assert st.run("old").name == "old"
        assert [e.text for e in events_of_kind(st, "deploy")] == ["d"]
        plan = " ".join(str(r) for r in st.conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM events WHERE kind = 'deploy' AND ts_ns > 0"))
        assert "events_kind" in plan
        inc = create_incident(st, "after migration", suspects={})
        assert incident(st, inc.id).title == "after migration"


def test_an_incident_is_a_run_with_its_row_and_timeline(store):
    run = create_incident(store, "checkout slow", suspects={"pids": [1], "services": ["a"]},
                          opened_ns=100)
    assert store.run(run.id).kind == "incident"
    row = incident(store, run.id)
    assert (row.title, row.status, row.opened_ns, row.suspects) == (
        "checkout slow", "open", 100, {"pids": [1], "services": ["a"]})
    add_incident_item(store, run.id, "note", "restarted pod", ts_ns=300)
    add_incident_item(store, run.id, "evidence", "proc 1", ts_ns=200, attrs={"status": "ok"})
    replace_findings(store, run.id, [("low", "", 0.2, {}), ("high", "", 0.9, {"link": "/x"})])
    replace_findings(store, run.id, [("low", "", 0.2, {}), ("high", "", 0.9, {"link": "/x"})])
    assert [i.title for i in incident_items(store, run.id, "finding")] == ["high", "low"]
    assert [i.kind for i in incident_items(store, run.id)][:2] == ["evidence", "note"]
    close_incident(store, run.id, "# postmortem", closed_ns=400)
    row = incident(store, run.id)
    assert (row.status, row.closed_ns, row.postmortem) == ("closed", 400, "# postmortem")
    assert [i.id for i in incidents(store)] == [run.id]


def test_an_unknown_incident_or_item_kind_is_refused(store):
    with pytest.raises(NotFound, match="no incident 7"):
        incident(store, 7)
    with pytest.raises(NotFound):
        incident(store, 2**70)
    run = create_incident(store, "x", suspects={})
    with pytest.raises(ValueError, match="kind"):
        add_incident_item(store, run.id, "gossip", "no")


def test_deploys_are_found_across_runs_by_time(store):
    record_deploy(store, "checkout", "v1", ts_ns=10)
    record_deploy(store, "checkout", "v2", ts_ns=20, attrs={"commit": "abc"})
    record_deploy(store, "search", "v9", ts_ns=30)
    found = events_of_kind(store, "deploy", 15, 30)
    assert [(e.attrs["service"], e.attrs["version"]) for e in found] == [
        ("checkout", "v2"), ("search", "v9")]
    assert found[0].attrs["commit"] == "abc"
    assert store.run(found[0].run_id).kind == "deploy"
    assert store.run(found[0].run_id).status == "ok"
    assert [e.ts_ns for e in events_of_kind(store, "deploy", limit=1)] == [30]
