"""``open_incident`` against real processes: every step leaves an evidence item and its output,
a suspect that exits mid-capture and a disk that fills stop cleanly keeping what was taken,
and a PID that does not exist is refused before anything is written."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from tests._schemas import validate

from perflab.errors import NoSuchProcess, StoreFull
from perflab.incident import CaptureOptions, analyse, incident_document, open_incident
from perflab.store import incident_items, incidents, record_deploy


def test_a_capture_keeps_each_steps_output_and_context(store, sleeper):
    record_deploy(store, "checkout", "v2")
    opts = CaptureOptions("checkout slow", pids=(sleeper.pid,), services=("checkout",),
                          profile_s=0)
    captured = open_incident(store, opts)
    steps = {i.title: i.attrs for i in incident_items(store, captured.incident_id, "evidence")}
    assert {"store context", "system", "net", f"proc {sleeper.pid}", f"stacks {sleeper.pid}",
            "bench regressions", "process watch"} <= set(steps)
    assert steps["system"]["status"] == "ok"
    assert steps[f"proc {sleeper.pid}"]["status"] == "ok"
    assert all(a["status"] in ("ok", "failed", "timeout") for a in steps.values())
    assert store.run(captured.incident_id).status == "ok"
    analyse(store, captured.incident_id)
    doc = validate(incident_document(store, captured.incident_id), "incident")
    deploy = [f for f in doc["findings"] if f["title"].startswith("deploy of checkout v2")]
    assert deploy
    assert deploy[0]["link"].startswith("/runs/")
    evidence = {e["step"]: e for e in doc["evidence"]}
    art = evidence["system"]["artifact_id"]
    assert store.artifact_data(art).startswith(b"{")


def test_a_suspect_that_exits_during_the_capture_ends_it_cleanly(store):
    short = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5)"])
    try:
        captured = open_incident(store, CaptureOptions("short", pids=(short.pid,),
                                                       profile_s=2))
    finally:
        short.wait()
    items = incident_items(store, captured.incident_id, "evidence")
    watch = next(i for i in items if i.title == "process watch")
    data = store.artifact_data(watch.attrs["artifact_id"])
    assert b'"exited": true' in data
    assert {i.title for i in items} >= {"system", "net", f"proc {short.pid}"}
    assert store.run(captured.incident_id).status == "ok"


def test_a_pid_that_does_not_exist_is_refused_before_anything_is_written(store):
    with pytest.raises(NoSuchProcess):
        open_incident(store, CaptureOptions("ghost", pids=(2**22 + 7,), profile_s=0))
    assert incidents(store) == []


def test_a_full_disk_stops_the_capture_and_keeps_what_was_written(store, sleeper):
    """SQLite's max_page_count makes the store full exactly as a full disk does
    (SQLITE_FULL): room for the incident and its first small outputs, not for the rest."""
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages + 6}")
    started = time.monotonic()
    with pytest.raises(StoreFull, match=r"incident \d+: (\d+) steps were kept") as info:
        open_incident(store, CaptureOptions("full", pids=(sleeper.pid,), profile_s=0))
    assert time.monotonic() - started < 120
    [row] = incidents(store)
    kept = [i.attrs["status"] for i in incident_items(store, row.id, "evidence")]
    assert kept
    assert kept == ["ok"] * len(kept)
    assert f"{len(kept)} steps were kept" in str(info.value)
    assert info.value.exit_code == 3
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
