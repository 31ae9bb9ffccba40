"""The store owns its queries: no SQL and no raw connection outside ``perflab.store``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from perflab.store import nearest_rank

SRC = Path(__file__).resolve().parents[2] / "src" / "perflab"
SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|PRAGMA|CREATE)\b.*\b(FROM|INTO|SET|TABLE|INDEX)\b"
                 r"|^PRAGMA\b", re.IGNORECASE)


def _outside_store() -> list[Path]:
    return [p for p in SRC.rglob("*.py") if "store" not in p.relative_to(SRC).parts[:1]]


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        # a Store's connection (the load engine's own `self.conn` is a socket, not SQL)
        if (isinstance(node, ast.Attribute) and node.attr == "conn"
                and isinstance(node.value, ast.Name)
                and node.value.id in {"store", "st", "s", "self"}
                and path.name != "_scenario_engine.py"):
            found.append(f"{path}:{node.lineno}: .conn")
        # the driver's own errors are the store's to read (store.query_interrupted)
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                (a.name if isinstance(node, ast.Import) else node.module or "") == "sqlite3"
                for a in node.names):
            found.append(f"{path}:{node.lineno}: import sqlite3")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(
                node.value.strip()) and node.value.strip().upper().startswith(
                ("SELECT", "INSERT", "UPDATE", "DELETE", "PRAGMA", "CREATE", "WITH")):
            found.append(f"{path}:{node.lineno}: SQL {node.value[:40]!r}")
    return found


def test_no_sql_or_connection_outside_the_store():
    offences = [o for p in _outside_store() for o in _offences(p)]
    assert offences == []


def test_the_check_sees_sql_where_it_is():
    """The walk above finds the store's own SQL, so an empty result means something."""
    found = [o for p in (SRC / "store").rglob("*.py") for o in _offences(p)]
    assert any("SQL" in o for o in found)


def test_nearest_rank_is_a_measured_value():
    values = [float(v) for v in range(1, 21)]
    assert nearest_rank(values, 95) == 19.0
    assert nearest_rank(values, 100) == 20.0
    assert nearest_rank(values, 0) == 1.0
    assert nearest_rank([5.0], 50) == 5.0
    with pytest.raises(ValueError, match="no values"):
        nearest_rank([], 50)
