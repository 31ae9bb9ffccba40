"""Ending a perflab process as Ctrl-C does, for the capture tests."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess


def interrupt(proc: subprocess.Popen[bytes], timeout_s: float) -> bytes:
    """SIGINT (Ctrl-C) to ``proc``; its stdout once it has ended, which must be with exit 0
    (killed instead if it does not end in ``timeout_s``)."""
    proc.send_signal(signal.SIGINT)
    try:
        stdout, _ = proc.communicate(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, proc.returncode
    return stdout
