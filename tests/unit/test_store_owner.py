"""A recording killed with kill -9 reads `interrupted` everywhere, ending at its last sample
(issue 10, bug 10). The owner is its PID *and* that process's start time and boot, so a
reused PID is not taken for a live recorder."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import textwrap

import pytest
from _webclient import hub_client
from test_cli_runs import run_cli
from tests._schemas import validate

from perflab.report import render_report
from perflab.store import Store
from perflab.store._owner import boot_id, process_start_ticks

S = 1_000_000_000


@pytest.fixture
def killed(store_path):
    """A run whose recorder committed 30 one-second samples (the last at start + 29 s) and was
    killed with SIGKILL while a batch was still open."""
    script = textwrap.dedent(f"""
        import os, signal
        from perflab.store import Store, BatchWriter
        s = Store.open({str(store_path)!r})
        run = s.create_run("record", "killed")
        w = BatchWriter(s, run.id)
        sid = w.series("system.load1")
        for i in range(30):
            w.add(sid, run.started_ns + i * {S}, float(i))
        w.flush()
        w.add(sid, run.started_ns + 31 * {S}, 31.0)  # open batch: lost
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], check=False)
    assert proc.returncode == -9
    with Store.open(store_path, create=False) as st:
        run = st.run("killed")
    return store_path, run


def test_kill_9_loses_at_most_the_open_batch(killed):
    """A recorder killed mid-run leaves a readable file with every committed batch."""
    path, run = killed
    with Store.open(path, create=False) as st:
        assert not st.recorder_alive(run)
        (series,) = st.series(run.id)
        assert len(st.samples(series.id)) == 30


def test_the_store_reads_a_killed_run_interrupted_at_its_last_sample(killed):
    path, run = killed
    assert run.status == "interrupted"
    assert run.ended_ns == run.started_ns + 29 * S
    assert run.duration_ns == 29 * S
    with Store.open(path, create=False) as st:
        (listed,) = st.runs()
        assert (listed.status, listed.ended_ns) == ("interrupted", run.ended_ns)
        # the file still says running: readers do not write
        assert st.conn.execute("SELECT status, ended_ns FROM runs").fetchone() == (
            "running", None)


def test_runs_and_show_agree(capsys, killed):
    path, run = killed
    code, out, _ = run_cli(capsys, "runs", "--store", str(path), "--json")
    assert code == 0
    (row,) = json.loads(out)["runs"]
    assert (row["status"], row["ended_ns"], row["duration_s"]) == ("interrupted", run.ended_ns,
                                                                   29.0)
    code, out, _ = run_cli(capsys, "show", "killed", "--store", str(path), "--json")
    assert code == 0
    doc = json.loads(out)
    validate(doc, "show")
    assert (doc["run"]["status"], doc["run"]["ended_ns"]) == ("interrupted", run.ended_ns)
    code, out, _ = run_cli(capsys, "show", "killed", "--store", str(path))
    assert "interrupted" in out.splitlines()[0]
    assert "29.0s" in out.splitlines()[0]


def test_the_api_the_runs_page_and_the_report_agree(killed):
    path, run = killed
    with hub_client(path, rollups=False) as client:
        got = client.get(f"/api/runs/{run.id}").json()["run"]
        assert (got["status"], got["ended_ns"]) == ("interrupted", run.ended_ns)
        (listed,) = client.get("/api/runs").json()["runs"]
        assert listed["status"] == "interrupted"
        page = client.get("/runs").text
        assert 'class="status-interrupted"' in page
        assert 'class="status-running"' not in page
    with Store.open(path, create=False) as st:
        html = render_report(st, run.id)
    assert 'class="status-interrupted"' in html


def _run_owned_by(st: Store, pid: int, start: int | None, boot: str | None) -> int:
    run = st.create_run("record", "r")
    st.conn.execute("UPDATE runs SET pid = ?, pid_start = ?, boot_id = ? WHERE id = ?",
                    (pid, start, boot, run.id))
    return run.id


def test_a_live_owner_keeps_its_run_running(store):
    run = store.create_run("record", "mine")
    assert store.run(run.id).status == "running"
    assert store.run(run.id).pid_start == process_start_ticks(os.getpid())


def test_a_reused_pid_is_not_mistaken_for_the_owner(store):
    """Same PID as a live process (this one), another start time: the owner is gone."""
    me = os.getpid()
    start = process_start_ticks(me)
    assert start is not None
    rid = _run_owned_by(store, me, start - 1, boot_id())
    assert store.run(rid).status == "interrupted"


def test_a_run_of_an_earlier_boot_is_interrupted(store):
    rid = _run_owned_by(store, os.getpid(), process_start_ticks(os.getpid()), "another-boot")
    assert store.run(rid).status == "interrupted"


def test_a_run_of_an_older_store_is_judged_by_its_pid(store):
    """Schema v3 recorded no start time: a live PID keeps the run running, a dead one not."""
    alive = _run_owned_by(store, os.getpid(), None, None)
    dead = _run_owned_by(store, 2**22 + 1, None, None)  # above the kernel's PID limit
    assert store.run(alive).status == "running"
    assert store.run(dead).status == "interrupted"


def test_another_hosts_run_is_left_running(store):
    rid = _run_owned_by(store, 2**22 + 1, 1, "b")
    store.conn.execute("UPDATE runs SET host = ? WHERE id = ?",
                       (socket.gethostname() + "-elsewhere", rid))
    assert store.run(rid).status == "running"  # cannot be checked from here


def test_a_v3_store_is_migrated_and_its_runs_judged_by_pid(tmp_path):
    """Schema v4 adds the owner's start time and boot: a v3 file gains the columns, and its
    runs (without them) keep working."""
    from perflab.store._schema import (  # noqa: PLC0415
        APPLICATION_ID,
        MIGRATIONS,
        SCHEMA_VERSION,
        _statements,
    )

    path = tmp_path / "v3.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for version in (1, 2, 3):
        for statement in _statements(MIGRATIONS[version]):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 3")
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("INSERT INTO runs (kind, name, status, started_ns, host, pid)"
                 " VALUES ('record', 'old', 'running', 1, ?, ?)",
                 (socket.gethostname(), 2**22 + 1))
    conn.close()
    with Store.open(path) as st:
        assert st.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        run = st.run("old")
        assert (run.status, run.pid_start, run.boot_id) == ("interrupted", None, None)
