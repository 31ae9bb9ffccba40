"""The demo's regression check, from recorded values: the verdict comes from the store."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from perflab.bench import histories, mann_whitney_u
from perflab.demo._findings import CpuFinding, Findings, LeakFinding, LockFinding
from perflab.demo._regression import (
    ALPHA,
    BENCH_NAME,
    FUNCS,
    MAX_WORKERS,
    SLICES,
    VALUES,
    decided,
    fake_commit,
    measure,
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
    regression = findings.to_json()["regression"]
    assert regression is not None
    assert regression["detected"] is True
    run = store.create_run("demo", "demo")
    store.finish_run(run.id, "ok", meta_update={"findings": [x.to_json() for x in findings.all()]})
    page = render_report(store, run.id)
    assert "<td>regression</td>" in page
    assert "slower in version 2" in page
    # and the v2 bench run's own report shows the comparison with v1
    bench_page = render_report(store, recorded["v2"][1])
    assert 'data-verdict="regression"' in bench_page


class ScriptedWorkers:
    """Bench workers whose values are scripted per measuring worker: v1 and v2 overlap or not."""

    def __init__(self, *separated: bool) -> None:
        self.separated = list(separated)
        self.specs: list[dict[str, Any]] = []

    def __call__(self, spec: dict[str, Any]) -> dict[str, Any]:
        self.specs.append(spec)
        if spec["mode"] == "calibrate":
            return {"loops": 100, "elapsed": 0.004}
        worker = sum(1 for s in self.specs if s["mode"] == "alternate")
        v1 = values(10e-6, seed=worker, n=spec["values"])
        v2 = values(15e-6 if self.separated[worker - 1] else 10e-6, seed=100 + worker,
                    n=spec["values"])
        return {"values": [v1, v2]}

    @property
    def workers(self) -> list[dict[str, Any]]:
        return [s for s in self.specs if s["mode"] == "alternate"]


def test_both_versions_are_measured_in_the_same_workers_in_slices():
    workers = ScriptedWorkers(True, True)
    measured = measure(runner=workers)
    assert (len(measured["v1"]), len(measured["v2"])) == (10, 10)  # decided: no more workers
    assert len(workers.workers) == 2
    spec = workers.workers[0]
    assert [func for _, func in spec["benches"]] == list(FUNCS)
    assert (spec["slices"], spec["clock"]) == (SLICES, "cpu")


def test_undecided_values_get_one_more_worker_at_a_time_until_the_test_decides():
    workers = ScriptedWorkers(False, False, True, True)
    measured = measure(runner=workers)
    assert len(workers.workers) == 3
    assert (len(measured["v1"]), len(measured["v2"])) == (15, 15)
    assert mann_whitney_u(measured["v1"], measured["v2"]).p < ALPHA


def test_sequential_testing_stops_at_its_cap():
    workers = ScriptedWorkers(False, False, False, False, False)
    measured = measure(runner=workers)
    assert len(workers.workers) == MAX_WORKERS
    assert len(measured["v1"]) == MAX_WORKERS * VALUES


def test_all_equal_values_are_decided_without_more_workers():
    assert decided([1.0] * 10, [1.0] * 10)
    assert not decided(values(10e-6, 1), values(10e-6, 2))
