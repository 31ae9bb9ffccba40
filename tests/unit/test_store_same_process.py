"""Two stores on one file in one process must not lose each other's writes (store bug found by
the demo: a header check opened and closed the file outside SQLite, which dropped the process's
POSIX locks, so another process's last close deleted the WAL the first connection still used)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from perflab.errors import StoreCorrupt
from perflab.store import Store

SRC = str(Path(__file__).resolve().parents[2] / "src")


def events_seen_by_another_process(path: Path, run_id: int) -> int:
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from perflab.store import Store\n"
            "s = Store.open(sys.argv[2]); print(len(s.events(int(sys.argv[3])))); s.close()")
    out = subprocess.run([sys.executable, "-c", code, SRC, str(path), str(run_id)],
                         capture_output=True, text=True, check=True)
    return int(out.stdout)


def test_a_second_store_in_the_process_keeps_the_first_ones_writes_visible(store_path):
    first = Store.open(store_path)
    run = first.create_run("demo", "demo")
    Store.open(store_path).close()  # e.g. a recorder thread's own connection
    first.add_event(run.id, "phase", "one")
    assert events_seen_by_another_process(store_path, run.id) == 1  # its close ends its use
    first.add_event(run.id, "phase", "two")
    assert events_seen_by_another_process(store_path, run.id) == 2
    third = Store.open(store_path)  # no "disk I/O error"
    assert len(third.events(run.id)) == 2
    third.close()
    first.close()


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are my notes, not a database" * 10)
    with pytest.raises(StoreCorrupt, match=r"is not a perflab store \(not an SQLite file\)"):
        Store.open(path)
    assert path.read_bytes() == b"these are my notes, not a database" * 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
