"""Names from the system are printed as text, never as layout or markup.

A command line may hold a newline (``bash -c`` with a script: CI runs one) or an escape
sequence, and a process may name itself ``[x]``, which rich would read as markup. `top`, `proc`,
`net`, `runs` and `show` must keep each such name on its one row, as ``ps`` does (control
characters shown as ``?``), and print brackets as they are.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from perflab.cli import main

pytestmark = pytest.mark.integration

HOSTILE_ARG = "one\ntwo[bold]x[/]\x1b[2Jz"
SHOWN_ARG = "one?two[bold]x[/]?[2Jz"
COMM = "[plabq]"
CHILD = """
import socket, sys, time
with open("/proc/self/comm", "w") as fh:
    fh.write(sys.argv[2])
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
time.sleep(300)
"""


@pytest.fixture
def hostile() -> Iterator[tuple[int, int]]:
    """A listening process with a newline, markup and an escape in its command line."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, HOSTILE_ARG, COMM],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        deadline = time.monotonic() + 10
        while Path(f"/proc/{proc.pid}/comm").read_text().strip() != COMM:
            assert time.monotonic() < deadline, "the child did not rename itself"
            time.sleep(0.02)
        yield proc.pid, port
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def row_of(out: str, pid: int) -> str:
    rows = [line for line in out.splitlines() if line.lstrip().startswith(f"{pid} ")]
    assert len(rows) == 1, out
    return rows[0]


def test_top_keeps_the_command_on_its_row(hostile, capsys, monkeypatch):
    pid, _ = hostile
    monkeypatch.setenv("COLUMNS", "500")  # room for the whole command line
    assert main(["top", "--once", "--interval", "50ms", "--filter", str(pid)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert row_of(out, pid).endswith(f"{SHOWN_ARG} {COMM}")


def test_proc_shows_the_command_on_one_line(hostile, capsys):
    pid, _ = hostile
    assert main(["proc", str(pid), "--interval", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert SHOWN_ARG in out
    assert not any(line.lstrip().startswith("two[bold]") for line in out.splitlines())


def test_net_prints_a_bracketed_process_name_as_it_is(hostile, capsys):
    pid, port = hostile
    assert main(["net", "--listening", "--pid", str(pid)]) == 0
    out = capsys.readouterr().out
    listener = next(line for line in out.splitlines() if f":{port}" in line)
    assert f"{COMM}/{pid}" in listener


def test_runs_and_show_print_a_run_name_as_it_is(tmp_path, capsys):
    store = str(tmp_path / "s.db")
    name = "[bold]release\ncandidate"
    assert main(["record", "-d", "1s", "-i", "250ms", "--name", name, "--store", store]) == 0
    capsys.readouterr()
    assert main(["runs", "--store", store]) == 0
    assert "[bold]release?candidate" in capsys.readouterr().out
    assert main(["show", "--store", store, "1"]) == 0
    assert "[bold]release?candidate" in capsys.readouterr().out.splitlines()[0]


def test_json_keeps_the_raw_command_line(hostile, capsys):
    """printable() is for terminals, not for data: --json carries the arguments as they are."""
    pid, _ = hostile
    assert main(["proc", str(pid), "--json", "--interval", "0.1"]) == 0
    assert HOSTILE_ARG in json.loads(capsys.readouterr().out)["process"]["cmdline"]
    assert main(["top", "--json", "--interval", "50ms", "--filter", str(pid)]) == 0
    [row] = json.loads(capsys.readouterr().out)["processes"]
    assert f" {HOSTILE_ARG} {COMM}" in row["cmdline"]


def test_top_cuts_a_wide_command_line_at_the_terminals_cells(capsys, monkeypatch):
    """日本 takes four cells for two characters: the row still fits 80 cells and says it was
    cut (an ellipsis), where a count of characters would have let it run over."""
    from rich.cells import cell_len  # noqa: PLC0415  # the terminal's measure of a string

    name = "日本語のテキスト" * 6
    proc = subprocess.Popen([name, "300"], executable=shutil.which("sleep"))
    try:
        monkeypatch.setenv("COLUMNS", "80")
        assert main(["top", "--once", "--interval", "50ms", "--filter", str(proc.pid)]) == 0
        row = row_of(capsys.readouterr().out, proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert cell_len(row) <= 80
    assert "日本語のテキスト" in row
    assert row.rstrip().endswith("…")
