"""A benchmark's history in the store: one run (kind ``bench``) per recorded commit.

Each recorded file becomes a run whose meta holds the commit, branch and source; each
(benchmark, unit) is a series ``bench.value{bench="Encode/format=json-8",unit="sec/op"}``, with
one sample per measured value (timestamps T, T+1ns, ... keep their order). The raw file is kept
as an artifact, so nothing the user gave us is lost. No table of its own is needed.

The history of a benchmark is the median of each recorded commit, in commit-time order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from perflab.bench._changepoint import ChangePoint, detect_change_points
from perflab.bench._model import ResultSet
from perflab.bench._stats import median
from perflab.errors import InvalidValue, NotFound
from perflab.store import Store

RUN_KIND = "bench"
SERIES = "bench.value"


@dataclass(frozen=True)
class Point:
    run_id: int
    commit: str
    branch: str
    time_ns: int
    median: float
    n: int


@dataclass(frozen=True)
class History:
    bench: str
    unit: str
    points: list[Point]


@dataclass(frozen=True)
class Change:
    bench: str
    unit: str
    before: Point  # last commit of the old regime
    after: Point  # first commit of the new regime
    change: ChangePoint
    verdict: str  # regression or improvement


def record(store: Store, rs: ResultSet, *, commit: str, branch: str = "",
           time_ns: int | None = None, source: str = "", raw: bytes = b""
           ) -> tuple[int, int]:
    """Store ``rs`` as one run; return (run id, number of values)."""
    if not commit.strip():
        raise InvalidValue("empty --commit", hint="pass the commit SHA the results belong to")
    when = time.time_ns() if time_ns is None else time_ns
    run = store.create_run(RUN_KIND, f"bench {commit[:12]}", started_ns=when,
                           meta={"commit": commit, "branch": branch, "source": source})
    # group values per (benchmark, unit), keeping file order
    groups: dict[tuple[str, str], list[float]] = {}
    for result in rs.results:
        for v in result.values:
            groups.setdefault((result.name, v.unit), []).append(v.value)
    rows: list[tuple[int, int, float]] = []
    for (name, unit), values in groups.items():
        # the unit is a label too: a series is unique by (name, labels), and one benchmark
        # measures several units (sec/op, B/op, allocs/op)
        sid = store.series_id(run.id, SERIES, {"bench": name, "unit": unit}, unit)
        rows.extend((sid, when + i, value) for i, value in enumerate(values))
    store.insert_samples(rows)
    if raw:
        store.add_artifact(run.id, "bench-results", raw, name=source or "results",
                           content_type="text/plain")
    store.finish_run(run.id, "ok", ended_ns=when)
    return run.id, len(rows)


def histories(store: Store, bench: str | None = None, *, branch: str | None = None
              ) -> list[History]:
    """Per benchmark and unit, the median of each recorded commit, oldest first."""
    runs = sorted(store.runs(kind=RUN_KIND), key=lambda r: (r.started_ns, r.id))
    if branch:
        runs = [r for r in runs if r.meta.get("branch") == branch]
    found: dict[tuple[str, str], list[Point]] = {}
    for run in runs:
        for series in store.series(run.id, name=SERIES):
            name = series.labels.get("bench", "")
            if bench is not None and name != bench:
                continue
            values = sorted(v for _, v in store.samples(series.id))
            if not values:
                continue
            found.setdefault((name, series.unit), []).append(Point(
                run.id, str(run.meta.get("commit", "")), str(run.meta.get("branch", "")),
                run.started_ns, median(values), len(values)))
    if bench is not None and not found:
        known = sorted({n for n, _ in _all_names(store)})
        hint = ("recorded benchmarks: " + ", ".join(known[:8])) if known else (
            "record results first: perflab bench record FILE --commit SHA")
        raise NotFound(f"no history for benchmark {bench!r}", hint=hint)
    return [History(name, unit, pts) for (name, unit), pts in found.items()]


def _all_names(store: Store) -> set[tuple[str, str]]:
    out = set()
    for run in store.runs(kind=RUN_KIND, limit=50):
        for s in store.series(run.id, name=SERIES):
            out.add((s.labels.get("bench", ""), s.unit))
    return out


def find_changes(hist: History, *, better: str = "lower", window: int = 50,
                 max_pvalue: float = 0.001, min_magnitude: float = 0.0) -> list[Change]:
    values = [p.median for p in hist.points]
    out = []
    for cp in detect_change_points(values, window=window, max_pvalue=max_pvalue,
                                   min_magnitude=min_magnitude):
        worse = cp.rel_change > 0 if better == "lower" else cp.rel_change < 0
        out.append(Change(hist.bench, hist.unit, hist.points[cp.index - 1],
                          hist.points[cp.index], cp, "regression" if worse else "improvement"))
    return out
