"""The load workers' processes: started ahead, in their own process group, and reaped."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from perflab.__main__ import runs_a_load_test
from perflab.load import _workers
from perflab.load._workers import WorkerPool, wait_exit, workers_needed


def test_workers_have_their_own_process_group():
    """A terminal's Ctrl-C goes to its foreground process group: the command gets it and
    stops its workers in order; a worker still importing never sees it (it would die with a
    KeyboardInterrupt traceback)."""
    with WorkerPool.prestart(1) as pool:
        (pipe,) = pool.take(1)
        (proc,) = [p for _, p in pool._used]  # the pool's own processes
        assert os.getpgid(proc.pid) == proc.pid != os.getpgrp()
        pipe.close()  # the worker reads EOF instead of a test, and exits
    assert proc.returncode == 0


def test_unused_workers_are_terminated_and_reaped():
    pool = WorkerPool.prestart(3)
    procs = [p for _, p in pool._idle]  # the pool's own processes
    pipes = pool.take(1)
    assert len(pipes) == 1
    assert all(p.returncode is not None for p in procs[1:])  # the two not taken: gone
    pipes[0].close()
    pool.close()
    assert all(p.returncode is not None for p in procs)


def test_how_many_workers_a_test_needs():
    assert workers_needed(8, connections=3, requests=None, closed_model=True) == 3
    assert workers_needed(8, connections=3, requests=None, closed_model=False) == 8
    assert workers_needed(8, connections=50, requests=2, closed_model=True) == 2
    assert workers_needed(4, connections=50, requests=0, closed_model=True) == 1


def test_wait_exit_reaps_a_process_that_exits():
    """The pool reaps an exiting worker through its pidfd (woken by the exit itself, where
    ``Popen.wait(timeout)`` would poll): the process is reaped, its exit status kept."""
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    assert wait_exit(proc, 60.0)
    assert proc.returncode == 3
    assert wait_exit(proc, 0.0)  # already reaped: nothing to wait for


def test_wait_exit_gives_up_on_a_process_still_running():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert not wait_exit(proc, 0.01)
        assert proc.returncode is None
    finally:
        proc.kill()
        proc.wait()


def test_wait_exit_without_pidfds_polls(monkeypatch: pytest.MonkeyPatch):
    """A kernel without pidfd_open (before 5.3): Popen's own wait."""
    def no_pidfd(pid: int) -> int:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(os, "pidfd_open", no_pidfd)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert not wait_exit(proc, 0.01)
    finally:
        proc.kill()
    assert wait_exit(proc, 60.0)
    assert proc.returncode is not None


def test_a_worker_started_early_is_adopted_by_the_pool():
    """`perflab load URL` starts its first worker before it imports the command line; the
    pool the command makes takes that one instead of starting another."""
    WorkerPool.start_early()
    (early,) = [p for _, p in _workers._early]
    with WorkerPool.prestart(2) as pool:
        assert _workers._early == []
        procs = [p for _, p in pool._idle]
        assert procs[0] is early
        assert len(procs) == 2
    assert all(p.returncode is not None for p in procs)


def test_an_early_worker_never_adopted_is_terminated_at_exit():
    """`perflab load --help` or a refused command line: the early worker is terminated and
    reaped when the process exits (the handler atexit runs)."""
    WorkerPool.start_early()
    (early,) = [p for _, p in _workers._early]
    _workers._drop_early()
    assert _workers._early == []
    assert early.returncode is not None


@pytest.mark.parametrize(("args", "test"), [
    (["load", "http://127.0.0.1:8080/"], True),
    (["load", "run", "-s", "scenario.py"], True),
    (["load", "http://127.0.0.1:8080/", "--help"], False),
    (["load", "-h"], False),
    (["load"], False),
    (["load", "compare", "1", "2"], False),
    (["load", "http://127.0.0.1:8080/", "--cluster", "local:2"], False),  # on Dask workers
    (["load", "-s", "s.py", "--cluster=tcp://127.0.0.1:8786"], False),
    (["top"], False),
    ([], False),
])
def test_which_command_lines_start_a_worker_early(args, test):
    assert runs_a_load_test(args) is test
