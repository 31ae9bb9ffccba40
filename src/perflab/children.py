"""Stopping a child process the way its tool expects, and for sure.

tcpdump, bpftrace and ``perflab serve`` each finish their work on SIGINT (flush the capture and
print its counts, print the maps, end the run), so they get SIGINT first; one that has not
exited after its grace (still compiling, attaching, hung) is killed, so nothing waits on it.
"""

from __future__ import annotations

import signal
import subprocess
from typing import Any


def interrupt_then_kill(proc: subprocess.Popen[Any], grace_s: float) -> None:
    """SIGINT, then SIGKILL if ``proc`` has not exited within ``grace_s``; returns once it
    has exited (its exit code in ``proc.returncode``)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
