"""Group measurements into comparison tables (benchstat's model).

Each measurement is *projected* onto a table (by file configuration and unit), a row (by
default the benchmark's full name) and a column (by default the input file). Cells of the
first column are the baseline of their row. Any key left out of all three projections (and not
ignored) is the *residue*: if it varies inside a cell, the cell mixes different benchmarks and
gets a warning. Rows, columns and tables keep the order in which their values were first seen.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from perflab.bench._contracts import Assumption
from perflab.bench._filter import Predicate, field_value
from perflab.bench._model import Result, ResultSet, name_parts
from perflab.bench._stats import (
    DEFAULT_ALPHA,
    DEFAULT_CONFIDENCE,
    Comparison,
    Summary,
    compare_exact,
    compare_normal,
    compare_nothing,
    geomean,
    summarize_exact,
    summarize_mean,
    summarize_median,
)
from perflab.errors import InvalidValue

Key = tuple[str, ...]


@dataclass
class Cell:
    values: list[float]
    summary: Summary
    sample_warnings: tuple[str, ...] = ()
    baseline: Cell | None = None
    comparison: Comparison | None = None


@dataclass
class ColumnSummary:
    center: float | None  # geomean of the column's centres (None: not computable)
    ratio: float | None  # geomean of the ratios to the baseline (None: not computable)
    warnings: tuple[str, ...] = ()


@dataclass
class Table:
    config: tuple[tuple[str, str], ...]  # the table's key, without the unit
    unit: str
    assumption: Assumption
    row_fields: tuple[str, ...]
    col_fields: tuple[str, ...]
    rows: list[Key]
    cols: list[Key]
    cells: dict[tuple[Key, Key], Cell]
    summaries: dict[Key, ColumnSummary] = field(default_factory=dict)

    @staticmethod
    def label(key: Key) -> str:
        return " ".join(key)

    def compared(self) -> Iterator[tuple[Key, Key, Cell, Cell, Comparison]]:
        """(row, column, cell, its baseline, their comparison) for every cell compared with
        the baseline column, in the order of the table (rows, then columns)."""
        for row in self.rows:
            for col in self.cols[1:]:
                cell = self.cells.get((row, col))
                if cell is None or cell.baseline is None or cell.comparison is None:
                    continue
                yield row, col, cell, cell.baseline, cell.comparison


@dataclass(frozen=True)
class Options:
    row: str = ".fullname"
    col: str = ".file"
    ignore: str = ""
    filter: Predicate | None = None
    confidence: float = DEFAULT_CONFIDENCE
    alpha: float = DEFAULT_ALPHA


def parse_keys(text: str) -> tuple[str, ...]:
    keys = tuple(k for k in text.replace(",", " ").split() if k)
    for k in keys:
        if "@" in k:
            raise InvalidValue(f"sort orders ({k}) are not supported",
                               hint="drop the @order suffix; rows keep first-seen order")
    return keys


class _Orders:
    """First-observation order of each field's values."""

    def __init__(self) -> None:
        self._seen: dict[str, dict[str, int]] = {}

    def note(self, name: str, value: str) -> None:
        seen = self._seen.setdefault(name, {})
        if value not in seen:
            seen[value] = len(seen)

    def rank(self, name: str, value: str) -> int:
        return self._seen.get(name, {}).get(value, 0)


def build_tables(rs: ResultSet, opts: Options) -> list[Table]:
    row_fields = parse_keys(opts.row) or (".fullname",)
    col_fields = parse_keys(opts.col) or (".file",)
    ignored = set(parse_keys(opts.ignore))
    claimed = set(row_fields) | set(col_fields) | ignored
    claimed_sub = {k for k in claimed if k.startswith("/")}
    residue_fields = [f for f in (".fullname", ".file") if f not in claimed
                      and not (f == ".fullname" and ".fullname" in ignored)]

    orders = _Orders()
    config_keys: list[str] = []  # table keys (file config minus claimed), first-seen order
    # table key -> (row, col) -> [values], residue keys
    raw: dict[tuple[tuple[str, ...], str], dict[tuple[Key, Key], tuple[list[float], set[Key]]]]
    raw = {}
    cfg_cache: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}

    for result in rs.results:
        cfg = cfg_cache.get(result.config)
        if cfg is None:
            cfg = dict(result.config)
            cfg_cache[result.config] = cfg
            for k in cfg:
                if k not in claimed and k not in config_keys:
                    config_keys.append(k)
        trimmed_name = _fullname(result.name, claimed_sub)
        for v in result.values:
            if opts.filter is not None and not opts.filter(result, v.unit, v.orig_unit):
                continue
            row = tuple(_project(result, v.unit, f, trimmed_name) for f in row_fields)
            col = tuple(_project(result, v.unit, f, trimmed_name) for f in col_fields)
            residue = tuple(_project(result, v.unit, f, trimmed_name) for f in residue_fields)
            tcfg = tuple(cfg.get(k, "") for k in config_keys)
            for k, val in zip(config_keys, tcfg, strict=True):
                orders.note(k, val)
            orders.note(".unit", v.unit)
            orders.note("\0row", "\0".join(row))
            orders.note("\0col", "\0".join(col))
            table = raw.setdefault((tcfg, v.unit), {})
            slot = table.get((row, col))
            if slot is None:
                slot = ([], set())
                table[(row, col)] = slot
            slot[0].append(v.value)
            slot[1].add(residue)

    def table_rank(key: tuple[tuple[str, ...], str]) -> tuple[int, ...]:
        tcfg, unit = key
        padded = tcfg + ("",) * (len(config_keys) - len(tcfg))
        return (*(orders.rank(k, v) for k, v in zip(config_keys, padded, strict=True)),
                orders.rank(".unit", unit))

    tables = []
    for key in sorted(raw, key=table_rank):
        tcfg, unit = key
        padded = tcfg + ("",) * (len(config_keys) - len(tcfg))
        tables.append(_finish(
            rs, raw[key], tuple(zip(config_keys, padded, strict=True)), unit, row_fields,
            col_fields, residue_fields, orders, opts))
    return tables


