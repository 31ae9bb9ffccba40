"""`perflab load compare`: two stored load runs side by side, deltas of B against A."""

import pytest

from perflab.errors import NotFound
from perflab.load._compare import compare_runs, render_compare


def add_run(store, name, *, rps, p99, error_rate=0.0):
    run = store.create_run("load", name)
    summary = {"url": "http://127.0.0.1:8080/", "rps": rps, "requests": int(rps * 10),
               "error_rate": error_rate, "dropped": 0,
               "latency_ms": {"p50": 1.0, "p90": 2.0, "p99": p99, "p999": p99 * 2,
                              "max": p99 * 3, "mean": 1.2},
               "service_time_ms": {"p50": 1.0, "p99": p99}}
    store.finish_run(run.id, "ok", meta_update={"summary": summary})
    return run.id


def test_rows_and_verdicts(store):
    a = add_run(store, "before", rps=1000.0, p99=10.0)
    b = add_run(store, "after", rps=1500.0, p99=20.0)
    doc = compare_runs(store, str(a), str(b))
    rows = {r["metric"]: r for r in doc["rows"]}
    assert rows["rps"]["delta"] == 500.0
    assert rows["rps"]["delta_pct"] == pytest.approx(0.5)
    assert rows["rps"]["verdict"] == "better"
    assert rows["latency_p99"]["verdict"] == "worse"
    assert rows["latency_p50"]["verdict"] == "same"
    assert rows["error_rate"]["delta_pct"] is None  # 0 -> 0: no relative change to show


def test_rendering(store):
    a = add_run(store, "before", rps=1000.0, p99=10.0)
    b = add_run(store, "after", rps=1500.0, p99=20.0)
    lines = render_compare(compare_runs(store, str(a), str(b))).splitlines()
    assert lines[0] == f"A: run {a} before (ok)"
    assert lines[1] == f"B: run {b} after (ok)"
    assert lines[3].split() == ["metric", "A", "B", "delta"]
    assert lines[4] == "requests/s           1,000.0/s      1,500.0/s     +50.0%  better"
    assert "latency p99           10.000ms       20.000ms    +100.0%  worse" in lines


def test_a_run_that_is_not_a_load_test_is_refused(store):
    other = store.create_run("record", "system")
    a = add_run(store, "before", rps=1000.0, p99=10.0)
    with pytest.raises(NotFound) as exc:
        compare_runs(store, str(a), str(other.id))
    assert "not a finished load test" in exc.value.message


def add_open_run(store, name, *, rate, rps, p99):
    run = store.create_run("load", name, meta={"url": "http://127.0.0.1:8080/",
                                                "model": "open", "rate": rate, "stages": [],
                                                "method": "GET", "connections": 10})
    summary = {"url": "http://127.0.0.1:8080/", "rps": rps, "requests": int(rps * 10),
               "error_rate": 0.0, "late": 0, "dropped": 0,
               "latency_ms": {"p50": 1.0, "p99": p99}}
    store.finish_run(run.id, "ok", meta_update={"summary": summary})
    return run.id


def test_a_lower_target_rate_is_a_different_experiment_not_worse(store):
    """Open model: the rate is the input. 1000/s then 500/s is not a throughput regression."""
    a = add_open_run(store, "fast", rate=1000.0, rps=1000.0, p99=5.0)
    b = add_open_run(store, "slow", rate=500.0, rps=500.0, p99=4.0)
    doc = compare_runs(store, str(a), str(b))
    assert doc["same_experiment"] is False
    assert doc["differences"] == ["target rate: 1000 vs 500"]
    assert {r["verdict"] for r in doc["rows"]} == {None}
    text = render_compare(doc)
    assert "different experiments" in text
    assert "target rate: 1000 vs 500" in text
    assert "  worse" not in text
    assert "  better" not in text


def test_the_same_experiment_is_judged_on_outcomes_never_on_the_request_count(store):
    a = add_open_run(store, "before", rate=1000.0, rps=1000.0, p99=5.0)
    b = add_open_run(store, "after", rate=1000.0, rps=900.0, p99=5.0)
    doc = compare_runs(store, str(a), str(b))
    rows = {r["metric"]: r for r in doc["rows"]}
    assert doc["same_experiment"] is True
    assert rows["rps"]["verdict"] == "worse"  # same target, less achieved
    assert rows["requests"]["verdict"] is None
