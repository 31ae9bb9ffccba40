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
from typing import TYPE_CHECKING, Any

from perflab.errors import UsageError
from perflab.load._hdr import Histogram
from perflab.load._result import Interval, LoadResult

if TYPE_CHECKING:
    from collections.abc import Callable

    from perflab.load._config import LoadConfig

_START_DELAY_NS = 50_000_000  # all workers start together, shortly after all are ready
_READY_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 15.0


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
        pending: dict[int, list[dict[str, Any]]] = {}
        last_second = [0] * n
        done = [False] * n
        phases: dict[str, Histogram] = {"connect": Histogram(), "tls": Histogram(),
                                        "ttfb": Histogram()}
        total_lat, total_svc = Histogram(), Histogram() if cfg.open_model else None
        codes: Counter[int] = Counter()
        errors: Counter[str] = Counter()
        extra: dict[str, Any] = {"late": 0, "unsent": 0, "in_window": 0}
        stop_sent = False
        stop_deadline: float | None = None
        end_mono = start_mono

        def stop_all() -> None:
            nonlocal stop_sent, stop_deadline
            if not stop_sent:
                stop_sent = True
                stop_deadline = time.monotonic() + _STOP_TIMEOUT_S
                for i, pipe in enumerate(pipes):
                    if not done[i]:
                        try:
                            pipe.send(("stop",))
                        except (BrokenPipeError, OSError):
                            done[i] = True

        def emit_ready(final: bool) -> None:
            for sec in sorted(pending):
                if not final and any(not done[i] and last_second[i] < sec for i in range(n)):
                    break
                parts = pending.pop(sec)
                now_mono = time.monotonic_ns() if not stop_sent else end_mono
                planned = cfg.effective_duration_s
                if planned is not None:
                    now_mono = min(now_mono, start_mono + int(planned * 1e9))
                length = min(1.0, (now_mono - start_mono) / 1e9 - (sec - 1))
                iv = _merge(sec, max(length, 1e-9), parts, cfg.open_model)
                sliver = length < 0.05 and sec > 1  # the last moments after the final full second:
                # counted in the totals, not shown as a second of its own (its rate would lie)
                total_lat.merge(iv.latency)
                if total_svc is not None and iv.service is not None:
                    total_svc.merge(iv.service)
                codes.update(iv.codes)
                errors.update(iv.errors)
                extra["late"] += iv.late
                if not cfg.open_model or planned is None or sec - 1 < planned:
                    extra["in_window"] += iv.completed
                if sliver:
                    continue
                if self.on_interval is not None and self.on_interval(iv):
                    self.status = "aborted"  # --abort-on-fail: a threshold already failed
                    stop_all()

        while not all(done):
            try:
                if stop_deadline is not None and time.monotonic() > stop_deadline:
                    break
                live = [pipes[i] for i in range(n) if not done[i]]
                for conn in wait(live, timeout=0.25):
                    i = pipes.index(conn)  # type: ignore[arg-type]  # wait returns our objects
                    try:
                        msg = pipes[i].recv()
                    except EOFError:  # a worker died (killed, out of memory): keep the rest
                        done[i] = True
                        self.status = "failed"
                        self.warnings.append(f"worker {i} exited before reporting its end; "
                                             "its last second is missing")
                        continue
                    kind = msg[0]
                    if kind == "tick":
                        pending.setdefault(msg[1], []).append(msg[2])
                        last_second[i] = msg[1]
                    elif kind == "done":
                        done[i] = True
                        for name, d in msg[1].items():
                            if name in phases:
                                phases[name].merge(Histogram.from_dict(d))
                            elif name == "unsent":
                                extra["unsent"] += d
                            elif name == "max_rss_bytes":
                                extra["rss"] = max(extra.get("rss", 0), d)
                            elif name == "checks":
                                _merge_checks(extra.setdefault("checks", {}), d)
                            elif name == "by_name":
                                by = extra.setdefault("by_name", {})
                                for k, hd in d.items():
                                    by.setdefault(k, Histogram()).merge(Histogram.from_dict(hd))
                    elif kind == "failed":
                        self.failure = msg[1]
                        self.status = "failed"
                        stop_all()
                if not stop_sent:
                    end_mono = time.monotonic_ns()
                emit_ready(final=False)
            except KeyboardInterrupt:
                if stop_sent:
                    break  # a second Ctrl-C: stop waiting (the finally clause kills them)
                self.status = "aborted"
                end_mono = time.monotonic_ns()
                stop_all()
        emit_ready(final=True)
        if not stop_sent or self.status == "ok":
            end_mono = time.monotonic_ns()
        elapsed = (end_mono - start_mono) / 1e9
        planned = cfg.effective_duration_s
        duration = min(elapsed, planned) if planned is not None else elapsed
        result = LoadResult(cfg, start_wall, max(duration, 1e-9), self.status, total_lat,
                            total_svc, codes, errors, extra["late"], extra["unsent"], phases,
                            extra.get("checks", {}), extra.get("by_name", {}),
                            worker_max_rss_bytes=extra.get("rss", 0),
                            completed_in_window=extra["in_window"], warnings=self.warnings)
        if self.failure is not None:
            raise ScenarioFailedDuring(self.failure, result)
        return result


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


def _merge(sec: int, length: float, parts: list[dict[str, Any]], open_model: bool) -> Interval:
    lat = Histogram()
    svc = Histogram() if open_model else None
    codes: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    conns = late = 0
    for p in parts:
        lat.merge(Histogram.from_dict(p["lat"]))
        if svc is not None and p.get("svc"):
            svc.merge(Histogram.from_dict(p["svc"]))
        codes.update({int(k): v for k, v in p["codes"].items()})
        errors.update(p["errors"])
        conns += p["connections"]
        late += p["late"]
    return Interval(sec, length, lat.total, codes, errors, lat, svc, conns, late)