def _fullname(name: str, claimed_sub: set[str]) -> str:
    if not claimed_sub:
        return name
    base, parts = name_parts(name)
    return base + "".join(p.text for p in parts if p.key not in claimed_sub)


def _project(result: Result, unit: str, fld: str, trimmed_name: str) -> str:
    if fld == ".fullname":
        return trimmed_name
    if fld == ".config":
        return " ".join(f"{k}={v}" for k, v in result.config)
    return field_value(result, unit, fld)


def _finish(  # noqa: PLR0917  # private step of build_tables, called once
    rs: ResultSet,
    cells_raw: dict[tuple[Key, Key], tuple[list[float], set[Key]]],
    config: tuple[tuple[str, str], ...],
    unit: str,
    row_fields: tuple[str, ...],
    col_fields: tuple[str, ...],
    residue_fields: list[str],
    orders: _Orders,
    opts: Options,
) -> Table:
    rows = sorted({rc[0] for rc in cells_raw}, key=lambda r: orders.rank("\0row", "\0".join(r)))
    cols = sorted({rc[1] for rc in cells_raw}, key=lambda c: orders.rank("\0col", "\0".join(c)))
    assumption = rs.assumption(unit)
    cells: dict[tuple[Key, Key], Cell] = {}
    for (row, col), (values, residues) in cells_raw.items():
        if assumption == "exact":
            summary = summarize_exact(values)
        elif assumption == "normal":
            summary = summarize_mean(values, opts.confidence)
        else:
            summary = summarize_median(values, opts.confidence)
        warnings: tuple[str, ...] = ()
        if len(residues) > 1:
            varying = [residue_fields[i] for i in range(len(residue_fields))
                       if len({r[i] for r in residues}) > 1]
            warnings = ("benchmarks vary in " + ", ".join(varying),)
        cells[(row, col)] = Cell(sorted(values), summary, warnings)
    base_col = cols[0]
    for (row, col), cell in cells.items():
        if col == base_col:
            continue
        base = cells.get((row, base_col))
        if base is None:
            continue
        cell.baseline = base
        if assumption == "exact":
            cell.comparison = compare_exact(base.values, cell.values, opts.alpha)
        elif assumption == "normal":
            cell.comparison = compare_normal(base.values, cell.values, opts.alpha)
        else:
            cell.comparison = compare_nothing(base.values, cell.values, opts.alpha)
    table = Table(config, unit, assumption, row_fields, col_fields, rows, cols, cells)
    n_base = sum(1 for r in rows if (r, base_col) in cells)
    for i, col in enumerate(cols):
        table.summaries[col] = _summarize_column(table, col, n_base, is_base=i == 0)
    return table


def _summarize_column(table: Table, col: Key, n_base: int, *, is_base: bool) -> ColumnSummary:
    # geomean of the ratios, not the ratio of geomeans: still meaningful when sets differ
    centers: list[float] = []
    ratios: list[float] = []
    bad_ratio = False
    for row in table.rows:
        cell = table.cells.get((row, col))
        if cell is None:
            continue
        centers.append(cell.summary.center)
        if cell.baseline is not None:
            new, old = cell.summary.center, cell.baseline.summary.center
            if new == old:
                ratios.append(1.0)  # 0/0 counts as no change
            elif old == 0:
                bad_ratio = True
                ratios.append(0.0)
            else:
                ratios.append(new / old)
    warnings: list[str] = []
    if not is_base and n_base != len(ratios):
        warnings.append("benchmark set differs from baseline; geomeans may not be comparable")
    center: float | None = geomean(centers)
    if center is not None and math.isnan(center):
        warnings.append("summaries must be >0 to compute geomean")
        center = None
    ratio: float | None = None
    if not is_base and not bad_ratio:
        ratio = geomean(ratios)
        if math.isnan(ratio):
            warnings.append("ratios must be >0 to compute geomean")
            ratio = None
    return ColumnSummary(center, ratio, tuple(warnings))
