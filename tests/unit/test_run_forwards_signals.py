"""``perflab run`` passes a signal on to its child whichever of its threads the kernel gave
the signal to."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from typing import Any

CHILD = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))
print("ready", flush=True)
time.sleep(30)
"""


class _RecorderTakingTheSignal:
    """A recorder whose thread is the one the SIGTERM is delivered to (the kernel may pick any
    thread that does not block it), once the child is ready."""

    samples_written = 0

    def __init__(self, child: subprocess.Popen[bytes]) -> None:
        self.child = child

    def run(self, stop: threading.Event) -> None:
        assert self.child.stdout is not None
        assert self.child.stdout.readline().strip() == b"ready"
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
        stop.wait(60)

    def close(self) -> None:
        pass


def test_a_signal_taken_by_the_recorders_thread_still_reaches_the_child(monkeypatch) -> None:
    import perflab.cli  # noqa: PLC0415  # see below

    # importing the module cli/run.py binds the package's name ``run`` (the entry point) to it:
    # put the entry point back after this test (test_cli calls it)
    monkeypatch.setattr(perflab.cli, "run", perflab.cli.run)
    from perflab.cli.run import _supervise  # noqa: PLC0415  # after the line above

    child = subprocess.Popen([sys.executable, "-c", CHILD], process_group=0,
                             stdout=subprocess.PIPE)
    rec: Any = _RecorderTakingTheSignal(child)
    try:
        code, _ = _supervise(child, rec)
    finally:
        child.kill()
        child.wait()
        assert child.stdout is not None
        child.stdout.close()
    assert code == 42  # the child's own SIGTERM handler, not the end of its 30 s sleep
