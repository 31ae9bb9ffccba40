from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from perflab.store import Store

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tool(name: str) -> str:
    """The path of a system tool; skip without it, but fail in CI where every peer must exist."""
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is required in CI but missing (see tests/debian-packages.txt)")
        pytest.skip(f"{name} not installed")
    return path


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "perflab.db"


@pytest.fixture
def store(store_path: Path):
    s = Store.open(store_path)
    yield s
    s.close()
