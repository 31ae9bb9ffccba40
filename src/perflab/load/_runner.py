"""The parent side of a load test: start the workers, merge their seconds, stop them cleanly.

Workers are separate processes (``spawn``: no inherited state, the same on every platform);
each sends one message a second. The parent merges the seconds of all workers into one
``Interval`` and hands it to ``on_interval`` (live line, store, thresholds), which may ask the
test to stop (``--abort-on-fail``). Ctrl-C sends every worker ``stop``: they finish, send what
they measured, and the result is marked ``aborted``. A second Ctrl-C kills them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections import Counter
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from perflab.errors import UsageError
from perflab.load._hdr import Histogram
from perflab.load._result import Interval, LoadResult, NameStats

if TYPE_CHECKING:
    from array import array
    from collections.abc import Callable

    from perflab.load._config import LoadConfig
    from perflab.load._messages import Tick, WorkerEnd

_START_DELAY_NS = 50_000_000  # all workers start together, shortly after all are ready
_READY_TIMEOUT_S = 60.0
_STOP_MARGIN_S = 3.0  # beyond the drain: a busy machine may deliver a worker's end late
_SLIVER_S = 0.05


def _spawn_worker() -> tuple[Connection, subprocess.Popen[bytes]]:
    """A worker process (``python -m perflab.load._worker FD``) joined by a socket pair.

    A fresh interpreter rather than multiprocessing: nothing of the caller (its ``__main__``,
    threads, open store) leaks into the worker, and no ``if __name__ == "__main__"`` guard is
    asked of scripts that use the engine.
    """
    ours, theirs = socket.socketpair()
    env = dict(os.environ)
    pkg_root = str(Path(__file__).resolve().parents[2])  # the directory holding `perflab`
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_root, env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen(
        [sys.executable, "-m", "perflab.load._worker", str(theirs.fileno())],
        pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL,
    )
    theirs.close()
    return Connection(ours.detach()), proc


class ScenarioFailed(UsageError):
    """The user's scenario raised; the message is the user's traceback."""


class LoadRunner:
    def __init__(self, cfg: LoadConfig, *,
                 on_interval: Callable[[Interval], bool | None] | None = None,
                 on_start: Callable[[int], None] | None = None) -> None:
        self.cfg = cfg
        self.on_interval = on_interval
        self.on_start = on_start
        self.status = "ok"
        self.failure: str | None = None
        self.warnings: list[str] = []

    def run(self) -> LoadResult:
        cfg = self.cfg
        n = cfg.workers
        pipes: list[Connection] = []
        procs: list[subprocess.Popen[bytes]] = []
        try:
            for i in range(n):
                pipe, proc = _spawn_worker()
                pipes.append(pipe)
                procs.append(proc)
                pipe.send((cfg, i, n))
            return self._drive(pipes)
        finally:
            for proc in procs:
                try:
                    proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            for pipe in pipes:
                pipe.close()

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
                if msg[0] == "failed":
                    raise ScenarioFailed(msg[1], hint="fix the scenario file and run again")
                waiting.discard(i)

    def _drive(self, pipes: list[Connection]) -> LoadResult:
        cfg = self.cfg
        self._await_ready(pipes)
        start_mono = time.monotonic_ns() + _START_DELAY_NS
        start_wall = time.time_ns() + _START_DELAY_NS
        if self.on_start is not None:
            self.on_start(start_wall)
        for pipe in pipes:
            pipe.send(("start", start_mono, cfg.effective_duration_s))
        n = len(pipes)
        acc = _Totals(cfg, start_mono, n)
        done = [False] * n
        stop_sent = False
        stop_deadline: float | None = None
        # the workers end by themselves at the duration plus the drain; past that (and a
        # margin for a busy machine) the parent asks them to stop, and then stops waiting
        planned = _planned_s(cfg)
        hard_stop = (None if planned is None
                     else time.monotonic() + _START_DELAY_NS / 1e9 + planned + cfg.drain_s
                     + _STOP_MARGIN_S)

        def stop_all() -> None:
            nonlocal stop_sent, stop_deadline
            if not stop_sent:
                stop_sent = True
                acc.stopped_ns = time.monotonic_ns()
                stop_deadline = time.monotonic() + cfg.drain_s + _STOP_MARGIN_S
                for i, pipe in enumerate(pipes):
                    if not done[i]:
                        try:
                            pipe.send(("stop",))
                        except (BrokenPipeError, OSError):
                            done[i] = True

        while not all(done):
            try:
                if stop_deadline is not None and time.monotonic() > stop_deadline:
                    self.warnings.append("a load worker did not stop in time; its last "
                                         "second is missing")
                    self.status = "failed"
                    break
                if hard_stop is not None and time.monotonic() > hard_stop:
                    stop_all()
                live = [pipes[i] for i in range(n) if not done[i]]
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
            except KeyboardInterrupt:
                if stop_sent:
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

    def _receive(self, i: int, pipe: Connection, acc: _Totals) -> bool:
        """Take one message of worker ``i``; True when that worker is done."""
        try:
            msg = pipe.recv()
        except EOFError:  # a worker died (killed, out of memory): keep the rest
            self.status = "failed"
            self.warnings.append(f"worker {i} exited before reporting its end; "
                                 "its last second is missing")
            acc.ends.append(time.monotonic_ns())
            return True
        kind = msg[0]
        if kind == "tick":
            acc.add_tick(i, msg[1], msg[2])
        elif kind == "done":
            acc.add_end(msg[1])
            return True
        elif kind == "failed":
            self.failure = msg[1]
            self.status = "failed"
        return False


def _planned_s(cfg: LoadConfig) -> float | None:
    """How long the test is planned to last (the open model's schedule, when only -n bounds
    it); None for a closed test bounded by a count only."""
    sched = cfg.schedule()
    if sched is not None and cfg.scenario_file is None:
        return sched.duration_s
    return cfg.effective_duration_s


class _Totals:
    """The parent's merge of what the workers send: seconds in order, whole-test figures."""

    def __init__(self, cfg: LoadConfig, start_ns: int, nworkers: int) -> None:
        self.cfg = cfg
        self.start_ns = start_ns
        self.pending: dict[int, list[Tick]] = {}
        self.last_second = [0] * nworkers
        self.latency = Histogram()
        self.service = Histogram() if cfg.open_model else None
        self.codes: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.late = 0
        self.phases = {"connect": Histogram(), "tls": Histogram(), "ttfb": Histogram()}
        self.lateness: Histogram | None = None
        self.scheduled = self.dropped = self.unfinished = self.max_rss = 0
        self.checks: dict[str, dict[str, int]] = {}
        self.by_name: dict[str, NameStats] = {}
        self.ends: list[int] = []
        self.stopped_ns: int | None = None

    def add_tick(self, worker: int, second: int, tick: Tick) -> None:
        self.pending.setdefault(second, []).append(tick)
        self.last_second[worker] = second
        # the whole test's figures need no second: recorded as they come
        self.phases["ttfb"].record_ns(tick.ttfb_ns)
        self.phases["connect"].record_ns(tick.connect_ns)
        self.phases["tls"].record_ns(tick.tls_ns)
        if tick.lateness_ns is not None:
            if self.lateness is None:
                self.lateness = Histogram()
            self.lateness.record_ns(tick.lateness_ns)
        for name, values in tick.by_name.items():
            self.by_name.setdefault(name, NameStats()).latency.record_ns(values)

    def add_end(self, end: WorkerEnd) -> None:
        self.ends.append(end.end_ns)
        self.scheduled += end.scheduled
        self.dropped += end.dropped
        self.unfinished += end.unfinished
        self.max_rss = max(self.max_rss, end.max_rss_bytes)
        _merge_checks(self.checks, end.checks)
        for name, failed in end.failed_by_name.items():
            self.by_name.setdefault(name, NameStats()).failed += failed

    def end_ns(self) -> int:
        """When the test stopped counting: the last worker's end (the stop, if one hung)."""
        if self.ends:
            return max(self.ends)
        return self.stopped_ns or time.monotonic_ns()

    def ready(self, done: list[bool], *, final: bool) -> list[Interval]:
        """The seconds every worker has passed (all of them once ``final``), merged."""
        out = []
        for sec in sorted(self.pending):
            if not final and any(not done[i] and self.last_second[i] <= sec
                                 for i in range(len(done))):
                break
            ticks = self.pending.pop(sec)
            elapsed = ((self.end_ns() if final else time.monotonic_ns()) - self.start_ns) / 1e9
            length = max(min(1.0, elapsed - (sec - 1)), 1e-9)
            iv = _merge(sec, length, ticks, self.cfg.open_model)
            self.latency.merge(iv.latency)
            if self.service is not None and iv.service is not None:
                self.service.merge(iv.service)
            self.codes.update(iv.codes)
            self.errors.update(iv.errors)
            self.late += iv.late
            # the last moments after the final full second are counted in the totals, not
            # shown as a second of their own (their rate would lie)
            if not (length < _SLIVER_S and sec > 1):
                out.append(iv)
        return out

    def result(self, start_wall: int, status: str, warnings: list[str]) -> LoadResult:
        duration = (self.end_ns() - self.start_ns) / 1e9
        return LoadResult(self.cfg, start_wall, max(duration, 1e-9), status, self.latency,
                          self.service, self.codes, self.errors, late=self.late,
                          dropped=self.dropped, unfinished=self.unfinished,
                          scheduled=self.scheduled, lateness=self.lateness,
                          phases=self.phases, checks=self.checks, by_name=self.by_name,
                          worker_max_rss_bytes=self.max_rss, warnings=warnings)


