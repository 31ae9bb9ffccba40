from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

from perflab.store import Store


def in_ci() -> bool:
    """Whether this run is CI's (``CI=true``), where every peer and privilege must be there."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


IN_CI = in_ci()

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
        if in_ci():
            pytest.fail(f"{name} is required in CI but missing (see tests/debian-packages.txt)")
        pytest.skip(f"{name} not installed")
    return path


def require_root(why: str) -> None:
    """Skip a test that needs root when not root, but fail in CI, which runs every test as root.

    ``why`` names what root is needed for; a CI job that silently skipped these would pass
    without ever running perf, bpftrace or the loop device.
    """
    if os.geteuid() != 0:
        if in_ci():
            pytest.fail(f"needs root ({why}); CI runs the tests as root")
        pytest.skip(f"needs root ({why})")


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "perflab.db"


@pytest.fixture
def store(store_path: Path):
    s = Store.open(store_path)
    yield s
    s.close()
