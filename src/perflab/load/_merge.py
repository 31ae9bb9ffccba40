"""One test from its parts: the seconds and results of a distributed test's tasks, merged.

Each Dask task runs part of the test on its machine (``_dask_task``) and returns what a local
test returns: its seconds (``Interval``: HDR histograms and counts) and its ``LoadResult``.
Merging adds counts and HDR histograms, so the merged histogram is the histogram of the union
of every latency measured: its percentiles are those of all the requests, exactly as if one
machine had measured them (no averaging of percentiles).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, overload

from perflab.load._hdr import Histogram
from perflab.load._messages import CheckCounts
from perflab.load._result import Interval, LoadResult, NameStats

if TYPE_CHECKING:
    from collections.abc import Iterable

    from perflab.load._contracts import LoadStatus


def merge_intervals(parts: Iterable[list[Interval]]) -> list[Interval]:
    """The seconds of several tasks (each list in order), merged second by second."""
    by_second: dict[int, list[Interval]] = {}
    for seconds in parts:
        for iv in seconds:
            by_second.setdefault(iv.second, []).append(iv)
    return [_merge_second(ivs) for _, ivs in sorted(by_second.items())]


def _merge_second(ivs: list[Interval]) -> Interval:
    out = Interval(ivs[0].second, max(iv.length_s for iv in ivs), 0, Counter(), Counter(),
                   Histogram(), None, 0, 0)
    for iv in ivs:
        out.latency.merge(iv.latency)
        out.service = _added(out.service, iv.service)
        out.completed += iv.completed
        out.codes.update(iv.codes)
        out.errors.update(iv.errors)
        out.connections += iv.connections
        out.late += iv.late
    return out


_STATUS_ORDER: dict[LoadStatus, int] = {"ok": 0, "aborted": 1, "failed": 2}


def merge_results(results: list[LoadResult], *, started_ns: int) -> LoadResult:
    """The tasks' results as one: counts and histograms added, the longest duration, the
    worst status, every warning once. ``results`` is not empty."""
    out = LoadResult(results[0].config, started_ns, max(r.duration_s for r in results), "ok",
                     Histogram(), None)
    for r in results:
        out.latency.merge(r.latency)
        out.service = _added(out.service, r.service)
        out.lateness = _added(out.lateness, r.lateness)
        for phase, h in r.phases.items():
            out.phases[phase] = _added(out.phases.get(phase), h)
        out.codes.update(r.codes)
        out.errors.update(r.errors)
        # the open model's schedule: arrivals asked for, started late, never sent, unanswered
        out.scheduled, out.late, out.dropped, out.unfinished = (
            out.scheduled + r.scheduled, out.late + r.late, out.dropped + r.dropped,
            out.unfinished + r.unfinished)
        out.worker_max_rss_bytes = max(out.worker_max_rss_bytes, r.worker_max_rss_bytes)
        for name, counts in r.checks.items():
            out.checks.setdefault(name, CheckCounts()).add(counts)
        for name, stats in r.by_name.items():
            out.by_name.setdefault(name, NameStats()).merge(stats)
        if _STATUS_ORDER[r.status] > _STATUS_ORDER[out.status]:
            out.status = r.status
        out.warnings.extend(w for w in r.warnings if w not in out.warnings)
    return out


@overload
def _added(into: Histogram | None, h: Histogram) -> Histogram: ...
@overload
def _added(into: Histogram | None, h: Histogram | None) -> Histogram | None: ...
def _added(into: Histogram | None, h: Histogram | None) -> Histogram | None:
    """``into`` with ``h`` added; either may be absent (a copy of ``h``, never ``h`` itself:
    the tasks' histograms stay as they were)."""
    if h is None:
        return into
    if into is None:
        return h.copy()
    into.merge(h)
    return into


class LiveSeconds:
    """The tasks' seconds as they come (each task sends its own, in order), merged once every
    task still running has sent it: what the live line, the store and ``--abort-on-fail``
    read during a distributed test. ``rest`` gives the seconds never merged live, from the
    tasks' final results."""

    def __init__(self, shares: list[int]) -> None:
        self.last = dict.fromkeys(shares, 0)  # the last second each share sent
        self.pending: dict[int, list[Interval]] = {}
        self.emitted: set[int] = set()

    def add(self, first: int, iv: Interval) -> None:
        if iv.second in self.emitted:
            return  # came after its second was merged (its task was waited for no longer)
        self.pending.setdefault(iv.second, []).append(iv)
        self.last[first] = max(self.last[first], iv.second)

    def ready(self, running: set[int]) -> list[Interval]:
        """The seconds that every share in ``running`` has sent, merged, in order."""
        out = []
        for sec in sorted(self.pending):
            if any(self.last[f] < sec for f in running):
                break
            out.append(_merge_second(self.pending.pop(sec)))
            self.emitted.add(sec)
        return out

    def rest(self, final: list[Interval]) -> list[Interval]:
        """The seconds of ``final`` (the results' merge) not merged live."""
        return [iv for iv in final if iv.second not in self.emitted]
