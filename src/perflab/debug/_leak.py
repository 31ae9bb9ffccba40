"""``perflab leak``: watch a live process, decide whether it leaks, at what rate, and where.

Every ``interval`` the watch reads the target's memory (RSS and PSS from smaps; a Go service's
heap in use; a Python process's tracemalloc total through the debug agent); at the start, the
end and a dozen times between, it takes a heap snapshot by allocation site (Go's heap profile,
tracemalloc, memray, or for a native process bpftrace uprobes on libc's allocator). Samples
taken while the process is younger than ``warmup`` are left out of the verdict (start-up fills
caches and pools). Each series gets a verdict (``_trend.assess``); the watch's verdict is
"leak" when the heap series or RSS says so. The sites are ranked by growth (``_leak_sites``).

A target that goes away mid-watch ends the watch: what was read is kept and judged.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perflab.debug import _trend
from perflab.debug._agent_client import has_agent
from perflab.debug._leak_limit import Limit, hours_to, memory_limit
from perflab.debug._leak_native import NativeSource
from perflab.debug._leak_sites import rank_sites
from perflab.debug._leak_sources import (
    GoSource,
    ProcSource,
    PythonAgentSource,
    Source,
    process_age_s,
)
from perflab.debug._memray import MemraySource, is_python_process, memray_missing
from perflab.errors import NoSuchProcess, TargetError

SCHEMA = "perflab.leak/1"
SNAPSHOTS = 12            # heap snapshots between the first and the last
DECISIVE = ("heap_inuse", "traced", "rss")   # the series whose verdict is the watch's
UNITS = {"rss": "bytes", "pss": "bytes", "heap_inuse": "bytes", "heap_objects": "objects",
         "traced": "bytes", "objects": "objects"}
TITLES = {"rss": "RSS", "pss": "PSS", "heap_inuse": "Go heap in use",
          "heap_objects": "Go heap objects", "traced": "tracemalloc traced",
          "objects": "GC-tracked objects"}


@dataclass(frozen=True, slots=True)
class LeakOptions:
    duration_s: float = 300.0
    interval_s: float = 5.0
    warmup_s: float = 30.0
    min_growth: float = float(1 << 20)
    top: int = 10
    frames: int = 16
    snapshots: int = SNAPSHOTS
    memray: bool | None = None   # None: when a Python process has no agent; True: always, native


@dataclass(slots=True)
class LeakTarget:
    """What to watch: a PID, a Go service's URL, or both (the URL's process's PID)."""

    pid: int | None = None
    url: str | None = None
    agent_dir: Path | None = None

    @property
    def label(self) -> str:
        return " ".join(x for x in (f"pid {self.pid}" if self.pid else "", self.url or "") if x)


@dataclass(slots=True)
class Watch:
    """What one watch saw: samples per series, heap snapshots, and what stopped it early."""

    times: list[float] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)
    sample_times: dict[str, list[float]] = field(default_factory=dict)
    snapshots: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    ended_early: str | None = None
    site_source: str | None = None
    notes: list[str] = field(default_factory=list)


def open_sources(target: LeakTarget, options: LeakOptions) -> tuple[list[Source], list[str]]:
    """The readers for ``target``, and notes on what is not available."""
    sources: list[Source] = []
    notes: list[str] = []
    if target.pid is not None:
        sources.append(ProcSource(target.pid))
    if target.url is not None:
        sources.append(GoSource(target.url))
    elif target.pid is not None:
        sources.extend(_python_sites(target.pid, target.agent_dir, options, notes))
    return sources, notes


