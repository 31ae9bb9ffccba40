"""Render comparison tables: benchstat's text and CSV layouts, Markdown, JSON and JUnit XML."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from xml.sax.saxutils import escape, quoteattr

from perflab.bench._contracts import (
    BenchCompareCell,
    BenchCompareDoc,
    BenchCompareGate,
    BenchCompareRow,
    BenchCompareTable,
    VerdictKind,
)
from perflab.bench._stats import _go_float
from perflab.bench._table import Cell, Key, Table
from perflab.bench._texttab import CENTER, LEFT, RIGHT, TextTable
from perflab.bench._units import Scaler, common_scale, is_binary, scale

_SUPERSCRIPT = "⁰¹²³⁴⁵⁶⁷⁸⁹"


def superscript(i: int) -> str:
    return "".join(_SUPERSCRIPT[int(d)] for d in str(i))


def _headers(tables: list[Table]) -> Iterator[tuple[Table, list[str]]]:
    """Each table with the ``key: value`` lines that changed since the previous table."""
    prev: dict[str, str] | None = None
    for table in tables:
        lines = [f"{k}: {v}" for k, v in table.config if prev is None or prev.get(k) != v]
        prev = dict(table.config)
        yield table, lines


# --- text ---------------------------------------------------------------------------------


def to_text(tables: list[Table]) -> str:
    out: list[str] = []
    for i, (table, lines) in enumerate(_headers(tables)):
        if i > 0:
            out.append("\n")
        out.extend(line + "\n" for line in lines)
        out.append(_table_text(table))
    return "".join(out)


def _start_col(exp: int) -> int:
    # label | center, ±range, notes | (center, ±range, notes, delta, (p n), notes) ...
    return 1 if exp == 0 else 1 + 3 + (exp - 1) * 6


def _col_header_levels(cols: list[Key]) -> list[list[tuple[int, int, str]]]:
    """Per header level, the (start, length, value) nodes: equal prefixes merge."""
    depth = len(cols[0]) if cols else 0
    levels: list[list[tuple[int, int, str]]] = []
    for level in range(depth):
        nodes: list[tuple[int, int, str]] = []
        for i, key in enumerate(cols):
            if nodes and i > 0 and cols[i - 1][: level + 1] == key[: level + 1]:
                start, length, value = nodes[-1]
                nodes[-1] = (start, length + 1, value)
            else:
                nodes.append((i, 1, key[level]))
        levels.append(nodes)
    return levels


def _row_scaler(table: Table, row: Key, binary: bool) -> Scaler:
    """One prefix and precision for a row's centres, as benchstat prints them."""
    return common_scale([c.summary.center for col in table.cols
                         if (c := table.cells.get((row, col))) is not None], binary)


class _Notes:
    """Footnotes of a text table: each distinct warning once, marked where it applies."""

    def __init__(self, t: TextTable) -> None:
        self.t = t
        self.notes: list[str] = []

    def warn(self, *groups: tuple[str, ...]) -> None:
        marks = []
        for group in groups:
            for msg in group:
                if msg not in self.notes:
                    self.notes.append(msg)
                marks.append(superscript(self.notes.index(msg) + 1))
        self.t.cell(" ".join(marks))


def _table_text(table: Table) -> str:
    t = TextTable()
    notes = _Notes(t)
    _text_header(t, table)
    binary = is_binary(table.unit)
    for row in table.rows:
        _text_row(t, table, row, binary, notes)
    if len(table.rows) > 1:
        _text_geomean(t, table, binary, notes)
    text = t.render()
    for i, msg in enumerate(notes.notes):
        text += f"{superscript(i + 1)} {msg}\n"
    return text


def _text_header(t: TextTable, table: Table) -> None:
    right_edge = _start_col(len(table.cols) + 1)
    for nodes in _col_header_levels(table.cols):
        t.row()
        for start, length, value in nodes:
            lo, hi = _start_col(start), _start_col(start + length)
            t.col(lo).span(hi - lo, value, align=CENTER, margin=" │ ")
        t.col(right_edge).cell("", margin=" │")
    t.row()
    for i in range(len(table.cols)):
        lo = _start_col(i)
        t.col(lo)
        t.span(3, table.unit, align=CENTER, margin=" │ ")
        if i > 0:
            t.span(3, "vs base", align=LEFT, margin="  ")
        for j in range(lo + 1, t.cur_col):
            t.set_shrink(j)
    t.col(right_edge).cell("", margin=" │")


