"""A child tool gets SIGINT to finish its work, and is killed when it does not answer."""

from __future__ import annotations

import signal
import subprocess
import sys

from perflab.children import interrupt_then_kill

# the child says it is ready once its SIGINT handling is in place, so the signal is not early
_POLITE = ("import signal, sys, time\n"
           "signal.signal(signal.SIGINT, lambda *_: sys.exit(7))\n"
           "print('ready', flush=True)\n"
           "time.sleep(60)\n")
_DEAF = ("import signal, time\n"
         "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
         "print('ready', flush=True)\n"
         "time.sleep(60)\n")


def _started(code: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    return proc


def test_a_child_that_finishes_on_sigint_exits_its_own_way() -> None:
    with _started(_POLITE) as proc:
        interrupt_then_kill(proc, 30.0)
    assert proc.returncode == 7


def test_a_child_deaf_to_sigint_is_killed_after_its_grace() -> None:
    with _started(_DEAF) as proc:
        interrupt_then_kill(proc, 0.5)
    assert proc.returncode == -signal.SIGKILL


def test_a_child_that_has_exited_already_is_left_as_it_ended() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    proc.wait()
    interrupt_then_kill(proc, 1.0)
    assert proc.returncode == 3
