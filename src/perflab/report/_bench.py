"""The report's bench section, for runs of kind ``bench`` (``perflab bench record``).

Three parts, each from perflab.bench's public functions, so the figures are those of the
command line: the run's values per benchmark (median and its 95 % confidence interval, as
``bench compare`` prints them); the comparison with the previous run of the history (same
branch) with benchstat's statistics (Mann-Whitney U test, delta of medians, geomean); and the
change points of each benchmark's history (as ``bench regressions`` finds them), drawn with the
dashboard's history chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from perflab._ui import script_json
from perflab.units import format_value

if TYPE_CHECKING:
    from perflab.bench import Change, History, ResultSet, Table
    from perflab.store import Run, Store

MAX_CHARTS = 24

@dataclass(frozen=True)
class ValueRow:
    name: str
    unit: str
    n: int
    center: str
    pct: str  # "± 2%"
    lo: str
    hi: str
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class CompareRow:
    name: str
    unit: str
    old: str
    new: str
    delta: str
    p: str
    n: str
    verdict: str  # regression, improvement, unchanged, missing


@dataclass(frozen=True)
class BenchReport:
    commit: str
    branch: str
    values: list[ValueRow]
    previous: Run | None
    compare: list[CompareRow]
    compare_text: str
    compare_notes: list[str]
    changes: list[tuple[Change, bool]]  # (change, at this run)
    short_histories: int
    charts_json: Markup


def _label(run: Run, other: Run | None) -> str:
    commit = str(run.meta.get("commit", "")) or f"run {run.id}"
    label = commit[:12]
    if other is not None and str(other.meta.get("commit", ""))[:12] == label:
        label += f" (run {run.id})"  # the same commit recorded twice
    return label


def _merge(a: ResultSet, b: ResultSet) -> ResultSet:
    from perflab.bench import ResultSet  # noqa: PLC0415  # the report loads bench lazily

    rs = ResultSet(results=[*a.results, *b.results], files=[*a.files, *b.files])
    rs.unit_meta = {**a.unit_meta, **b.unit_meta}
    return rs


def _value_rows(tables: list[Table]) -> list[ValueRow]:
    from perflab.bench import Table  # noqa: PLC0415

    rows = []
    for table in tables:
        for row in table.rows:
            for col in table.cols:
                cell = table.cells.get((row, col))
                if cell is None:
                    continue
                s = cell.summary
                rows.append(ValueRow(Table.label(row), table.unit, len(cell.values),
                                     format_value(s.center, table.unit), f"± {s.pct_range()}",
                                     format_value(s.lo, table.unit), format_value(s.hi, table.unit),
                                     cell.sample_warnings + s.warnings))
    return rows


def _compare_rows(tables: list[Table], rs: ResultSet) -> tuple[list[CompareRow], list[str]]:
    from perflab.bench import Table, judge  # noqa: PLC0415

    verdicts = {(v.table, v.row, v.col): v.verdict for v in judge(tables, rs, None)}
    rows: list[CompareRow] = []
    notes: list[str] = []
    for ti, table in enumerate(tables):
        if len(table.cols) < 2:  # a unit measured on one side only
            notes.append(f"unit {table.unit} was measured by one of the two runs only")
            continue
        old_col, new_col = table.cols[0], table.cols[1]
        for row in table.rows:
            old, new = table.cells.get((row, old_col)), table.cells.get((row, new_col))
            name = Table.label(row)
            if old is None or new is None:
                rows.append(CompareRow(name, table.unit,
                                       "-" if old is None else format_value(old.summary.center,
                                                                         table.unit),
                                       "-" if new is None else format_value(new.summary.center,
                                                                         table.unit),
                                       "", "", "", "missing"))
                continue
            cmp = new.comparison
            assert cmp is not None
            rows.append(CompareRow(
                name, table.unit,
                f"{format_value(old.summary.center, table.unit)} ± {old.summary.pct_range()}",
                f"{format_value(new.summary.center, table.unit)} ± {new.summary.pct_range()}",
                cmp.format_delta(old.summary.center, new.summary.center),
                f"{cmp.p:.3f}" if cmp.p != 0 else "-", cmp.describe().split("n=")[-1],
                verdicts.get((ti, row, new_col), "unchanged")))
    if any(r.verdict == "missing" for r in rows):
        notes.append("some benchmarks were measured by one of the two runs only; the geomean "
                     "of the text table compares different sets")
    return rows, notes


def bench_report(store: Store, run: Run) -> BenchReport | None:
    from perflab import bench as b  # noqa: PLC0415

    label = _label(run, None)
    rs_new = b.run_results(store, run, label)
    if not rs_new.results:
        return None
    values = _value_rows(b.build_tables(rs_new, b.Options()))
    prev = b.previous_run(store, run)
    compare: list[CompareRow] = []
    notes: list[str] = []
    text = ""
    if prev is not None:
        rs_old = b.run_results(store, prev, _label(prev, run))
        if rs_old.results:
            rs = _merge(rs_old, rs_new)
            tables = b.build_tables(rs, b.Options())
            compare, notes = _compare_rows(tables, rs)
            text = b.to_text(tables)
    names = {r.name for r in rs_new.results}
    branch = str(run.meta.get("branch") or "")
    hists = [h for h in b.histories(store, branch=branch or None) if h.bench in names]
    changes: list[tuple[Change, bool]] = []
    charts: list[tuple[History, list[Change]]] = []
    short = 0
    for h in hists:
        if len(h.points) < 3:  # change points need three commits
            short += 1
            found: list[Change] = []
        else:
            found = b.find_changes(h)
        changes.extend((c, c.after.run_id == run.id) for c in found)
        if len(h.points) >= 2:  # a line needs two points
            charts.append((h, found))
    charts.sort(key=lambda hc: (not hc[1], hc[0].bench, hc[0].unit))  # changes first
    return BenchReport(
        commit=str(run.meta.get("commit", "")), branch=branch, values=values, previous=prev,
        compare=compare, compare_text=text, compare_notes=notes, changes=changes,
        short_histories=short, charts_json=_charts_json(charts[:MAX_CHARTS], run.id))


def _charts_json(charts: list[tuple[History, list[Change]]], run_id: int) -> Markup:
    data: list[dict[str, Any]] = [{
        "name": h.bench, "unit": h.unit, "run_id": run_id,
        "points": [p.to_json() for p in h.points],
        "changes": [c.to_json() for c in found],
    } for h, found in charts]
    return script_json(data)
