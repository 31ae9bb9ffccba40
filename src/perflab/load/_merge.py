"""One test from its parts: the seconds and results of a distributed test's tasks, merged.

Each Dask task runs part of the test on its machine (``_dask_task``) and returns what a local
test returns: its seconds (``Interval``: HDR histograms and counts) and its ``LoadResult``.
Merging adds counts and HDR histograms, so the merged histogram is the histogram of the union
of every latency measured: its percentiles are those of all the requests, exactly as if one
machine had measured them (no averaging of percentiles).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

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
    first = ivs[0]
    out = Interval(first.second, max(iv.length_s for iv in ivs), 0, Counter(), Counter(),
                   first.latency.copy(), None if first.service is None else first.service.copy(),
                   0, 0)
    for i, iv in enumerate(ivs):
        if i:
            out.latency.merge(iv.latency)
            if iv.service is not None:
                if out.service is None:
                    out.service = iv.service.copy()
                else:
                    out.service.merge(iv.service)
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
    first = results[0]
    out = LoadResult(first.config, started_ns, max(r.duration_s for r in results), "ok",
                     first.latency.copy(),
                     None if first.service is None else first.service.copy(),
                     lateness=None if first.lateness is None else first.lateness.copy(),
                     phases={k: h.copy() for k, h in first.phases.items()})
    for i, r in enumerate(results):
        if i:
            out.latency.merge(r.latency)
            _merge_optional(out, r)
            for phase, h in r.phases.items():
                if phase in out.phases:
                    out.phases[phase].merge(h)
                else:
                    out.phases[phase] = h.copy()
        out.codes.update(r.codes)
        out.errors.update(r.errors)
        out.late += r.late
        out.dropped += r.dropped
        out.unfinished += r.unfinished
        out.scheduled += r.scheduled
        out.worker_max_rss_bytes = max(out.worker_max_rss_bytes, r.worker_max_rss_bytes)
        for name, counts in r.checks.items():
            out.checks.setdefault(name, CheckCounts()).add(counts)
        for name, stats in r.by_name.items():
            out.by_name.setdefault(name, NameStats()).merge(stats)
        if _STATUS_ORDER[r.status] > _STATUS_ORDER[out.status]:
            out.status = r.status
        out.warnings.extend(w for w in r.warnings if w not in out.warnings)
    return out


def _merge_optional(out: LoadResult, r: LoadResult) -> None:
    """The open model's histograms (service time, the scheduler's lateness)."""
    if r.service is not None:
        if out.service is None:
            out.service = r.service.copy()
        else:
            out.service.merge(r.service)
    if r.lateness is not None:
        if out.lateness is None:
            out.lateness = r.lateness.copy()
        else:
            out.lateness.merge(r.lateness)
