"""A damaged store (issue 11, problem 5): every command says so in one line (exit 2), none
writes to it, and `perflab store check` runs the full integrity check on demand."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
from pathlib import Path

import pytest
from test_cli_runs import run_cli
from tests._schemas import validate

from perflab.errors import StoreCorrupt
from perflab.store import BatchWriter, Store

T0 = 1_795_000_000_000_000_000
S = 1_000_000_000


def _fill(path: Path) -> None:
    """Two finished runs, enough samples for `samples` to be a b-tree of several levels."""
    with Store.open(path) as st:
        for r in range(2):
            run = st.create_run("record", f"run{r}", started_ns=T0 + r * 1000 * S)
            w = BatchWriter(st, run.id)
            sids = [w.series(f"system.s{i}", {"k": str(i)}) for i in range(20)]
            for t in range(500):
                for sid in sids:
                    w.add(sid, run.started_ns + t * S, float(t))
            w.flush()
            st.compact_samples()
            st.finish_run(run.id, "ok", ended_ns=run.started_ns + 499 * S)


def wreck(path: Path, table: str) -> None:
    """Overwrite 8 KB from the root page of ``table`` on, as a bad disk or a stray write would.
    The file is read here through SQLite only, then written while no connection is open."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?",
                            (table,)).fetchone()[0]
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    data = bytearray(path.read_bytes())
    start = (root - 1) * page
    data[start:start + 8192] = b"\xa5" * 8192
    path.write_bytes(bytes(data))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def filled(store_path: Path) -> Path:
    _fill(store_path)
    return store_path


def _one_line_damage(code: int, err: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 2, err
    assert lines[0].startswith("perflab: error: the store ")
    assert "is damaged" in lines[0]
    assert lines[1].startswith("  hint: ")
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [
    ["runs"], ["show", "1"], ["query", "1", "system.s1"], ["report", "1"],
    ["record", "-d", "1s", "-i", "100ms"],
])
def test_every_command_refuses_a_store_damaged_in_its_runs_untouched(capsys, filled, tmp_path,
                                                                    monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    wreck(filled, "runs")
    before = digest(filled)
    code, _, err = run_cli(capsys, *argv, "--store", str(filled))
    _one_line_damage(code, err)
    assert digest(filled) == before
    assert not (tmp_path / "perflab-report-1.html").exists()


def test_record_does_not_write_into_a_store_damaged_in_its_samples(capsys, filled):
    """The runs table is sound, so a cheap check passes; the writer checks the whole file."""
    wreck(filled, "samples")
    before = digest(filled)
    code, out, err = run_cli(capsys, "record", "-d", "1s", "-i", "100ms", "--store", str(filled))
    _one_line_damage(code, err)
    assert out == ""
    assert digest(filled) == before  # no run inserted


def test_a_reader_meeting_a_damaged_page_says_so_in_one_line(capsys, filled):
    wreck(filled, "samples")
    before = digest(filled)
    code, _, err = run_cli(capsys, "show", "1", "--store", str(filled))
    _one_line_damage(code, err)
    assert "perflab store check" in err
    assert digest(filled) == before


def test_a_damaged_query_inside_the_store_context_is_store_corrupt(filled):
    wreck(filled, "samples")
    with pytest.raises(StoreCorrupt, match="is damaged"), Store.open(filled, create=False) as st:
        st.run_values(1)


def test_store_check_passes_a_sound_store(capsys, filled):
    code, out, _ = run_cli(capsys, "store", "check", "--store", str(filled), "--json")
    assert code == 0
    doc = json.loads(out)
    validate(doc, "store-check")
    assert doc["ok"] is True
    assert doc["problems"] == []
    code, out, _ = run_cli(capsys, "store", "check", "--store", str(filled))
    assert code == 0
    assert out.startswith(f"{filled}: ok (")


def test_store_check_lists_the_damage_and_exits_1_untouched(capsys, filled):
    wreck(filled, "samples")
    before = digest(filled)
    code, out, _ = run_cli(capsys, "store", "check", "--store", str(filled), "--json")
    assert code == 1
    doc = json.loads(out)
    validate(doc, "store-check")
    assert doc["ok"] is False
    assert doc["problems"]
    assert all("\n" not in p for p in doc["problems"])
    code, out, err = run_cli(capsys, "store", "check", "--store", str(filled))
    assert code == 1
    assert out.startswith(f"{filled}: damaged, ")
    assert "hint:" in err
    assert digest(filled) == before


def test_store_check_of_no_store_or_a_foreign_file_is_exit_2(capsys, tmp_path):
    code, _, err = run_cli(capsys, "store", "check", "--store", str(tmp_path / "nope.db"))
    assert (code, err.startswith("perflab: error: no store at")) == (2, True)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n" * 100)
    code, _, err = run_cli(capsys, "store", "check", "--store", str(notes))
    assert (code, "not a perflab store" in err) == (2, True)


def test_main_maps_a_damage_error_that_no_store_boundary_caught(capsys, filled, monkeypatch):
    """A command reading the store outside ``with Store``: main() still prints one line."""
    import click  # noqa: PLC0415

    from perflab import cli  # noqa: PLC0415

    @click.command()
    def raw() -> None:
        conn = sqlite3.connect(filled)
        try:
            conn.execute("SELECT COUNT(*), SUM(value) FROM samples").fetchall()
        finally:
            conn.close()

    monkeypatch.setitem(cli.COMMANDS, "raw", (f"{__name__}:raw", "test"))
    monkeypatch.setattr(sys.modules[__name__], "raw", raw, raising=False)
    wreck(filled, "samples")
    code, _, err = run_cli(capsys, "raw")
    assert code == 2
    assert err.startswith("perflab: error: the store is damaged (")
    assert "Traceback" not in err
