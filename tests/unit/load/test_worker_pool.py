"""The load workers' processes: started ahead, in their own process group, and reaped."""

from __future__ import annotations

import os

from perflab.load._workers import WorkerPool, workers_needed


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
