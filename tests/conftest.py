from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

from perflab.store import Store

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# In CI every run explores the same examples (derandomize) and keeps no example database: a red
# build then means a change broke something, never that this run's dice found an old corner.
# Locally Hypothesis stays random and remembers failures, which is where new corners are found.
settings.register_profile("ci", derandomize=True, database=None)
if IN_CI:
    settings.load_profile("ci")


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
