"""The worker processes of load tests: started (before the test is known, if asked), reaped.

A worker is a fresh interpreter (``python -m perflab.load._worker FD``) joined to the parent
by a socket pair, rather than a multiprocessing fork: nothing of the caller (its
``__main__``, threads, open store, listening sockets) leaks into the worker, and no ``if
__name__ == "__main__"`` guard is asked of scripts that use the engine. Its start costs an
interpreter and the engine's imports (about 0.1 s of CPU, numpy not among them). ``perflab
load`` starts its workers first thing (``WorkerPool.prestart``), so that those imports run
while the command line, the checks and the store are being prepared, not after them.

A worker that is not used (the test was refused, or needs fewer) is terminated at once; one
that ran a test exits by itself once it has reported, and ``close`` reaps it.

Earlier still: ``perflab load URL`` starts one worker before it imports the command line
(``WorkerPool.start_early``, from ``perflab.__main__``), so that the worker's interpreter and
imports overlap click's and the command's; ``prestart`` adopts it. One never adopted (the
command turned out to be ``--help``, or failed first) is terminated when the process exits.
"""

from __future__ import annotations

import atexit
import os
import select
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from types import TracebackType

_EXIT_WAIT_S = 2.0  # a worker that has reported exits at once; beyond this it is killed
# workers started before the command line was parsed, waiting for a pool to adopt them
_early: list[tuple[socket.socket, subprocess.Popen[bytes]]] = []


def workers_needed(asked: int, *, connections: int, requests: int | None,
                   closed_model: bool) -> int:
    """How many workers a test uses: as asked, but in the closed model no more than its
    connections (each worker needs one), and never more than its requests."""
    n = min(asked, connections) if closed_model else asked
    if requests is not None:
        n = min(n, requests)
    return max(1, n)


def spawn_worker() -> tuple[socket.socket, subprocess.Popen[bytes]]:
    """A worker process and our end of the socket pair that joins us; it waits for its
    test."""
    ours, theirs = socket.socketpair()
    env = dict(os.environ)
    pkg_root = str(Path(__file__).resolve().parents[2])  # the directory holding `perflab`
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_root, env.get("PYTHONPATH")) if p)
    # its own process group: a terminal's Ctrl-C reaches the parent only (even while the
    # worker is still importing), and the parent stops its workers in order
    proc = subprocess.Popen(
        [sys.executable, "-m", "perflab.load._worker", str(theirs.fileno())],
        pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL, process_group=0,
    )
    theirs.close()
    return ours, proc


class WorkerPool:
    """Worker processes for one test: ``take(n)`` hands out ``n`` (starting what is missing),
    ``close()`` terminates the unused ones and reaps them all. A context manager."""

    def __init__(self) -> None:
        self._idle: list[tuple[socket.socket, subprocess.Popen[bytes]]] = []
        self._used: list[tuple[Connection, subprocess.Popen[bytes]]] = []

    @staticmethod
    def start_early() -> None:
        """Start one worker now, for the next ``prestart`` to adopt (terminated at exit if
        none does)."""
        if not _early:
            atexit.register(_drop_early)
        _early.append(spawn_worker())

    @classmethod
    def prestart(cls, n: int) -> WorkerPool:
        """A pool with ``n`` workers already starting (those started early among them)."""
        pool = cls()
        adopted = min(n, len(_early))
        pool._idle.extend(_early[:adopted])
        del _early[:adopted]
        try:
            for _ in range(n - adopted):
                pool._idle.append(spawn_worker())
        except BaseException:
            pool.close()
            raise
        return pool

    def take(self, n: int) -> list[Connection]:
        """``n`` workers' connections (the pool keeps the processes, to reap them)."""
        # imported here: `perflab load` starts its workers before it imports anything else
        from multiprocessing.connection import Connection  # noqa: PLC0415

        while len(self._idle) < n:
            self._idle.append(spawn_worker())
        taken, self._idle = self._idle[:n], self._idle[n:]
        for sock, proc in self._idle:  # not needed: they would only wait
            _terminate(sock, proc)
        self._idle = []
        pipes = []
        for sock, proc in taken:
            pipe = Connection(sock.detach())
            self._used.append((pipe, proc))
            pipes.append(pipe)
        return pipes

    def close(self) -> None:
        """Terminate the workers never used; wait for the others to exit (kill them after
        ``_EXIT_WAIT_S``); close every connection."""
        for sock, proc in self._idle:
            _terminate(sock, proc)
        self._idle = []
        for pipe, proc in self._used:
            if not wait_exit(proc, _EXIT_WAIT_S):
                proc.kill()
                proc.wait()
            pipe.close()
        self._used = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def wait_exit(proc: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """Reap ``proc`` once it exits, within ``timeout_s``; False if it is still running.

    ``Popen.wait(timeout)`` polls, sleeping up to 50 ms between looks: a worker that exits
    just after a look is reaped up to 50 ms late, and the command's exit with it. A pidfd
    becomes readable the moment the process exits."""
    if proc.returncode is not None:
        return True
    try:
        pidfd = os.pidfd_open(proc.pid)
    except OSError:  # already reaped, or a kernel without pidfds (before 5.3): poll
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return False
        return True
    try:
        readable, _, _ = select.select([pidfd], [], [], timeout_s)
    finally:
        os.close(pidfd)
    if not readable:
        return False
    proc.wait()  # it has exited: this reaps it at once
    return True


def _drop_early() -> None:
    """Terminate and reap the early workers no pool adopted."""
    while _early:
        _terminate(*_early.pop())


def _terminate(sock: socket.socket, proc: subprocess.Popen[bytes]) -> None:
    sock.close()
    proc.terminate()  # SIGTERM: it has sent nothing and holds nothing yet
    if not wait_exit(proc, _EXIT_WAIT_S):
        proc.kill()
        proc.wait()