def _python_sites(pid: int, agent_dir: Path | None, options: LeakOptions,
                  notes: list[str]) -> list[Source]:
    """The site reader for a process given by PID: the debug agent's tracemalloc, else memray
    attach for a Python process (``options.memray`` True: memray with native frames always),
    else, for a native process, bpftrace uprobes on libc's allocator."""
    agent = has_agent(pid, agent_dir)
    if agent and not options.memray:
        if memray_missing() is None:
            notes.append("tracemalloc sees Python's allocations only; perflab leak --memray "
                         "PID also attributes native allocations in extensions")
        return [PythonAgentSource(pid, frames=options.frames, directory=agent_dir)]
    if options.memray is not False and (options.memray or is_python_process(pid)):
        missing = memray_missing()
        if missing is None:
            return [MemraySource(pid, duration_s=options.duration_s,
                                 native=bool(options.memray))]
        if options.memray:
            msg = f"--memray: {missing}"
            raise TargetError(msg, hint="or start the service with perflab run --debug, for "
                                        "tracemalloc through the debug agent")
        notes.append(f"no debug agent in this Python process and {missing}: the trend is "
                     "RSS/PSS only and no allocation sites are named (or start it with "
                     "perflab run --debug)")
        return []
    if not is_python_process(pid):
        # C, C++, Rust: libc's malloc and free, through bpftrace uprobes
        return [NativeSource(pid, duration_s=options.duration_s,
                             interval_s=options.interval_s)]
    notes.append("no debug agent in this process: the trend is RSS/PSS only and no "
                 "allocation sites are named (start it with perflab run --debug, or "
                 "perflab.debug.enable())")
    return []


def watch(target: LeakTarget, options: LeakOptions, *,
          on_sample: Callable[[float, dict[str, float]], None] | None = None,
          clock: Callable[[], float] = time.time,
          sleep: Callable[[float], None] = time.sleep) -> Watch:
    """Read ``target`` for ``options.duration_s``; return everything read."""
    sources, notes = open_sources(target, options)
    seen = Watch(notes=notes)
    culprit = next((s for s in sources if not isinstance(s, ProcSource)), None)
    seen.site_source = culprit.name if culprit else None
    start = clock()
    snap_every = max(options.interval_s, options.duration_s / options.snapshots)
    next_snap = start
    try:
        tick = 0
        while True:
            now = clock()
            try:
                values: dict[str, float] = {}
                for source in sources:
                    values.update(source.sample())
                if culprit is not None and (now >= next_snap or
                                            now - start >= options.duration_s):
                    sites = culprit.sites()
                    if sites is not None:
                        seen.snapshots.append((now, sites))
                    next_snap = now + snap_every
            except NoSuchProcess as exc:
                seen.ended_early = str(exc)
                break
            except TargetError as exc:
                if not seen.times:
                    raise
                seen.ended_early = str(exc)
                break
            seen.times.append(now)
            for name, value in values.items():
                seen.values.setdefault(name, []).append(value)
                seen.sample_times.setdefault(name, []).append(now)
            if on_sample is not None:
                on_sample(now, values)
            if now - start >= options.duration_s:
                break
            tick += 1
            sleep(max(0.0, start + tick * options.interval_s - clock()))
    except KeyboardInterrupt:
        seen.ended_early = "interrupted"  # judge what was read
    finally:
        for source in sources:
            with contextlib.suppress(TargetError):  # a process gone took its tracing along
                source.close()
            if source.failure:
                seen.notes.append(source.failure)
    return seen


