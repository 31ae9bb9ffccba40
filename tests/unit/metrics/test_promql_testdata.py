"""Prometheus's own PromQL test files (v2.42.0, tests/fixtures/promql) pass on perflab's engine:
every eval, as an instant query, a range query and with @ at other times."""

from __future__ import annotations

from pathlib import Path

import pytest

from perflab.metrics._promqltest import run_file

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "promql"
FILES = sorted(FIXTURES.glob("*.test"))


def test_the_vendored_files_are_there():
    assert len(FILES) == 11


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_eval_of_a_prometheus_test_file_passes(path: Path):
    results = run_file(path)
    assert results, f"{path.name} has no evals"
    failed = [f"line {r.case.line}: {r.case.expr}: {r.message}" for r in results if not r.ok]
    assert failed == []