def _text_row(t: TextTable, table: Table, row: Key, binary: bool, notes: _Notes) -> None:
    t.row()
    t.cell(Table.label(row))
    scaler = _row_scaler(table, row, binary)
    for exp, col in enumerate(table.cols):
        cell = table.cells.get((row, col))
        if cell is None:
            continue
        t.col(_start_col(exp))
        t.cell(scaler.format(cell.summary.center), align=RIGHT)
        t.cell(cell.summary.pct_range(), align=RIGHT, margin=" ± ")
        notes.warn(cell.sample_warnings, cell.summary.warnings)
        if exp > 0 and cell.baseline is not None and cell.comparison is not None:
            t.cell(cell.comparison.format_delta(cell.baseline.summary.center,
                                                cell.summary.center), align=RIGHT)
            t.cell("(" + cell.comparison.describe() + ")")
            notes.warn(cell.comparison.warnings)


def _text_geomean(t: TextTable, table: Table, binary: bool, notes: _Notes) -> None:
    t.row()
    t.cell("geomean")
    for exp, col in enumerate(table.cols):
        summary = table.summaries.get(col)
        if summary is None:
            continue
        if summary.center is not None:
            t.col(_start_col(exp))
            t.cell(scale(summary.center, binary), align=RIGHT)
        if exp > 0:
            t.col(_start_col(exp) + 3)
            if summary.ratio is not None:
                t.cell(f"{(summary.ratio - 1) * 100:+.2f}%", align=RIGHT)
            else:
                t.cell("?")
        t.col(_start_col(exp + 1) - 1)
        notes.warn(summary.warnings)


# --- CSV (benchstat's layout; warnings go to a separate stream) ---------------------------


def _csv_field(value: str) -> str:
    if value == "":
        return value
    # Go's encoding/csv rules: a separator, quote or line break, a leading space, or `\.`
    if value == "\\." or any(ch in value for ch in ',"\r\n') or value[0].isspace():
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv_col_name(x: int) -> str:
    # benchstat's spreadsheet-style column reference (its own base-26 variant, kept as is so
    # that warnings point at the same cells)
    letters = ""
    while x > 0:
        letters = chr(ord("A") + x % 26) + letters
        x //= 26
    return letters or "A"


def to_csv(tables: list[Table]) -> tuple[str, str]:
    """The CSV text and the warnings (``B6: message``) that benchstat writes to stderr."""
    lines: list[str] = []
    warnings: list[str] = []

    def emit(row: list[str]) -> None:
        lines.append(",".join(_csv_field(v) for v in row))

    for i, (table, hdr) in enumerate(_headers(tables)):
        if i > 0:
            emit([""])
        for line in hdr:
            emit([line])
        _table_csv(table, emit, len(lines) + 1, warnings)
    return "".join(line + "\n" for line in lines), "".join(w + "\n" for w in warnings)


class _CsvRows:
    """benchstat's CSV rows: cells placed by column, each warning named by its cell."""

    def __init__(self, emit: Callable[[list[str]], None], start_row: int,
                 warnings: list[str]) -> None:
        self.emit = emit
        self.start_row = start_row
        self.warnings = warnings
        self.row: list[str] = []
        self.count = 0

    @staticmethod
    def start(exp: int) -> int:
        return 1 if exp == 0 else 1 + 2 + (exp - 1) * 4

    def clear_to(self, n: int) -> None:
        while len(self.row) < n:
            self.row.append("")

    def flush(self) -> None:
        self.emit(list(self.row))
        self.row.clear()
        self.count += 1

    def warn(self, msgs: tuple[str, ...]) -> None:
        where = f"{_csv_col_name(len(self.row))}{self.start_row + self.count}"
        self.warnings.extend(f"{where}: {msg}" for msg in msgs)


def _table_csv(table: Table, emit: Callable[[list[str]], None], start_row: int,
               warnings: list[str]) -> None:
    out = _CsvRows(emit, start_row, warnings)
    for level in range(len(table.col_fields)):
        for exp, key in enumerate(table.cols):
            out.clear_to(out.start(exp))
            out.row.append(key[level])
        # benchstat pads the configuration rows and the geomean row to the full column count
        # since golang/perf 8f5f3ab (`,old.txt,,new.txt,,,`); the body rows stay unpadded
        out.clear_to(out.start(len(table.cols)))
        out.flush()
    for exp in range(len(table.cols)):
        out.clear_to(out.start(exp))
        out.row.extend([table.unit, "CI"])
        if exp > 0:
            out.row.extend(["vs base", "P"])
    out.flush()
    for key in table.rows:
        _csv_body_row(out, table, key)
    _csv_geomean(out, table)


