"""Capture steps run in their own process groups: a hanging step (and what it started) is
stopped at its timeout, a failing one keeps its message, output is bounded, and a cancel
skips what has not run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perflab.incident._steps import MAX_OUTPUT_BYTES, Step, run_step, run_steps


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_hanging_step_and_its_children_are_stopped_at_the_timeout(tmp_path):
    pid_file = tmp_path / "child.pid"
    step = Step("hang", (f"sleep 300 & echo $! > {pid_file}; wait",), 1.0, perflab=False)
    started = time.monotonic()
    result = run_step(step)
    assert result.status == "timeout"
    assert result.message == "no answer within 1 s: stopped"
    assert time.monotonic() - started < 30  # bounded by the timeout and the kill grace
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)  # a killed child is reaped by init a moment later
    assert not _alive(child)


def test_a_failing_step_keeps_its_error_line_and_output():
    step = Step("fail", (("echo partial; echo 'perflab: error: no process with PID 9' >&2;"
                         " echo '  hint: x' >&2; exit 3"),), 10.0, perflab=False)
    result = run_step(step)
    assert (result.status, result.exit_code) == ("failed", 3)
    assert result.stdout == b"partial\n"
    assert result.message == "perflab: error: no process with PID 9"


def test_an_exit_code_a_check_uses_for_found_is_ok_when_allowed():
    assert run_step(Step("x", ("exit 1",), 10.0, perflab=False, ok_codes=(0, 1))).status == "ok"


def test_output_is_bounded_and_the_child_never_blocks_on_a_full_pipe():
    step = Step("big", ("head -c 20000000 /dev/zero",), 60.0, perflab=False)
    result = run_step(step)
    assert result.status == "ok"
    assert len(result.stdout) == MAX_OUTPUT_BYTES


def test_a_perflab_step_runs_this_perflab():
    result = run_step(Step("version", ("--version",), 60.0))
    assert result.status == "ok"
    assert b"perflab" in result.stdout


def test_cancelling_skips_what_has_not_run(tmp_path):
    steps = [Step(f"s{i}", ("true",), 10.0, perflab=False) for i in range(4)]
    seen: list[tuple[str, str]] = []

    def done(result):
        seen.append((result.step.name, result.status))
        return len(seen) < 1  # the first result cancels the rest (a full disk)

    run_steps(steps, parallel=1, on_done=done)
    assert seen[0] == ("s0", "ok")
    assert {s for _, s in seen[1:]} <= {"skipped", "ok"}
    assert sorted(n for n, _ in seen) == ["s0", "s1", "s2", "s3"]
    assert ("s3", "skipped") in seen


def test_a_niced_step_and_the_tools_it_starts_run_at_that_niceness():
    # the shell's own niceness and its child's (a tool the step starts), from /proc
    niceness = "cut -d' ' -f19 /proc/self/stat"
    step = Step("nice", (f'{niceness}; sh -c "{niceness}"; cat /proc/self/autogroup',), 10.0,
                perflab=False, nice=7)
    result = run_step(step)
    assert result.status == "ok", result.message
    base = os.getpriority(os.PRIO_PROCESS, 0)
    lines = result.stdout.splitlines()
    assert lines[:2] == [str(max(base, 7)).encode()] * 2
    # its session's share against other sessions (autogroup), where the kernel has them
    if Path("/proc/self/autogroup").exists() and os.geteuid() == 0:
        assert lines[2].endswith(b" nice 7"), lines
    assert run_step(Step("plain", ("cut -d' ' -f19 /proc/self/stat",), 10.0,
                         perflab=False)).stdout.split() == [str(base).encode()]


_NICED_PARENT = """
import os, sys
from perflab.incident._steps import Step, run_step
os.setpriority(os.PRIO_PROCESS, 0, int(sys.argv[1]))
for nice in (3, 7):
    out = run_step(Step("n", ("cut -d' ' -f19 /proc/self/stat",), 10.0, perflab=False,
                        nice=nice)).stdout
    print(out.decode().strip())
"""


def test_a_step_of_a_niced_capture_gets_its_own_niceness_not_the_sum():
    """`incident open` runs niced itself: its steps run at their niceness, or the process's
    when that is higher, not at the two added up."""
    out = subprocess.run([sys.executable, "-c", _NICED_PARENT, "5"], capture_output=True,
                         text=True, check=True, timeout=60)
    assert out.stdout.split() == ["5", "7"]


_NICE_SELF = """
import os
from pathlib import Path
from perflab.cli.incident import _nice_self
_nice_self(6)
print(os.getpriority(os.PRIO_PROCESS, 0))
print(Path("/proc/self/autogroup").read_text().strip() if Path("/proc/self/autogroup").exists()
      else "no autogroup")
"""


@pytest.mark.parametrize("own_session", [True, False])
def test_incident_open_nices_itself_and_its_session_only_when_it_leads_it(own_session):
    """The hub's automatic open leads a session of its own: that session's share is niced. A
    terminal's `incident open` shares the user's session, which is left alone."""
    ours = Path("/proc/self/autogroup").read_text() if Path("/proc/self/autogroup").exists() \
        else "no autogroup"
    out = subprocess.run([sys.executable, "-c", _NICE_SELF], capture_output=True, text=True,
                         check=True, timeout=60, start_new_session=own_session)
    lines = out.stdout.splitlines()
    assert lines[0] == str(max(6, os.getpriority(os.PRIO_PROCESS, 0)))
    if lines[1] == "no autogroup" or os.geteuid() != 0:
        return
    if own_session:
        assert lines[1].endswith(" nice 6"), lines
    else:
        assert lines[1] == ours.strip()
