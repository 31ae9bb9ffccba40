"""The parent's merge of what the workers of a load test send: their seconds, in order, made
into one ``Interval`` each, and the whole test's figures.

Here the workers' raw values become HDR histograms (numpy). The runner imports this module
once the workers have started, so that numpy's import (a tenth of a second) runs during the
test's first second rather than before it.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING

from perflab.load._hdr import Histogram
from perflab.load._messages import CheckCounts
from perflab.load._result import Interval, LoadResult, NameStats

if TYPE_CHECKING:

    from perflab.load._config import LoadConfig
    from perflab.load._contracts import LoadStatus, PhaseName
    from perflab.load._messages import Tick, WorkerEnd

_SLIVER_S = 0.05  # a last second shorter than this is counted in the totals, not shown


class Totals:
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
        self.phases: dict[PhaseName, Histogram] = {"connect": Histogram(), "tls": Histogram(),
                                                   "ttfb": Histogram()}
        self.lateness: Histogram | None = None
        self.scheduled = self.dropped = self.unfinished = self.max_rss = 0
        self.checks: dict[str, CheckCounts] = {}
        self.by_name: dict[str, NameStats] = {}
        self.ends: list[int] = []
        self.stopped_ns: int | None = None

    def add_tick(self, worker: int, tick: Tick) -> None:
        self.pending.setdefault(tick.second, []).append(tick)
        self.last_second[worker] = tick.second
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
        for name, counts in end.checks.items():
            self.checks.setdefault(name, CheckCounts()).add(counts)
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

    def result(self, start_wall: int, status: LoadStatus, warnings: list[str]) -> LoadResult:
        duration = (self.end_ns() - self.start_ns) / 1e9
        return LoadResult(self.cfg, start_wall, max(duration, 1e-9), status, self.latency,
                          self.service, self.codes, self.errors, late=self.late,
                          dropped=self.dropped, unfinished=self.unfinished,
                          scheduled=self.scheduled, lateness=self.lateness,
                          phases=self.phases, checks=self.checks, by_name=self.by_name,
                          worker_max_rss_bytes=self.max_rss, warnings=warnings)


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
        codes.update(t.codes)
        errors.update(t.errors)
        conns += t.connections
        late += t.late
    return Interval(sec, length, lat.total, codes, errors, lat, svc, conns, late)

