"""`perflab stacks` on a real Python program with a planted lock-order deadlock: with the agent
and lockwatch the cycle is certain and names both functions; py-spy alone marks the waiting
threads but claims no cycle; lockwatch reports the inversion of a run that never deadlocks; and
with the fault switched off there is no finding."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tests.conftest import require_root
from tests.unit.debug._schema import validate

from perflab.cli import main

if TYPE_CHECKING:
    from collections.abc import Iterator

PROGRAM = Path(__file__).parent.parent.parent / "fixtures" / "debug" / "py_lock_order.py"
SRC = str(Path(__file__).parent.parent.parent.parent / "src")


@contextmanager
def program(tmp_path: Path, **env: str) -> Iterator[int]:
    """Start the fixture; yield its PID once it printed "ready"."""
    full = {**os.environ, "PYTHONPATH": SRC, "PERFLAB_DEBUG_DIR": str(tmp_path / "agents"),
            **env}
    proc = subprocess.Popen([sys.executable, str(PROGRAM)], stdout=subprocess.PIPE, text=True,
                            env=full, start_new_session=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        yield proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


def _stacks(capsys, monkeypatch, tmp_path, pid: int, *args: str) -> tuple[int, dict]:
    monkeypatch.setenv("PERFLAB_DEBUG_DIR", str(tmp_path / "agents"))
    code = main(["stacks", str(pid), "--json", "--store", str(tmp_path / "s.db"), *args])
    return code, json.loads(capsys.readouterr().out)


def test_the_agent_names_the_deadlock_cycle_for_certain(capsys, monkeypatch, tmp_path):
    with program(tmp_path, LOCKWATCH="1") as pid:
        code, doc = _stacks(capsys, monkeypatch, tmp_path, pid)
    assert (code, doc["source"]) == (1, "agent")
    validate(doc, "stacks")
    (deadlock,) = doc["deadlocks"]
    assert sorted(deadlock["functions"]) == ["transfer_ab", "transfer_ba"]
    assert len(doc["wait_for"]) == 2


def test_py_spy_marks_the_waiting_threads_without_claiming_a_cycle(capsys, monkeypatch,
                                                                     tmp_path):
    require_root("py-spy reads another process's memory")
    with program(tmp_path) as pid:
        code, doc = _stacks(capsys, monkeypatch, tmp_path, pid, "--locals")
    assert (code, doc["source"], doc["deadlocks"]) == (0, "py-spy", [])
    validate(doc, "stacks")
    waiting = sorted(t["function"] for t in doc["threads"] if t["waits_for"])
    assert waiting == ["transfer_ab", "transfer_ba"]


def test_lockwatch_reports_the_inversion_of_a_run_that_never_deadlocks(capsys, monkeypatch,
                                                                       tmp_path):
    with program(tmp_path, LOCKWATCH="1", MODE="sequential") as pid:
        code, doc = _stacks(capsys, monkeypatch, tmp_path, pid)
    assert (code, doc["deadlocks"]) == (1, [])
    validate(doc, "stacks")
    (inversion,) = doc["inversions"]
    assert inversion["functions"] == ["transfer_ba", "transfer_ab"]


def test_one_lock_order_is_no_finding(capsys, monkeypatch, tmp_path):
    with program(tmp_path, LOCKWATCH="1", MODE="sequential", LOCK_ORDER="off") as pid:
        code, doc = _stacks(capsys, monkeypatch, tmp_path, pid)
    assert (code, doc["deadlocks"], doc["inversions"]) == (0, [], [])


def test_perflab_lockwatch_env_under_run_debug_needs_no_code_change(capsys, monkeypatch,
                                                                     tmp_path):
    """The fixture without LOCKWATCH does not import perflab: `perflab run --debug`'s
    sitecustomize starts the agent, and PERFLAB_LOCKWATCH=1 turns lockwatch on before the
    program makes its locks."""
    from perflab.debug import agent_env  # noqa: PLC0415

    env = agent_env({"PYTHONPATH": SRC, "PERFLAB_LOCKWATCH": "1"})
    with program(tmp_path, **env) as pid:
        code, doc = _stacks(capsys, monkeypatch, tmp_path, pid)
    assert (code, doc["source"]) == (1, "agent")
    assert sorted(doc["deadlocks"][0]["functions"]) == ["transfer_ab", "transfer_ba"]


def test_a_process_that_is_not_python_or_is_gone_is_a_clear_error(capsys, tmp_path):
    require_root("py-spy reads another process's memory")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        code = main(["stacks", str(sleeper.pid), "--store", str(tmp_path / "s.db")])
        err = capsys.readouterr().err
    finally:
        sleeper.kill()
        sleeper.wait()
    assert code == 3
    assert err.startswith(f"perflab: error: PID {sleeper.pid} is not a Python process")
    assert "hint:" in err
    code = main(["stacks", str(sleeper.pid), "--store", str(tmp_path / "s.db")])
    assert code == 3
    assert capsys.readouterr().err.startswith(f"perflab: error: no process with PID {sleeper.pid}")