def judge(target: LeakTarget, options: LeakOptions, seen: Watch, *,
          age_at_end_s: float | None, limit: Limit | None) -> dict[str, Any]:
    """The report of a watch: a verdict per series, the watch's verdict, the growth rate, the
    time to the limit, and the growing sites (``leak.schema.json``)."""
    warm_until = None
    if age_at_end_s is not None and seen.times:
        started = seen.times[-1] - age_at_end_s
        warm_until = started + options.warmup_s
    series = []
    decisive: dict[str, _trend.Trend] = {}
    for name, values in seen.values.items():
        times = seen.sample_times[name]
        keep = [i for i, t in enumerate(times) if warm_until is None or t >= warm_until]
        t = [times[i] - times[0] for i in keep]
        y = [values[i] for i in keep]
        trend = _trend.assess(t, y, min_growth=options.min_growth if UNITS[name] == "bytes"
                              else 0.0)
        if name in DECISIVE:
            decisive[name] = trend
        series.append({
            "name": name, "title": TITLES[name], "unit": UNITS[name], "verdict": trend.verdict,
            "slope_per_s": trend.slope_per_s, "growth_per_h": trend.slope_per_s * 3600,
            "p_value": trend.p_value, "points": trend.points, "period_s": trend.period_s,
            "reason": trend.reason, "samples": len(values), "warmup_samples": len(values) - len(y),
            "first": values[0], "last": values[-1],
        })
    verdict, deciding = _overall(decisive)
    notes = list(seen.notes)
    if (verdict == _trend.NO_LEAK and "rss" in decisive
            and decisive["rss"].verdict == _trend.LEAK):
        notes.append("RSS rises while the heap does not: the runtime keeping freed pages, "
                          "fragmentation, or native memory outside the heap; watch longer to "
                          "tell")
    slope = deciding.slope_per_s if deciding else 0.0
    # the growth a leak must show is also what a site must show: Go's heap profile samples
    # one allocation per 512 KiB, so a bounded cache's estimate wanders by about that much
    sites = rank_sites(seen.snapshots, top=options.top, min_growth=options.min_growth)
    return {
        "schema": SCHEMA,
        "target": {"pid": target.pid, "url": target.url},
        "duration_s": (seen.times[-1] - seen.times[0]) if seen.times else 0.0,
        "interval_s": options.interval_s, "warmup_s": options.warmup_s,
        "min_growth_bytes": options.min_growth,
        "verdict": verdict,
        "reason": _reason(verdict, decisive, deciding),
        "growth_mb_per_h": slope * 3600 / 1e6 if verdict == _trend.LEAK else 0.0,
        "limit": None if limit is None else {
            "kind": limit.kind, "bytes": limit.bytes, "headroom_bytes": limit.headroom,
            "where": limit.where,
            "hours": hours_to(limit, slope) if verdict == _trend.LEAK else None},
        "series": series,
        "site_source": seen.site_source,
        "snapshots": len(seen.snapshots),
        "sites": [s.to_json(i + 1) for i, s in enumerate(sites)],
        "ended_early": seen.ended_early,
        "notes": notes,
    }


def _overall(decisive: dict[str, _trend.Trend]) -> tuple[str, _trend.Trend | None]:
    """The heap decides when it was judged (Go's heap in use, tracemalloc's traced bytes): a
    runtime keeps freed pages and grows its arenas for a while, so RSS alone rising beside a
    flat heap is not called a leak (a note says so). RSS decides when there is no heap series,
    or too little of it to judge. Not enough data when nothing could be judged."""
    heap = next((decisive[n] for n in ("heap_inuse", "traced") if n in decisive), None)
    rss = decisive.get("rss")
    for trend in (heap, rss):
        if trend is None or trend.verdict == _trend.NOT_ENOUGH:
            continue
        return trend.verdict, (trend if trend.verdict == _trend.LEAK else None)
    return _trend.NOT_ENOUGH, None


def _reason(verdict: str, decisive: dict[str, _trend.Trend],
            deciding: _trend.Trend | None) -> str:
    if deciding is not None:
        name = next(n for n, t in decisive.items() if t is deciding)
        return f"{TITLES[name]}: {deciding.reason}"
    if not decisive:
        return "nothing was read"
    return "; ".join(f"{TITLES[n]}: {t.reason}" for n, t in decisive.items()
                     if verdict != _trend.NO_LEAK or t.verdict == _trend.NO_LEAK)


def run_watch(target: LeakTarget, options: LeakOptions, *,
              on_sample: Callable[[float, dict[str, float]], None] | None = None,
              ) -> tuple[dict[str, Any], Watch]:
    """Watch, then judge: the report and what was read."""
    seen = watch(target, options, on_sample=on_sample)
    age = process_age_s(target.pid) if target.pid is not None and not seen.ended_early else None
    return judge(target, options, seen, age_at_end_s=age,
                 limit=memory_limit(target.pid)), seen
