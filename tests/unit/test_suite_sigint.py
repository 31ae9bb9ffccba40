"""The suite tests Ctrl-C even when it was started with SIGINT ignored (a background job)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Started with SIGINT ignored; restores it, then interrupts a child of its own and reports how the
# child ended. Without the restore the child ignores the signal and outlives the 20 s wait.
SCRIPT = """
import signal, subprocess, sys, time
from tests.conftest import restore_default_sigint
restore_default_sigint()
sleeper = "import time; print('up', flush=True); time.sleep(60)"
child = subprocess.Popen([sys.executable, "-c", sleeper], stdout=subprocess.PIPE, text=True)
child.stdout.readline()
child.send_signal(signal.SIGINT)
try:
    print(child.wait(timeout=20))
except subprocess.TimeoutExpired:
    child.kill()
    print("ignored")
"""


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_a_suite_started_with_sigint_ignored_gives_its_children_a_working_ctrl_c():
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, preexec_fn=_ignore_sigint, check=True)
    # Python ends an uncaught KeyboardInterrupt by killing itself with SIGINT
    assert done.stdout.split() == [str(-signal.SIGINT)], done.stdout + done.stderr
