"""The parent side of a load test: start the workers, merge their seconds, stop them cleanly.

Workers are separate processes (``_workers``), given to the runner already started or started
by it; each sends one message a second. The parent merges the seconds of all workers into one
``Interval`` and hands it to ``on_interval`` (live line, store, thresholds), which may ask the
test to stop (``--abort-on-fail``). Ctrl-C sends every worker ``stop``: they finish, send what
they measured, and the result is marked ``aborted``. A second Ctrl-C kills them.
"""

from __future__ import annotations

import time
from multiprocessing.connection import wait
from typing import TYPE_CHECKING

from perflab.errors import UsageError
from perflab.load._messages import Failed, Share, Start, Stop, Tick, WorkerEnd
from perflab.load._workers import WorkerPool

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.connection import Connection

    from perflab.load._config import LoadConfig
    from perflab.load._contracts import LoadStatus
    from perflab.load._result import Interval, LoadResult
    from perflab.load._totals import Totals

_START_DELAY_NS = 20_000_000  # all workers start together, shortly after all are ready
_READY_TIMEOUT_S = 60.0
_STOP_MARGIN_S = 3.0  # beyond the drain: a busy machine may deliver a worker's end late


class ScenarioFailed(UsageError):
    """The user's scenario raised; the message is the user's traceback."""


class LoadRunner:
    """Runs one test on worker processes. ``workers``: a pool started earlier (its owner
    closes it, which reaps the workers); by default the runner starts its own and reaps them
    before ``run`` returns."""

    def __init__(self, cfg: LoadConfig, *,
                 on_interval: Callable[[Interval], bool | None] | None = None,
                 on_start: Callable[[int], None] | None = None,
                 workers: WorkerPool | None = None,
                 shares: tuple[int, int] | None = None,
                 start_at: Callable[[], int] | None = None) -> None:
        self.cfg = cfg
        self.on_interval = on_interval
        self.on_start = on_start
        self.workers = workers
        # (first, total): this runner's workers take shares first .. first+workers-1 of
        # total (a Dask task's part of a distributed test); by default all of them
        self.shares = shares
        # once every worker is ready: the wall-clock time to start at (a distributed test's
        # tasks start together); by default at once
        self.start_at = start_at
        self.status: LoadStatus = "ok"
        self.failure: str | None = None
        self.warnings: list[str] = []

    def run(self) -> LoadResult:
        cfg = self.cfg
        n = cfg.workers
        pool = self.workers if self.workers is not None else WorkerPool()
        try:
            pipes = pool.take(n)
            first, total = self.shares if self.shares is not None else (0, n)
            for i, pipe in enumerate(pipes):
                pipe.send(Share(cfg, first + i, total))
            return self._drive(pipes)
        finally:
            if self.workers is None:
                pool.close()

    def _await_ready(self, pipes: list[Connection]) -> None:
        waiting = set(range(len(pipes)))
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while waiting:
            ready = wait([pipes[i] for i in waiting], timeout=max(0.0, deadline - time.monotonic()))
            if not ready:
                raise UsageError("the load workers did not start within a minute")
            for conn in ready:
                i = pipes.index(conn)  # type: ignore[arg-type]  # wait returns our objects
                try:
                    msg = pipes[i].recv()
                except EOFError:
                    raise UsageError("a load worker exited while starting") from None
                if isinstance(msg, Failed):
                    raise ScenarioFailed(msg.text, hint="fix the scenario file and run again")
                waiting.discard(i)

    def _drive(self, pipes: list[Connection]) -> LoadResult:
        cfg = self.cfg
        self._await_ready(pipes)
        delay_ns = _START_DELAY_NS
        if self.start_at is not None:
            delay_ns = max(_START_DELAY_NS, self.start_at() - time.time_ns())
        start_mono = time.monotonic_ns() + delay_ns
        start_wall = time.time_ns() + delay_ns
        if self.on_start is not None:
            self.on_start(start_wall)
        for pipe in pipes:
            pipe.send(Start(start_mono, cfg.effective_duration_s))
        n = len(pipes)
        from perflab.load._totals import Totals  # noqa: PLC0415  # numpy: see _totals

        acc = Totals(cfg, start_mono, n)
        done = [False] * n
        # the workers end by themselves at the duration plus the drain; past that (and a
        # margin for a busy machine) the parent asks them to stop, and then stops waiting
        planned = _planned_s(cfg)
        hard_stop = (None if planned is None
                     else time.monotonic() + delay_ns / 1e9 + planned + cfg.drain_s
                     + _STOP_MARGIN_S)

        stop_all = _Stopper(pipes, done, acc, cfg.drain_s)
        while not all(done):
            try:
                if not self._turn(pipes, done, acc, stop_all, hard_stop):
                    break
            except KeyboardInterrupt:
                if stop_all.sent:
                    break  # a second Ctrl-C: stop waiting (the finally clause kills them)
                self.status = "aborted"
                stop_all()
        for iv in acc.ready(done, final=True):
            if self.on_interval is not None:
                self.on_interval(iv)
        result = acc.result(start_wall, self.status, self.warnings)
        if self.failure is not None:
            raise ScenarioFailedDuring(self.failure, result)
        return result

    def _turn(self, pipes: list[Connection], done: list[bool], acc: Totals,
              stop_all: _Stopper, hard_stop: float | None) -> bool:
        """Wait for the workers' messages a quarter of a second, hand on the seconds that are
        complete; False when a worker did not stop in time (stop waiting for it)."""
        if stop_all.deadline is not None and time.monotonic() > stop_all.deadline:
            self.warnings.append("a load worker did not stop in time; its last second is missing")
            self.status = "failed"
            return False
        if hard_stop is not None and time.monotonic() > hard_stop:
            stop_all()
        live = [pipes[i] for i in range(len(pipes)) if not done[i]]
        for conn in wait(live, timeout=0.25):
            i = pipes.index(conn)  # type: ignore[arg-type]  # wait returns our objects
            if self._receive(i, pipes[i], acc):
                done[i] = True
            if self.failure is not None:
                stop_all()
        for iv in acc.ready(done, final=False):
            if self.on_interval is not None and self.on_interval(iv):
                self.status = "aborted"  # --abort-on-fail: a threshold already failed
                stop_all()
        return True

    def _receive(self, i: int, pipe: Connection, acc: Totals) -> bool:
        """Take one message of worker ``i``; True when that worker is done."""
        try:
            msg = pipe.recv()
        except EOFError:  # a worker died (killed, out of memory): keep the rest
            self.status = "failed"
            self.warnings.append(f"worker {i} exited before reporting its end; "
                                 "its last second is missing")
            acc.ends.append(time.monotonic_ns())
            return True
        if isinstance(msg, Tick):
            acc.add_tick(i, msg)
        elif isinstance(msg, WorkerEnd):
            acc.add_end(msg)
            return True
        elif isinstance(msg, Failed):
            self.failure = msg.text
            self.status = "failed"
        return False


