"""The shared test helpers: a missing privilege or peer skips locally and fails in CI."""

from __future__ import annotations

import pytest
from tests.conftest import require_root


def test_a_test_that_needs_root_fails_in_ci_when_not_root(monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"needs root \(to mount\); CI runs"):
        require_root("to mount")


def test_a_test_that_needs_root_skips_outside_ci_when_not_root(monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"needs root \(to mount\)"):
        require_root("to mount")


def test_root_runs_the_test(monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.setenv("CI", "true")
    require_root("to mount")  # neither skips nor fails