class ScenarioFailedDuring(ScenarioFailed):
    """A scenario raised mid-test; carries what was measured until then."""

    def __init__(self, text: str, result: LoadResult) -> None:
        super().__init__(text, hint="fix the scenario file; the run so far was kept")
        self.result = result


def _merge_checks(into: dict[str, dict[str, int]], part: dict[str, dict[str, int]]) -> None:
    for name, counts in part.items():
        slot = into.setdefault(name, {"passed": 0, "failed": 0})
        slot["passed"] += counts.get("passed", 0)
        slot["failed"] += counts.get("failed", 0)


def _merge(sec: int, length: float, ticks: list[Tick], open_model: bool) -> Interval:
    """One second of every worker: their raw values made into histograms and counts."""
    lat = Histogram()
    svc = Histogram() if open_model else None
    codes: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    conns = late = 0
    for t in ticks:
        lat.record_ns(t.latency_ns)
        if svc is not None and t.service_ns is not None:
            svc.record_ns(t.service_ns)
        codes.update(count_statuses(t.codes))
        errors.update(t.errors)
        conns += t.connections
        late += t.late
    return Interval(sec, length, lat.total, codes, errors, lat, svc, conns, late)


def count_statuses(codes: array[int]) -> dict[int, int]:
    """{status: responses} of an array of statuses (one per response)."""
    if not codes:
        return {}
    counts = np.bincount(np.asarray(codes, dtype=np.uint16))
    (statuses,) = np.nonzero(counts)
    return dict(zip(statuses.tolist(), counts[statuses].tolist(), strict=True))