def _planned_s(cfg: LoadConfig) -> float | None:
    """How long the test is planned to last (the open model's schedule, when only -n bounds
    it); None for a closed test bounded by a count only."""
    sched = cfg.schedule()
    if sched is not None and cfg.scenario_file is None:
        return sched.duration_s
    return cfg.effective_duration_s


class ScenarioFailedDuring(ScenarioFailed):
    """A scenario raised mid-test; carries what was measured until then."""

    def __init__(self, text: str, result: LoadResult) -> None:
        super().__init__(text, hint="fix the scenario file; the run so far was kept")
        self.result = result


class _Stopper:
    """Asks every worker still running to stop, once; then they have the drain to finish."""

    def __init__(self, pipes: list[Connection], done: list[bool], acc: Totals,
                 drain_s: float) -> None:
        self.pipes, self.done, self.acc, self.drain_s = pipes, done, acc, drain_s
        self.sent = False
        self.deadline: float | None = None

    def __call__(self) -> None:
        if self.sent:
            return
        self.sent = True
        self.acc.stopped_ns = time.monotonic_ns()
        self.deadline = time.monotonic() + self.drain_s + _STOP_MARGIN_S
        for i, pipe in enumerate(self.pipes):
            if not self.done[i]:
                try:
                    pipe.send(Stop())
                except (BrokenPipeError, OSError):
                    self.done[i] = True
