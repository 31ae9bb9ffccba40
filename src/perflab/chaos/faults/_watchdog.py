"""The watchdog: a detached process that rolls a fault back when its controller dies.

``start_watchdog`` double-forks before the fault is applied: the grandchild is in a session of
its own (Ctrl-C in the terminal does not reach it), is adopted by init (or a subreaper), and
holds a pidfd of the controller. It waits on that pidfd; when the controller is gone, by
``kill -9`` or a crash, it undoes the journal the controller left. When the controller ends
normally it removes the journal after its own rollback, and the watchdog leaves with nothing
to do. It forks from the controller rather than starting a new interpreter, so it is armed in
milliseconds, with the undo code already loaded.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from pathlib import Path

from perflab.chaos.faults._journal import Journal
from perflab.chaos.faults._undo import undo_all

POLL_S = 0.5  # how often a waiting watchdog checks that its journal still exists


def start_watchdog(journal_path: Path) -> int:
    """Fork the watchdog of ``journal_path``; returns its PID once it is armed."""
    controller = os.getpid()
    ready_r, ready_w = os.pipe()
    child = os.fork()
    if child == 0:  # the first child: a new session, then the watchdog, then leave at once
        try:
            os.close(ready_r)
            os.setsid()
            if os.fork() == 0:
                _watch(controller, journal_path, ready_w)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.waitpid(child, 0)
    with os.fdopen(ready_r, "rb") as ready:
        line = ready.readline()  # EOF without a line: the watchdog could not arm
    if not line.startswith(b"ready "):
        msg = "the watchdog of the fault did not start"
        raise RuntimeError(msg)
    return int(line.split()[1])


def _watch(controller: int, journal_path: Path, ready_w: int) -> None:
    """The grandchild's whole life; never returns (``os._exit``)."""
    try:
        for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTSTP, signal.SIGTTOU):
            signal.signal(sig, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        pidfd = os.pidfd_open(controller)
        log = os.open(str(journal_path.with_suffix(".log")),
                      os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        # nothing of the controller's is ours: its store connection, sockets, the terminal
        keep = sorted({0, 1, 2, pidfd, ready_w})
        for low, high in zip(keep, [*keep[1:], os.sysconf("SC_OPEN_MAX")], strict=True):
            os.closerange(low + 1, high)
        os.write(ready_w, f"ready {os.getpid()}\n".encode())
        os.close(ready_w)
        while True:
            readable, _, _ = select.select([pidfd], [], [], POLL_S)
            if not journal_path.exists():  # the controller rolled back and removed it
                with contextlib.suppress(OSError):
                    if os.fstat(1).st_size == 0:
                        journal_path.with_suffix(".log").unlink()
                os._exit(0)
            if readable:
                break  # the controller has gone and left its journal: undo it
        _roll_back(journal_path, seen_ns=time.time_ns())
    finally:
        os._exit(0)


def _roll_back(journal_path: Path, *, seen_ns: int) -> None:
    """Undo the journal; its band ends at ``seen_ns``, when the controller was seen dead."""
    journal = Journal.read(journal_path)
    if journal is None:
        return
    started = time.monotonic()
    problems = undo_all(journal, status="aborted", by="watchdog", ended_ns=seen_ns)
    took = time.monotonic() - started
    with contextlib.suppress(OSError):
        os.write(1, (f"{time.strftime('%Y-%m-%dT%H:%M:%S')} controller {journal.controller} "
                     f"gone: fault {journal.fault_id} ({journal.kind}) rolled back in "
                     f"{took:.3f}s; problems: {problems or 'none'}\n").encode())
