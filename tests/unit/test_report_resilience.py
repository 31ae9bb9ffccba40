"""The report's Resilience section: per fault band, its parameters, the load's p99, error rate
and throughput before, during and after it, its worst deviation and the time until the load was
back within the steady band (perflab chaos report's)."""

from __future__ import annotations

from pathlib import Path

from perflab.report import render_report
from perflab.report._resilience import resilience_rows
from perflab.store import CHAOS_FAULT_EVENT, Store

S = 1_000_000_000
T0 = 1_700_000_000 * S


def _p99_ms(second: int) -> float:
    """50 ms before the fault (seconds 1-10), 300 ms during it (11-20), then 200, 120 and 54
    ms (within 10 % of 50: in the steady band) from second 23 on."""
    if second <= 10:
        return 50.0
    if second <= 20:
        return 300.0
    return {21: 200.0, 22: 120.0}.get(second, 54.0)


def _load_run(store: Store, *, fault: bool = True) -> int:
    run = store.create_run("load", "checkout", started_ns=T0)
    p99 = store.series_id(run.id, "load.latency_ms", {"quantile": "0.99"}, "ms")
    p50 = store.series_id(run.id, "load.latency_ms", {"quantile": "0.5"}, "ms")
    rps = store.series_id(run.id, "load.rps", None, "/s")
    errors = store.series_id(run.id, "load.errors_per_s", None, "/s")
    rows = []
    for second in range(1, 31):
        ts = T0 + second * S  # a per-second sample is stamped at its second's end
        during = 10 < second <= 20
        rows += [(p99, ts, _p99_ms(second)), (p50, ts, 5.0),
                 (rps, ts, 80.0 if during else 100.0), (errors, ts, 8.0 if during else 0.0)]
    store.insert_samples(rows)
    if fault:
        store.add_event(run.id, CHAOS_FAULT_EVENT, "toxic latency slow on db",
                        ts_ns=T0 + 10 * S, end_ns=T0 + 20 * S,
                        attrs={"fault": "toxic", "proxy": "db", "type": "latency",
                               "attributes": {"latency": 250, "jitter": 0}})
    store.finish_run(run.id, ended_ns=T0 + 30 * S)
    return run.id


def test_before_during_after_and_time_to_recover(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        run_id = _load_run(store)
        (row,) = resilience_rows(store, store.events(run_id), T0 + 30 * S)
    assert row["phases"] == {
        "before": {"seconds": "10", "p99": "50.0ms", "errors": "0.00%", "rps": "100/s"},
        "during": {"seconds": "10", "p99": "300ms", "errors": "10.00%", "rps": "80.0/s"},
        "after": {"seconds": "10", "p99": "54.0ms", "errors": "0.00%", "rps": "100/s"}}
    # back in band in the second ending at +23 s: from its start, 2 s after the fault's end
    assert row["recovered"] == "2.00s after its end"
    assert row["worst"] == "p99 300ms (6.0x before), errors 10.00% in its worst second"
    assert ("attributes.latency", "250") in row["params"]
    assert ("proxy", "db") in row["params"]


def test_no_recovery_and_no_load(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        run = store.create_run("chaos", "bare", started_ns=T0)
        store.add_event(run.id, CHAOS_FAULT_EVENT, "kill", ts_ns=T0, attrs={"fault": "kill"})
        (row,) = resilience_rows(store, store.events(run.id), T0 + 5 * S)
    assert row["recovered"] == "no p99 before the fault"
    assert row["phases"]["during"] == {"seconds": "0", "p99": "-", "errors": "-", "rps": "-"}


def test_the_report_has_the_section_only_with_faults(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        html = render_report(store, _load_run(store))
        plain = render_report(store, _load_run(store, fault=False))
    assert 'id="section-resilience"' in html
    assert "toxic latency slow on db" in html
    assert "2.00s after its end" in html
    assert 'id="section-resilience"' not in plain
