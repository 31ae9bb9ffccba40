"""A benchmark's history in the store: one run (kind ``bench``) per recorded commit.

Each recorded file becomes a run whose meta holds the commit, branch and source; each
(benchmark, unit) is a series ``bench.value{bench="Encode/format=json-8",unit="sec/op"}``, with
one sample per measured value (timestamps T, T+1ns, ... keep their order). The raw file is kept
as an artifact, so nothing the user gave us is lost. No table of its own is needed.

The history of a benchmark is the median of each recorded commit, in commit-time order. Unit
metadata (``Unit B/op assume=exact better=lower`` lines) is kept in the run's meta, so results
read back from the store compare as the original file did.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from perflab.bench._changepoint import ChangePoint, detect_change_points
from perflab.bench._contracts import BenchChangeJson, BenchPointJson
from perflab.bench._model import Result, ResultSet, Value
from perflab.bench._stats import median, summarize_median
from perflab.errors import InvalidValue, NotFound

if TYPE_CHECKING:
    from perflab.store import Run, Store

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
    lo: float | None = None  # 95 % confidence interval of the median; None: too few values
    hi: float | None = None

    def to_json(self) -> BenchPointJson:
        return {"run_id": self.run_id, "commit": self.commit, "branch": self.branch,
                "time_ns": self.time_ns, "median": self.median, "n": self.n, "lo": self.lo,
                "hi": self.hi}


@dataclass(frozen=True)
class History:
    bench: str
    unit: str
    points: list[Point]
    better: Literal["lower", "higher"] = "lower"  # which direction is an improvement


@dataclass(frozen=True)
class Change:
    bench: str
    unit: str
    before: Point  # last commit of the old regime
    after: Point  # first commit of the new regime
    change: ChangePoint
    verdict: Literal["regression", "improvement"]

    def to_json(self) -> BenchChangeJson:
        c = self.change
        return {
            "bench": self.bench, "unit": self.unit, "verdict": self.verdict,
            "index": c.index, "from_commit": self.before.commit, "to_commit": self.after.commit,
            "from_run_id": self.before.run_id, "to_run_id": self.after.run_id,
            "time_ns": self.after.time_ns, "rel_change": c.rel_change,
            "magnitude": c.magnitude, "pvalue": c.pvalue, "mean_before": c.mean_before,
            "mean_after": c.mean_after,
        }


def record(store: Store, rs: ResultSet, *, commit: str, branch: str = "",
           time_ns: int | None = None, source: str = "", raw: bytes = b""
           ) -> tuple[int, int]:
    """Store ``rs`` as one run; return (run id, number of values)."""
    if not commit.strip():
        raise InvalidValue("empty --commit", hint="pass the commit SHA the results belong to")
    when = time.time_ns() if time_ns is None else time_ns
    units: dict[str, dict[str, str]] = {}
    for (unit, key), value in sorted(rs.unit_meta.items()):
        units.setdefault(unit, {})[key] = value
    run = store.create_run(RUN_KIND, f"bench {commit[:12]}", started_ns=when,
                           meta={"commit": commit, "branch": branch, "source": source,
                                 "units": units})
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
    # unit -> better, as the newest run that declared it says
    declared: dict[str, Literal["lower", "higher"]] = {}
    for run in runs:
        declared.update({u: "higher" if m["better"] == "higher" else "lower"
                         for u, m in _unit_meta(run).items()
                         if m.get("better") in ("lower", "higher")})
        for series in store.series(run.id, name=SERIES):
            name = series.labels.get("bench", "")
            if bench is not None and name != bench:
                continue
            values = sorted(v for _, v in store.samples(series.id))
            if not values:
                continue
            ci = summarize_median(values)
            found.setdefault((name, series.unit), []).append(Point(
                run.id, str(run.meta.get("commit", "")), str(run.meta.get("branch", "")),
                run.started_ns, median(values), len(values),
                ci.lo if math.isfinite(ci.lo) else None, ci.hi if math.isfinite(ci.hi) else None))
    if bench is not None and not found:
        known = sorted({n for n, _ in _all_names(store)})
        hint = ("recorded benchmarks: " + ", ".join(known[:8])) if known else (
            "record results first: perflab bench record FILE --commit SHA")
        raise NotFound(f"no history for benchmark {bench!r}", hint=hint)
    default = ResultSet().better
    return [History(name, unit, pts, declared.get(unit) or default(unit))
            for (name, unit), pts in found.items()]


def _unit_meta(run: Run) -> dict[str, dict[str, str]]:
    units = run.meta.get("units")
    if not isinstance(units, dict):
        return {}
    return {str(u): {str(k): str(v) for k, v in m.items()} for u, m in units.items()
            if isinstance(m, dict)}


def run_results(store: Store, run: Run, label: str) -> ResultSet:
    """The results of one recorded run, read back as a results file named ``label`` would be."""
    rs = ResultSet(files=[label])
    for unit, meta in _unit_meta(run).items():
        for key, value in meta.items():
            rs.unit_meta[(unit, key)] = value
    # time per op first, as `go test -bench` writes it (the store orders series by labels)
    for series in sorted(store.series(run.id, name=SERIES),
                         key=lambda s: (s.unit != "sec/op", s.labels.get("bench", ""), s.unit)):
        values = tuple(Value(v, series.unit) for _, v in store.samples(series.id))
        if values:
            rs.results.append(Result(series.labels.get("bench", ""), values, label))
    return rs


def previous_run(store: Store, run: Run) -> Run | None:
    """The bench run recorded just before ``run`` (on its branch, when it has one)."""
    branch = run.meta.get("branch") or None
    earlier = [r for r in store.runs(kind=RUN_KIND, until_ns=run.started_ns)
               if (r.started_ns, r.id) < (run.started_ns, run.id)
               and (branch is None or r.meta.get("branch") == branch)]
    return max(earlier, key=lambda r: (r.started_ns, r.id), default=None)


def _all_names(store: Store) -> set[tuple[str, str]]:
    out = set()
    for run in store.runs(kind=RUN_KIND, limit=50):
        for s in store.series(run.id, name=SERIES):
            out.add((s.labels.get("bench", ""), s.unit))
    return out


def find_changes(hist: History, *, better: str | None = None, window: int = 50,
                 max_pvalue: float = 0.001, min_magnitude: float = 0.0) -> list[Change]:
    """Change points of a history; ``better`` defaults to the history's own direction."""
    better = better or hist.better
    values = [p.median for p in hist.points]
    out = []
    for cp in detect_change_points(values, window=window, max_pvalue=max_pvalue,
                                   min_magnitude=min_magnitude):
        worse = cp.rel_change > 0 if better == "lower" else cp.rel_change < 0
        out.append(Change(hist.bench, hist.unit, hist.points[cp.index - 1],
                          hist.points[cp.index], cp, "regression" if worse else "improvement"))
    return out
