"""RED from spans: the spanmetrics connector's series (names, labels, cumulative buckets) and
perflab's per-interval rates and percentiles, in the runs recorded meanwhile; only committed
spans count; a flood of span names is capped."""

from __future__ import annotations

import contextlib
import math

from _spandata import T0, demo_trace, span, write

from perflab.store import Store, sample_window
from perflab.trace._red import BUCKETS_MS, CALLS, DURATION, LE, RedAggregator


class Clock:
    def __init__(self, t: int) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t


def _series(store, run_id):
    return {(s.name, tuple(sorted(s.labels.items()))): s for s in store.series(run_id)}


def _last(store, sid):
    return store.samples(sid)[-1][1]


def test_spanmetrics_names_labels_and_cumulative_buckets(tmp_path):
    clock = Clock(T0)
    red = RedAggregator(interval_s=5, clock=clock)
    with Store.open(tmp_path / "s.db") as store:
        run = store.create_run("record", "r", started_ns=T0 - 10**9)
        write(store, demo_trace(1) + demo_trace(2, error=True), red=red)
        clock.t += 6 * 10**9
        with store.transaction():
            red.write(store)
        red.committed([])
        series = _series(store, run.id)
        labels = (("service_name", "api"), ("span_kind", "SPAN_KIND_SERVER"),
                  ("span_name", "GET /items"), ("status_code", "STATUS_CODE_ERROR"))
        assert _last(store, series[(CALLS, labels)].id) == 1
        assert _last(store, series[(DURATION + "_count", labels)].id) == 1
        assert _last(store, series[(DURATION + "_sum", labels)].id) == 33.0
        buckets = [_last(store, series[(DURATION + "_bucket",
                                        tuple(sorted({**dict(labels), "le": le}.items())))].id)
                   for le in LE]
        # 33 ms: in every bucket from le=50 up (cumulative, as Prometheus reads them)
        assert buckets == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
        assert LE[5] == "50"
        assert LE[-1] == "+Inf"
        assert len(BUCKETS_MS) == 16
        rate = series[("trace.requests_per_s", (("kind", "server"), ("operation", "SELECT items"),
                                                ("service", "store")))]
        assert store.series_by_id(rate.id).unit == "/s"
        # four store spans in a 6 s interval (counted from the interval's start)
        assert abs(_last(store, rate.id) - 4 / 6) < 1e-9
        p95 = series[("trace.duration_p95_ms", (("kind", "server"), ("operation", "GET /"),
                                                ("service", "frontend")))]
        assert _last(store, p95.id) == 40.0


def test_only_committed_spans_count_and_a_failed_flush_is_written_again(tmp_path):
    clock = Clock(T0)
    red = RedAggregator(interval_s=5, clock=clock)
    spans = demo_trace(1)
    with Store.open(tmp_path / "s.db") as store:
        run = store.create_run("record", "r", started_ns=T0 - 10**9)
        # a write round that fails after the flush: nothing counted, nothing flushed
        red.committed(spans)
        clock.t += 6 * 10**9
        with contextlib.suppress(RuntimeError), store.transaction():
            red.write(store)
            raise RuntimeError("disk full")  # the failing commit, in place
        assert store.series(run.id) == []
        with store.transaction():
            red.write(store)
        red.committed([])
        calls = [s for s in store.series(run.id) if s.name == CALLS]
        assert sum(_last(store, s.id) for s in calls) == len(spans)
        assert not red.flush_due()


def test_a_run_that_ended_during_the_interval_gets_it_at_its_end(tmp_path):
    clock = Clock(T0)
    red = RedAggregator(interval_s=5, clock=clock)
    with Store.open(tmp_path / "s.db") as store:
        run = store.create_run("run", "short", started_ns=T0)
        write(store, demo_trace(1), red=red)
        store.finish_run(run.id, "ok", ended_ns=T0 + 2 * 10**9)
        clock.t += 5 * 10**9
        with store.transaction():
            red.write(store)
        red.committed([])
        calls = [s for s in store.series(run.id) if s.name == CALLS]
        assert calls
        assert store.samples(calls[0].id)[-1][0] == T0 + 2 * 10**9


def test_a_flood_of_span_names_is_capped(tmp_path):
    red = RedAggregator(max_keys=10)
    spans = [span(1, i + 1, None, "svc", f"GET /user/{i}", 0, 1) for i in range(50)]
    red.committed(spans)
    totals = red.totals()
    assert len(totals) == 11  # ten names and the overflow set
    assert totals[("svc", "otel.metric.overflow", 2, 0)][0] == 40
    assert red.overflowed == 40


def test_a_batch_counts_as_its_spans_one_by_one():
    """RED counts a batch a label set at a time: the same totals, buckets (durations exactly on
    a bucket's bound, just above it, beyond the last), errors, percentiles and overflow as the
    spans counted one by one."""
    durations_ms = [2.0, 2.000001, 0.0, 10.0, 15000.0, 15000.000001, 7.5, 49.999999]
    spans = [span(1, i + 1, None, "svc", f"op{i % 5}", 0, durations_ms[i % 8],
                  status=2 if i % 3 == 0 else 0) for i in range(60)]
    whole, one_by_one = RedAggregator(max_keys=6), RedAggregator(max_keys=6)
    whole.committed(spans)
    for s in spans:
        one_by_one.committed([s])
    assert whole.overflowed == one_by_one.overflowed > 0
    got, want = whole.totals(), one_by_one.totals()
    assert got.keys() == want.keys()
    for key, (calls, sum_ms, buckets) in want.items():
        assert got[key][0] == calls
        assert math.isclose(got[key][1], sum_ms)
        assert got[key][2] == buckets
    counted = [sum(col) for col in zip(*(b for _, _, b in want.values()), strict=True)]
    assert counted[0] > 0  # on and under 2 ms
    assert counted[1] > 0  # just above 2 ms
    assert counted[-1] > 0  # beyond 15,000 ms
    intervals = {k: (v.calls, v.errors, sorted(v.durations_ms))
                 for k, v in whole._interval.items()}
    assert intervals == {k: (v.calls, v.errors, sorted(v.durations_ms))
                         for k, v in one_by_one._interval.items()}


def test_red_series_draw_on_the_run_page(tmp_path):
    """The per-interval series are ordinary series: a window of them reads back."""
    clock = Clock(T0)
    red = RedAggregator(interval_s=5, clock=clock)
    with Store.open(tmp_path / "s.db") as store:
        run = store.create_run("record", "r", started_ns=T0 - 10**9)
        for k in range(3):
            write(store, demo_trace(k + 1), red=red)
            clock.t += 5 * 10**9
            with store.transaction():
                red.write(store)
            red.committed([])
        sid = next(s.id for s in store.series(run.id) if s.name == "trace.requests_per_s")
        assert len(sample_window(store, sid).to_json()["ts_ns"]) == 3
