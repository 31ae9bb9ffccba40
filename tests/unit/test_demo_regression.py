"""The demo's regression check, from recorded values: the verdict comes from the store."""

from __future__ import annotations

import numpy as np
import pytest

from perflab.bench import histories
from perflab.demo._findings import CpuFinding, Findings, LeakFinding, LockFinding
from perflab.demo._regression import (
    BENCH_NAME,
    fake_commit,
    record_versions,
    regression_finding,
)
from perflab.demo.service import ITEMS, render_items, render_items_v2
from perflab.report import render_report


def values(center: float, seed: int, n: int = 10) -> list[float]:
    return list(center * (1 + np.random.default_rng(seed).uniform(-0.05, 0.05, n)))


def test_both_versions_render_the_same_items():
    assert render_items_v2(ITEMS) == render_items(ITEMS)


def test_a_planted_slowdown_is_a_significant_regression_with_its_size(store):
    recorded = record_versions(store, {"v1": values(10e-6, 1), "v2": values(15e-6, 2)},
                               demo_run_id=7, time_ns=10**18)
    assert recorded["v1"][0] == fake_commit(7, "v1")
    assert fake_commit(7, "v1") != fake_commit(8, "v1")  # repeated demos never share a commit
    f = regression_finding(store, recorded["v1"][1], recorded["v2"][1], seconds=3.2)
    assert f.detected
    assert f.significant
    assert f.pvalue < 1e-4  # n = 10 a side, no overlap
    assert f.delta_pct == pytest.approx(50, abs=6)
    assert f.ratio == pytest.approx(1.5, abs=0.08)
    assert (f.old.n, f.new.n) == (10, 10)
    assert f.branch == "demo-7"
    assert f"is {f.ratio:.2f}x slower in version 2" in f.summary
    assert f"{f.delta_pct:+.1f}%" in f.summary
    assert "slower in version 2" in f.summary
    doc = f.to_json()
    assert doc["old"]["run_id"] == recorded["v1"][1]
    assert doc["seconds"] == 3.2
    # the two commits are the benchmark's history on the demo's branch, v1 first
    (hist,) = histories(store, BENCH_NAME, branch="demo-7")
    assert [p.commit for p in hist.points] == [fake_commit(7, "v1"), fake_commit(7, "v2")]


def test_the_same_speed_is_not_a_regression(store):
    recorded = record_versions(store, {"v1": values(10e-6, 3), "v2": values(10e-6, 4)},
                               demo_run_id=1, time_ns=10**18)
    f = regression_finding(store, recorded["v1"][1], recorded["v2"][1])
    assert not f.detected
    assert f.summary.startswith("regression: none found")


def test_the_finding_is_in_the_findings_and_their_report(store):
    recorded = record_versions(store, {"v1": values(10e-6, 5), "v2": values(16e-6, 6)},
                               demo_run_id=3, time_ns=10**18)
    f = regression_finding(store, recorded["v1"][1], recorded["v2"][1])
    findings = Findings(CpuFinding(False, None, (None, None), (None, None), None),
                        LockFinding(False, None, (), None),
                        LeakFinding(False, None, None, None, (None, None), None),
                        regression=f)
    assert [x.kind for x in findings.all()] == ["cpu", "lock", "leak", "thresholds",
                                                "regression"]
    assert findings.to_json()["regression"]["detected"] is True
    run = store.create_run("demo", "demo")
    store.finish_run(run.id, "ok", meta_update={"findings": [x.to_json() for x in findings.all()]})
    page = render_report(store, run.id)
    assert "<td>regression</td>" in page
    assert "slower in version 2" in page
    # and the v2 bench run's own report shows the comparison with v1
    bench_page = render_report(store, recorded["v2"][1])
    assert 'data-verdict="regression"' in bench_page
