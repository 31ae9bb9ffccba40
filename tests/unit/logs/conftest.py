"""Fixtures of the logs tests: a store file as an older perflab left it (migration tests)."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import pytest

from perflab.store._schema import APPLICATION_ID, MIGRATIONS, _statements

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def _store_at_version(path: Path, version: int) -> sqlite3.Connection:
    """A new file at ``path`` with the schema of ``version``: the caller fills it and closes."""
    conn = sqlite3.connect(path, isolation_level=None)
    for v in range(1, version + 1):
        for statement in _statements(MIGRATIONS[v]):
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    return conn


@pytest.fixture
def store_at_version() -> Callable[[Path, int], sqlite3.Connection]:
    return _store_at_version
