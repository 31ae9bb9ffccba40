"""A full disk (issue 11, problem 6) is "disk full" (exit 3), not a damaged store: what was
committed is kept, `record` ends its run `failed`, the hub's recording stops with one log line.

SQLite's ``max_page_count`` makes a store full exactly as a full disk does (SQLITE_FULL);
tests/integration/test_store_media.py fills a real tmpfs."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import pytest
from test_cli_runs import run_cli

from perflab.errors import StoreFull
from perflab.store import Store
from perflab.store import _store as store_module
from perflab.web._recording import BackgroundRecording


def make_full(conn: sqlite3.Connection, spare_pages: int = 0) -> None:
    """No page beyond the current ones (plus ``spare_pages``) may be added: a full disk."""
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + spare_pages}")


def test_a_full_store_raises_disk_full_not_a_rollback_error(store_path):
    with Store.open(store_path) as st:
        run = st.create_run("record", "r")
        sid = st.series_id(run.id, "x")
        st.insert_samples([(sid, i, float(i)) for i in range(100)])
        make_full(st.conn)
        with pytest.raises(StoreFull, match=r"^disk full: .*everything committed so far is kept"
                           ) as info:
            st.insert_samples([(sid, 1000 + i, float(i)) for i in range(50_000)])
        assert "rollback" not in str(info.value)
        assert info.value.exit_code == 3
        assert isinstance(info.value.__cause__, sqlite3.Error)
        assert st.samples(sid) == [(i, float(i)) for i in range(100)]  # committed: kept
    with Store.open(store_path) as st:
        assert st.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert len(st.samples(sid)) == 100


@pytest.fixture
def full_soon(monkeypatch):
    """Every store opened from now on can grow by 8 pages only, as on a nearly full disk."""
    real = store_module.connect  # type: ignore[attr-defined]  # the name Store.open calls

    def connect(*args, **kwargs):
        conn, readonly = real(*args, **kwargs)
        if not readonly:
            make_full(conn, spare_pages=8)
        return conn, readonly

    monkeypatch.setattr(store_module, "connect", connect)


def test_record_filling_the_disk_exits_3_and_ends_its_run_failed(capsys, store_path, full_soon):
    code, out, err = run_cli(capsys, "record", "-i", "50ms", "-d", "120s", "--store",
                             str(store_path))
    assert code == 3, err  # it stopped at the full disk (at -d it would exit 0)
    lines = err.strip().splitlines()
    assert lines[0].startswith("perflab: error: disk full: the store ")
    assert lines[1].startswith("  hint: free some space")
    assert len(lines) == 2
    assert out == ""
    with Store.open(store_path, create=False, readonly=True) as st:
        run = st.run("last")
        assert run.status == "failed"
        assert run.meta["error"].startswith("disk full")
        assert run.meta["samples"] > 0
        (load1,) = st.series(run.id, name="system.load1")
        assert len(st.samples(load1.id)) >= 1  # what was committed is there


def test_the_hubs_recording_stops_with_one_line_on_a_full_disk(store_path, caplog):
    Store.open(store_path).close()
    rec = BackgroundRecording(store_path, interval_s=0.05)
    run_id = rec.start()
    assert rec._thread is not None  # the recording's own connection
    with caplog.at_level(logging.ERROR, logger="perflab.record"):
        make_full(rec._thread._store.conn, spare_pages=4)
        deadline = time.monotonic() + 60
        while rec.error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        rec.stop()  # must not raise
    assert rec.error is not None
    assert rec.error.startswith("disk full")
    (record,) = [r for r in caplog.records if "recording stopped" in r.getMessage()]
    assert record.exc_info is None  # one line, no traceback
    with Store.open(store_path, create=False) as st:
        run = st.run(run_id)
        assert run.status == "failed"
        assert run.meta["error"].startswith("disk full")


def test_a_full_store_keeps_serving_reads(store_path: Path):
    with Store.open(store_path) as st:
        run = st.create_run("record", "r")
        sid = st.series_id(run.id, "x")
        st.insert_samples([(sid, 1, 1.0)])
        make_full(st.conn)
        with pytest.raises(StoreFull):
            st.insert_samples([(sid, 2 + i, 2.0) for i in range(50_000)])
        assert st.run(run.id).name == "r"
        assert st.samples(sid) == [(1, 1.0)]