def _csv_body_row(out: _CsvRows, table: Table, key: Key) -> None:
    out.row.append(Table.label(key))
    for exp, col in enumerate(table.cols):
        cell = table.cells.get((key, col))
        if cell is None:
            continue
        out.clear_to(out.start(exp))
        out.warn(cell.sample_warnings)
        out.warn(cell.summary.warnings)
        out.row.extend([_go_float(cell.summary.center), cell.summary.pct_range()])
        if exp > 0 and cell.baseline is not None and cell.comparison is not None:
            out.warn(cell.comparison.warnings)
            out.row.extend([cell.comparison.format_delta(cell.baseline.summary.center,
                                                         cell.summary.center),
                            cell.comparison.describe()])
    out.flush()


def _csv_geomean(out: _CsvRows, table: Table) -> None:
    out.row.append("geomean")
    for exp, col in enumerate(table.cols):
        summary = table.summaries.get(col)
        if summary is None:
            continue
        out.clear_to(out.start(exp))
        out.warn(summary.warnings)
        if summary.center is not None:
            out.row.append(_go_float(summary.center))
        if exp > 0:
            out.clear_to(out.start(exp) + 2)
            out.row.append(f"{(summary.ratio - 1) * 100:+.2f}%" if summary.ratio is not None
                           else "?")
    out.clear_to(out.start(len(table.cols)))
    out.flush()


# --- Markdown (GitHub job summaries, PR comments) -----------------------------------------


def to_markdown(tables: list[Table], verdicts: dict[tuple[int, Key, Key], VerdictKind] | None = None
                ) -> str:
    verdicts = verdicts or {}
    out: list[str] = []
    for ti, (table, hdr) in enumerate(_headers(tables)):
        if out:
            out.append("")
        if hdr:
            out.append(" · ".join(f"`{h}`" for h in hdr))
            out.append("")
        binary = is_binary(table.unit)
        head = ["benchmark"]
        for exp, col in enumerate(table.cols):
            head.append(f"{Table.label(col)} ({table.unit})")
            if exp > 0:
                head.append("vs base")
        out.append("| " + " | ".join(_md(h) for h in head) + " |")
        out.append("|" + "|".join([" --- "] + [" ---: "] * (len(head) - 1)) + "|")
        notes: list[str] = []
        for row in table.rows:
            cells: list[str] = [_md(Table.label(row))]
            scaler = _row_scaler(table, row, binary)
            for exp, col in enumerate(table.cols):
                cell = table.cells.get((row, col))
                if cell is None:
                    cells.append("")
                    if exp > 0:
                        cells.append("")
                    continue
                text = f"{scaler.format(cell.summary.center)} ± {cell.summary.pct_range()}"
                cells.append(text + _md_notes(notes, cell.sample_warnings + cell.summary.warnings))
                if exp > 0:
                    cells.append(_md_delta(cell, verdicts.get((ti, row, col)), notes))
            out.append("| " + " | ".join(cells) + " |")
        if len(table.rows) > 1:
            cells = ["**geomean**"]
            for exp, col in enumerate(table.cols):
                summary = table.summaries[col]
                cells.append(scale(summary.center, binary) if summary.center is not None else "")
                if exp > 0:
                    ratio = (f"{(summary.ratio - 1) * 100:+.2f}%" if summary.ratio is not None
                             else "?")
                    cells.append(ratio + _md_notes(notes, summary.warnings))
            out.append("| " + " | ".join(cells) + " |")
        for i, msg in enumerate(notes):
            out.append("")
            out.append(f"{superscript(i + 1)} {_md(msg)}")
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _md_notes(notes: list[str], msgs: tuple[str, ...]) -> str:
    marks = []
    for msg in msgs:
        if msg not in notes:
            notes.append(msg)
        marks.append(superscript(notes.index(msg) + 1))
    return (" " + " ".join(marks)) if marks else ""


