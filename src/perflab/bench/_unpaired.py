"""Why a comparison compared nothing: the reason a CI gate must not pass on an empty verdict.

A gate such as ``--fail-on "regression>5%"`` trips on regressions it finds; when no cell was
paired with a baseline it finds none and would pass silently. The usual causes, in the order
they are checked:

- only one column (one file, or ``-col`` over a key with one value);
- the columns land in separate tables because a file-level key (``goos``, ``pkg``, ``note``...)
  differs between them, or is present in one file only;
- the columns measured different units;
- no benchmark name appears in two columns.
"""

from __future__ import annotations

from dataclasses import dataclass

from perflab.bench._table import Key, Table

_SHOWN = 6  # names listed per column before "and N more"


@dataclass(frozen=True)
class Unpaired:
    """What did not match, in one line, and what to do about it."""

    message: str
    hint: str


def why_nothing_compared(tables: list[Table]) -> Unpaired | None:
    """None when at least one cell was compared with its baseline, else the reason none was."""
    if any(True for table in tables for _ in table.compared()):
        return None
    columns = _columns(tables)
    if len(columns) < 2:
        only = columns[0] if columns else "nothing"
        return Unpaired(f"nothing was compared: there is only one column ({only})",
                        "pass two result files (OLD NEW), or -col KEY over a key with two values")
    keys = _differing_config(tables)
    if keys:
        return Unpaired(
            "nothing was compared: the columns differ in configuration "
            + "; ".join(f"{k} ({_per_column(tables, k)})" for k in keys),
            f"if those keys do not matter, ignore them: -ignore {','.join(keys)}")
    units = {col: sorted({t.unit for t in tables if col in t.cols}) for col in columns}
    if not set.intersection(*(set(u) for u in units.values())):
        return Unpaired(
            "nothing was compared: no unit is measured in every column ("
            + "; ".join(f"{_label(c)}: {', '.join(u)}" for c, u in units.items()) + ")",
            "compare results of the same measurement (ns/op with ns/op)")
    names = {col: _rows_of(tables, col) for col in columns}
    return Unpaired(
        "nothing was compared: no benchmark name appears in two columns ("
        + "; ".join(f"{_label(c)}: {_listed(n)}" for c, n in names.items()) + ")",
        "compare runs of the same benchmarks, or group rows by another key (-row .name)")


def _label(col: Key) -> str:
    return Table.label(col)


def _columns(tables: list[Table]) -> list[Key]:
    seen: dict[Key, None] = {}
    for table in tables:
        for col in table.cols:
            seen.setdefault(col, None)
    return list(seen)


def _differing_config(tables: list[Table]) -> list[str]:
    # a key differs when two columns are only ever seen under different values of it
    keys: list[str] = []
    for i, (key, _) in enumerate(tables[0].config if tables else ()):
        values_by_col: dict[Key, set[str]] = {}
        for table in tables:
            for col in table.cols:
                values_by_col.setdefault(col, set()).add(table.config[i][1])
        if len({frozenset(v) for v in values_by_col.values()}) > 1:
            keys.append(key)
    return keys


def _per_column(tables: list[Table], key: str) -> str:
    parts: dict[Key, list[str]] = {}
    for table in tables:
        value = dict(table.config).get(key, "") or "unset"
        for col in table.cols:
            if value not in parts.setdefault(col, []):
                parts[col].append(value)
    return "; ".join(f"{_label(c)}: {', '.join(v)}" for c, v in parts.items())


def _rows_of(tables: list[Table], col: Key) -> list[str]:
    seen: dict[str, None] = {}
    for table in tables:
        for row in table.rows:
            if (row, col) in table.cells:
                seen.setdefault(Table.label(row), None)
    return list(seen)


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")
