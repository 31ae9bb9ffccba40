"""``perflab run -- CMD``: the child's stdout and stderr reach the terminal byte for byte and
are the run's log lines (labels run, stream, command); ``--no-logs`` leaves them alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.unit.logs._logrows import stored

CHILD = r"""
import sys
out, err = sys.stdout.buffer, sys.stderr.buffer
out.write(b"first line\n"); out.flush()
err.write(b"level=error msg=boom trace_id=4bf92f3577b34da6a3ce929d0e0e4736\n"); err.flush()
out.write(b"caf\xe9 \xe2\x9c\x93\r\n" + b"y" * 70000 + b"\n"); out.flush()
out.write(b"no newline at the end")
"""


def _run(tmp_path, *extra: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "perflab", "run", "--store",
                           str(tmp_path / "s.db"), *extra, "--", sys.executable, "-c", CHILD],
                          capture_output=True, timeout=120, check=False)


def test_output_passes_through_unchanged_and_is_captured_as_log_lines(tmp_path):
    r = _run(tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (b"first line\ncaf\xe9 \xe2\x9c\x93\r\n" + b"y" * 70000
                        + b"\nno newline at the end")
    assert r.stderr.startswith(b"level=error msg=boom trace_id=4bf92f3577b34da6a3ce929d0e0e4736\n")
    rows = stored(tmp_path / "s.db")
    program = Path(sys.executable).name
    out = [r for r in rows if r["labels"]["stream"] == "stdout"]
    err = [r for r in rows if r["labels"]["stream"] == "stderr"]
    assert [x["line"] for x in out] == ["first line", "caf\ufffd \u2713", "y" * 70000,
                                        "no newline at the end"]
    assert out[0]["labels"] == {"run": str(out[0]["run_id"]), "stream": "stdout",
                                "command": program}
    assert (err[0]["level"], err[0]["trace_id"]) == ("error", "4bf92f3577b34da6a3ce929d0e0e4736")
    assert {x["run_id"] for x in rows} == {1}


def test_no_logs_leaves_the_output_uncaptured(tmp_path):
    r = _run(tmp_path, "--no-logs")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"first line\n")
    assert stored(tmp_path / "s.db") == []


def test_output_of_a_background_process_is_waited_for_as_a_shell_pipe_does(tmp_path):
    r = subprocess.run([sys.executable, "-m", "perflab", "run", "--store",
                        str(tmp_path / "s.db"), "--", "sh", "-c",
                        "echo parent; (sleep 1; echo late) &"],
                       capture_output=True, timeout=120, check=False)
    assert (r.returncode, r.stdout) == (0, b"parent\nlate\n")
    assert [x["line"] for x in stored(tmp_path / "s.db")] == ["parent", "late"]