def _md_delta(cell: Cell, verdict: str | None, notes: list[str]) -> str:
    if cell.baseline is None or cell.comparison is None:
        return ""
    delta = cell.comparison.format_delta(cell.baseline.summary.center, cell.summary.center)
    mark = {"regression": " :red_circle:", "improvement": " :green_circle:"}.get(verdict or "", "")
    notes_text = _md_notes(notes, cell.comparison.warnings)
    return f"{delta} ({cell.comparison.describe()}){mark}{notes_text}"


# --- JSON ---------------------------------------------------------------------------------


def _num(x: float | None) -> float | None:
    if x is None or math.isnan(x) or math.isinf(x):
        return None
    return x


def to_json_payload(tables: list[Table],
                    verdicts: dict[tuple[int, Key, Key], VerdictKind] | None = None, *,
                    gate: BenchCompareGate | None = None, problems: list[str] | None = None,
                    ) -> BenchCompareDoc:
    """The ``bench compare --json`` document of the tables, their verdicts and the gate."""
    verdicts = verdicts or {}
    out: list[BenchCompareTable] = []
    for ti, table in enumerate(tables):
        rows: list[BenchCompareRow] = []
        for row in table.rows:
            cols: list[BenchCompareCell] = []
            for col in table.cols:
                cell = table.cells.get((row, col))
                if cell is None:
                    continue
                entry: BenchCompareCell = {
                    "column": Table.label(col),
                    "n": len(cell.values),
                    "center": _num(cell.summary.center),
                    "lo": _num(cell.summary.lo),
                    "hi": _num(cell.summary.hi),
                    "range": cell.summary.pct_range(),
                    "confidence": cell.summary.confidence,
                    "warnings": list(cell.sample_warnings + cell.summary.warnings),
                }
                if cell.baseline is not None and cell.comparison is not None:
                    old, new = cell.baseline.summary.center, cell.summary.center
                    entry["comparison"] = {
                        "p": cell.comparison.p,
                        "alpha": cell.comparison.alpha,
                        "n_base": cell.comparison.n1,
                        "delta": cell.comparison.format_delta(old, new),
                        "ratio": _num(new / old) if old != 0 else None,
                        "significant": not cell.comparison.p > cell.comparison.alpha,
                        "verdict": verdicts.get((ti, row, col), "unchanged"),
                        "warnings": list(cell.comparison.warnings),
                    }
                cols.append(entry)
            rows.append({"name": Table.label(row), "cells": cols})
        out.append({
            "config": dict(table.config),
            "unit": table.unit,
            "assume": table.assumption,
            "columns": [Table.label(c) for c in table.cols],
            "rows": rows,
            "geomean": [{"column": Table.label(c), "center": _num(s.center),
                         "ratio": _num(s.ratio), "warnings": list(s.warnings)}
                        for c, s in table.summaries.items()],
        })
    return {"schema": "perflab.bench-compare/1", "tables": out, "gate": gate,
            "problems": problems or []}


# --- JUnit XML (Jenkins, GitLab CI) -------------------------------------------------------


def to_junit(tables: list[Table], verdicts: dict[tuple[int, Key, Key], VerdictKind],
             gate_text: str) -> str:
    cases: list[str] = []
    failures = 0
    for ti, table in enumerate(tables):
        for row, col, cell, base, comparison in table.compared():
            name = f"{Table.label(row)} [{table.unit}]"
            if len(table.cols) > 2:
                name += f" {Table.label(col)}"
            old, new = base.summary.center, cell.summary.center
            delta = comparison.format_delta(old, new)
            detail = (f"{_go_float(old)} -> {_go_float(new)} {table.unit}: {delta} "
                      f"(p={comparison.p:.3f} n={comparison.n1}+{comparison.n2})")
            body = f"<system-out>{escape(detail)}</system-out>"
            if verdicts.get((ti, row, col)) == "regression":
                failures += 1
                body = (f"<failure message={quoteattr('regression: ' + delta)} "
                        f"type=\"regression\">{escape(detail + '; gate ' + gate_text)}"
                        f"</failure>") + body
            classname = ".".join(v for _, v in table.config if v) or "perflab.bench"
            cases.append(f'  <testcase classname={quoteattr(classname)} '
                         f'name={quoteattr(name)} time="0">{body}</testcase>')
    head = (f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="perflab bench compare" '
            f'tests="{len(cases)}" failures="{failures}" errors="0" skipped="0">\n')
    return head + "\n".join(cases) + ("\n" if cases else "") + "</testsuite>\n"
