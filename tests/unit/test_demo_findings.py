"""The demo's findings: each planted problem's signature is recognised from samples, and a
healthy service's samples are not mistaken for it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pytest

from perflab.demo._findings import (
    LEAK_SLOPE_MIN_BYTES_PER_MIN,
    ThresholdCheck,
    ThresholdFinding,
    Window,
    cpu_finding,
    findings_from_store,
    inside,
    leak_finding,
    lock_finding,
    rate_inside,
    rss_slope,
)
from perflab.load import Histogram, LoadConfig, LoadRecorder, LoadResult, parse_target
from perflab.load._thresholds import evaluate, parse_threshold

S = 1_000_000_000
T0 = 1_700_000_000 * S
MIB = 1024**2


def series(start_s: float, values: Sequence[float], step_s: float = 1.0) -> list[tuple[int, float]]:
    """Samples stamped at the end of each interval, from ``start_s`` after T0."""
    return [(T0 + int((start_s + step_s * (i + 1)) * S), v) for i, v in enumerate(values)]


NORMAL = Window("normal", T0, T0 + 10 * S)
HOT = Window("cpu", T0 + 10 * S, T0 + 20 * S)
LOCK = Window("lock", T0 + 20 * S, T0 + 29 * S)
LEAK = Window("leak", T0 + 29 * S, T0 + 39 * S)


def test_inside_takes_samples_stamped_after_start_up_to_end():
    samples = series(0, [1, 2, 3, 4], step_s=2.5)  # at 2.5, 5, 7.5, 10 s
    assert [v for _, v in inside(samples, Window("w", T0 + 5 * S, T0 + 10 * S))] == [3, 4]


def test_rate_inside_drops_the_rate_that_straddles_the_start():
    # a rate stamped 0.3 s after the phase start mostly measured the previous phase
    samples = [(T0 + 9 * S, 1.0), (T0 + 10_300_000_000, 2.0), (T0 + 11_300_000_000, 3.0)]
    assert [v for _, v in rate_inside(samples, HOT)] == [3.0]


# normal phase: 120 req/s in all; CPU phase: 45 req/s
RPS = {"/hash": series(0, [20] * 10) + series(10, [25] * 10),
       "/work": series(0, [100] * 10) + series(10, [20] * 10)}


def test_cpu_names_the_endpoint_that_added_the_most_latency():
    cpu = series(0, [3] * 10) + series(10, [60] * 10)
    p50 = {
        "/hash": series(0, [0.4] * 10) + series(10, [21.0] * 10),
        "/work": series(0, [0.2] * 10) + series(10, [5.5] * 10),  # larger ratio, fewer ms
    }
    f = cpu_finding(NORMAL, HOT, cpu, p50, RPS)
    assert f.detected
    assert f.endpoint == "/hash"
    assert f.service_cpu_pct == pytest.approx((3.0, 60.0))
    assert f.cpu_ms_per_request == pytest.approx((30 / 120, 600 / 45))
    assert f.latency_ratio == pytest.approx(21.0 / 0.4)
    assert f.other_endpoints == {"/work": pytest.approx(27.5)}
    assert "/hash is CPU-hot" in f.summary
    assert "3% to 60%" in f.summary
    assert "250µs → 13.3ms of CPU per request" in f.summary


def test_cpu_detected_on_a_contended_machine_from_cpu_per_request():
    """Other processes leave the service little CPU: its CPU % barely rises, but the CPU it
    spends on each request does."""
    cpu = series(0, [3] * 10) + series(10, [12] * 10)
    rps = {"/hash": series(0, [20] * 10) + series(10, [6] * 10),
           "/work": series(0, [100] * 10) + series(10, [4] * 10)}
    p50 = {"/hash": series(0, [0.4] * 10) + series(10, [300.0] * 10)}
    f = cpu_finding(NORMAL, HOT, cpu, p50, rps)
    assert f.detected
    assert f.cpu_ms_per_request == pytest.approx((0.25, 12.0))


def test_cpu_not_detected_when_the_cpu_per_request_does_not_rise():
    """Slower everywhere, same CPU per request: a slow dependency, not a CPU hot spot."""
    cpu = series(0, [3] * 20)
    rps = {"/hash": series(0, [20] * 20)}
    p50 = {"/hash": series(0, [0.4] * 10) + series(10, [21.0] * 10)}
    f = cpu_finding(NORMAL, HOT, cpu, p50, rps)
    assert not f.detected
    assert f.endpoint == "/hash"
    assert f.summary.startswith("CPU: no CPU-hot endpoint stands out")


def test_cpu_not_measured_without_the_phase():
    f = cpu_finding(NORMAL, None, [], {}, {})
    assert not f.detected
    assert f.endpoint is None
    assert "not measured" in f.summary
    assert f.to_json()["latency_ratio"] is None


def lock_samples(latencies: Sequence[float], rps: Sequence[float], levels: list[int]):
    conc: list[tuple[int, float]] = []
    for i, c in enumerate(levels):
        conc += series(20 + 3 * i, [c] * 3)
    return (series(20, latencies), series(20, rps), conc)


def test_lock_latency_grows_with_concurrency_at_flat_throughput():
    p50, rps, conc = lock_samples([20, 21, 20, 82, 81, 80, 163, 160, 165],
                                  [48, 47, 48, 49, 49, 48, 48, 47, 49], [1, 4, 8])
    f = lock_finding(LOCK, series(20, [2] * 9), {"/report": p50}, {"/report": rps},
                     {"/report": conc})
    assert f.detected
    assert f.endpoint == "/report"
    assert [lv.concurrency for lv in f.levels] == [1, 4, 8]
    assert [lv.latency_p50_ms for lv in f.levels] == [20, 81, 163]
    assert f.latency_ratio == pytest.approx(163 / 20)
    assert f.throughput_ratio == pytest.approx(48 / (143 / 3))
    assert f.hold_ms == pytest.approx(1000 / 48)
    assert "serialises on a lock" in f.summary


def test_lock_not_detected_when_throughput_scales_with_concurrency():
    """A healthy endpoint: more concurrency, same latency, more throughput."""
    p50, rps, conc = lock_samples([20] * 9, [48] * 3 + [190] * 3 + [380] * 3, [1, 4, 8])
    f = lock_finding(LOCK, series(20, [5] * 9), {"/report": p50}, {"/report": rps},
                     {"/report": conc})
    assert not f.detected
    assert f.summary.startswith("lock: no serialisation found")


def test_lock_not_detected_when_the_cpu_is_the_bottleneck():
    """Latency in proportion to concurrency at flat throughput, but the CPU is busy: that is a
    saturated CPU, not a lock."""
    p50, rps, conc = lock_samples([20] * 3 + [80] * 3 + [160] * 3, [48] * 9, [1, 4, 8])
    f = lock_finding(LOCK, series(20, [98] * 9), {"/report": p50}, {"/report": rps},
                     {"/report": conc})
    assert not f.detected


def test_lock_needs_two_concurrency_levels():
    p50, rps, conc = lock_samples([20] * 3, [48] * 3, [4])
    f = lock_finding(LOCK, [], {"/report": p50}, {"/report": rps}, {"/report": conc})
    assert not f.detected
    assert f.endpoint is None


def test_rss_slope_is_bytes_per_minute_with_r2():
    # 3 MiB/s for 10 s, sampled every 0.5 s
    points = [(T0 + int(i * 0.5 * S), 100 * MIB + i * 1.5 * MIB) for i in range(21)]
    slope, r2 = rss_slope(points)
    assert slope == pytest.approx(180 * MIB)
    assert r2 == pytest.approx(1.0)


def test_rss_slope_needs_three_points_and_handles_flat():
    assert rss_slope(series(0, [1.0, 2.0])) == (None, None)
    assert rss_slope(series(0, [5.0, 5.0, 5.0])) == (0.0, 1.0)


def test_leak_detected_with_endpoint_and_baseline():
    rss = series(10, [50 * MIB] * 19) + series(29, [50 * MIB + i * 3 * MIB for i in range(10)])
    rps = {"/cache": series(29, [100] * 10), "/work": series(0, [40] * 10)}
    f = leak_finding(LEAK, Window("before", HOT.start_ns, LOCK.end_ns), rss, rps)
    assert f.detected
    assert f.endpoint == "/cache"
    assert f.slope_bytes_per_min == pytest.approx(180 * MIB)
    assert f.baseline_slope_bytes_per_min == pytest.approx(0.0)
    assert f.rss_bytes == (50 * MIB, 77 * MIB)
    assert "180MiB/min" in f.summary


def test_leak_not_detected_for_a_noisy_flat_rss():
    rss = series(29, [50 * MIB + (MIB if i % 2 else -MIB) for i in range(10)])
    f = leak_finding(LEAK, None, rss, {})
    assert not f.detected
    assert f.slope_bytes_per_min is not None
    assert f.slope_bytes_per_min < LEAK_SLOPE_MIN_BYTES_PER_MIN


def test_findings_from_store_reads_the_run(store):
    """The same signatures, written as a demo run writes them, read back from the store."""
    run = store.create_run("demo", "demo", started_ns=T0)
    pid = {"pid": "4242", "name": "python"}

    def put(name, labels, samples, unit=""):
        sid = store.series_id(run.id, name, labels, unit)
        store.insert_samples([(sid, ts, v) for ts, v in samples])

    put("process.cpu.pct", pid, series(0, [3] * 10 + [60] * 10 + [2] * 9 + [4] * 10), "%")
    put("process.rss_bytes", pid,
        series(0, [50 * MIB] * 29) + series(29, [50 * MIB + i * 3 * MIB for i in range(10)]))
    p50_lock, rps_lock, conc_lock = lock_samples(
        [20] * 3 + [80] * 3 + [160] * 3, [48] * 9, [1, 4, 8])
    put("load.latency_ms", {"endpoint": "/hash", "quantile": "0.5"},
        series(0, [0.4] * 10) + series(10, [21.0] * 10))
    put("load.latency_ms", {"endpoint": "/report", "quantile": "0.5"},
        series(0, [20.0] * 10) + p50_lock)
    put("load.rps", {"endpoint": "/report"}, series(0, [40] * 10) + rps_lock)
    put("load.rps", {"endpoint": "/hash"}, series(0, [20] * 10) + series(10, [25] * 10))
    put("load.connections", {"endpoint": "/report"}, series(0, [4] * 10) + conc_lock)
    put("load.rps", {"endpoint": "/cache"}, series(0, [20] * 10) + series(29, [100] * 10))
    for w in (NORMAL, HOT, LOCK, LEAK):
        store.add_event(run.id, "phase", w.name, ts_ns=w.start_ns, end_ns=w.end_ns,
                        attrs={"phase": w.name})

    f = findings_from_store(store, run.id, 4242)
    assert (f.cpu.detected, f.cpu.endpoint) == (True, "/hash")
    assert (f.lock.detected, f.lock.endpoint) == (True, "/report")
    assert (f.leak.detected, f.leak.endpoint) == (True, "/cache")
    assert set(f.to_json()) == {"cpu", "lock", "leak", "thresholds", "regression"}
    assert f.to_json()["regression"] is None  # the benchmark check is the orchestrator's
    assert f.thresholds.checks == ()  # no load test with thresholds in this run
    assert not f.thresholds.detected


def test_threshold_finding_names_what_was_missed_where_and_what_was_met():
    missed = ThresholdCheck("cpu phase", "/work", "p90<5ms", False, 61.5, "ms")
    met = ThresholdCheck("normal phase", "/work", "p90<5ms", True, 1.47, "ms")
    f = ThresholdFinding((met, missed))
    assert f.detected
    assert f.endpoint == "/work"
    assert f.summary == ("thresholds: missed — /work p90<5ms in the cpu phase (61.5ms); "
                         "met — /work p90<5ms in the normal phase (1.47ms)")
    assert f.to_json()["checks"][1] == {"test": "cpu phase", "endpoint": "/work",
                                        "threshold": "p90<5ms", "passed": False,
                                        "actual": 61.5, "unit": "ms"}
    ok = ThresholdFinding((met,))
    assert (ok.detected, ok.endpoint) == (False, None)
    assert ok.summary.startswith("thresholds: all met — /work p90<5ms")
    assert ThresholdCheck("t", None, "error_rate<1%", True, 0.002, "ratio").shown == "0.20%"


def test_threshold_finding_reads_the_load_tests_recorded_into_the_run(store):
    """Thresholds as the load engine stored them (LoadRecorder into the demo's run)."""
    run = store.create_run("demo", "demo", started_ns=T0)
    cfg = LoadConfig(parse_target("http://127.0.0.1:9/work", resolve=False), duration_s=1.0)
    for phase, latency_us in (("normal phase", 1_000), ("cpu phase", 60_000)):
        rec = LoadRecorder(store, cfg, phase, into_run=run.id, labels={"endpoint": "/work"})
        rec.started(T0)
        h = Histogram()
        h.record_many(np.full(100, latency_us, dtype=np.int64))
        result = LoadResult(cfg, T0, 1.0, "ok", h, None, Counter({200: 100}))
        result.thresholds = evaluate([parse_threshold("p90<5ms")], result)
        rec.finish(result)
    f = findings_from_store(store, run.id, 4242)
    assert [(c.test, c.endpoint, c.passed) for c in f.thresholds.checks] == [
        ("normal phase", "/work", True), ("cpu phase", "/work", False)]
    assert f.thresholds.detected
    assert f.thresholds.checks[1].actual == pytest.approx(60.0, rel=1e-3)
