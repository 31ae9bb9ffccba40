"""Downsampling keeps peaks and bounds; summaries are exact (nearest-rank p95)."""

from __future__ import annotations

import math

import numpy as np

from _hubdata import T0, S, build
from perflab.store import Store, sample_window, summarize


def test_few_samples_come_back_as_stored(store_path):
    data = build(store_path, n=50)
    with Store.open(store_path) as store:
        sid = data.series_a["system.cpu.pct,cpu=all,mode=user"]
        w = sample_window(store, sid, points=1000)
        assert not w.bucket_ns
        assert w.raw_count == 50
        assert [(t, v) for t, v in zip(w.ts_ns, w.values, strict=True)] == store.samples(sid)


def test_downsampling_bounds_points_and_keeps_the_spike(store_path):
    data = build(store_path, n=600)
    with Store.open(store_path) as store:
        sid = data.series_a["system.cpu.pct,cpu=all,mode=user"]
        w = sample_window(store, sid, points=40)
        assert w.bucket_ns > 0
        assert len(w.ts_ns) <= 40
        assert w.raw_count == 600
        assert max(w.values) == 97.0   # the one-sample spike survives 15:1 reduction
        assert min(w.values) == 10.0
        assert w.ts_ns == sorted(w.ts_ns)
        assert w.ts_ns[0] == T0
        assert w.ts_ns[-1] == T0 + 599 * S


def test_window_limits_are_inclusive_and_respected(store_path):
    data = build(store_path, n=600)
    with Store.open(store_path) as store:
        sid = data.series_a["system.mem.used_bytes"]
        w = sample_window(store, sid, start_ns=T0 + 10 * S, end_ns=T0 + 19 * S, points=100)
        assert w.ts_ns == [T0 + i * S for i in range(10, 20)]
        empty = sample_window(store, sid, start_ns=T0 - 10 * S, end_ns=T0 - S, points=100)
        assert empty.ts_ns == []
        assert empty.raw_count == 0


def test_summary_matches_numpy(store_path):
    data = build(store_path, n=600)
    with Store.open(store_path) as store:
        sid = data.series_a["system.cpu.pct,cpu=all,mode=user"]
        values = np.array([v for _, v in store.samples(sid)])
        m = summarize(store, sid)
        assert m.count == 600
        assert m.min == values.min()
        assert m.max == values.max()
        assert math.isclose(m.mean or 0, values.mean())
        assert m.p95 == np.percentile(values, 95, method="inverted_cdf")
        assert m.last == values[-1]


def test_whole_run_windows_of_a_finished_run_read_the_rollup(store_path):
    """Same envelope from the per-minute rollup as from the samples, and the rollup persists."""
    data = build(store_path, n=4 * 3600)  # 4 h at 1 s: 100 points means 144 s buckets
    with Store.open(store_path) as store:
        sid = data.series_a["system.cpu.pct,cpu=all,mode=user"]
        w = sample_window(store, sid, points=100)
        rolled = store.conn.execute("SELECT COUNT(*), SUM(n) FROM rollups WHERE series_id = ?",
                                    (sid,)).fetchone()
        minutes = len({(T0 + i * S) // (60 * S) for i in range(4 * 3600)})
        assert rolled == (minutes, 4 * 3600)  # one row per minute, every sample counted
        assert w.raw_count == 4 * 3600
        assert len(w.values) <= 100
        assert max(w.values) == 97.0
        assert min(w.values) == 10.0
        assert w.bucket_ns % (60 * S) == 0
        # a zoomed window reads the samples themselves
        z = sample_window(store, sid, start_ns=T0 + 100 * S, end_ns=T0 + 200 * S, points=1000)
        assert z.ts_ns == [T0 + i * S for i in range(100, 201)]


def test_running_runs_get_no_rollup(store_path):
    with Store.open(store_path) as store:
        run = store.create_run("record", "live", started_ns=T0)
        sid = store.series_id(run.id, "system.load1")
        store.insert_samples([(sid, T0 + i * S, float(i)) for i in range(7200)])
        w = sample_window(store, sid, points=50)
        assert max(w.values) == 7199.0
        assert store.conn.execute("SELECT COUNT(*) FROM rollups").fetchone()[0] == 0


def test_samples_still_in_the_head_are_read_too(store_path):
    """New samples wait in samples_head before compaction; charts and summaries include them."""
    with Store.open(store_path) as store:
        run = store.create_run("record", "live", started_ns=T0)
        sid = store.series_id(run.id, "system.load1")
        store.conn.executemany("INSERT INTO samples VALUES (?, ?, ?)",
                               [(sid, T0 + i * S, 1.0) for i in range(100)])
        store.insert_samples([(sid, T0 + i * S, 5.0) for i in range(100, 110)])
        assert store.conn.execute("SELECT COUNT(*) FROM samples_head").fetchone()[0] == 10
        w = sample_window(store, sid, points=1000)
        assert w.raw_count == 110
        assert w.ts_ns[-1] == T0 + 109 * S
        assert w.values[-1] == 5.0
        m = summarize(store, sid)
        assert m.count == 110
        assert m.max == 5.0
        assert m.last == 5.0


def test_finishing_a_run_builds_its_rollups(store_path):
    """finish_run rolls up every series at once: the first whole-run view reads no samples."""
    with Store.open(store_path) as store:
        run = store.create_run("record", "day", started_ns=T0)
        a = store.series_id(run.id, "system.load1")
        b = store.series_id(run.id, "system.load5")
        store.insert_samples([(sid, T0 + i * S, float(i % 90)) for sid in (a, b)
                              for i in range(3600)])
        assert store.conn.execute("SELECT COUNT(*) FROM rollups").fetchone()[0] == 0
        store.finish_run(run.id, "ok", ended_ns=T0 + 3600 * S)
        per_series = dict(store.conn.execute(
            "SELECT series_id, SUM(n) FROM rollups GROUP BY series_id").fetchall())
        assert per_series == {a: 3600, b: 3600}
        assert store.build_rollups(run.id) == 0  # nothing left to do


def test_a_run_finished_without_rollups_is_rolled_up_by_its_first_reader(store_path):
    """Runs finished by an older perflab (or whose rollup was dropped) still read fast."""
    data = build(store_path, n=2 * 3600)
    with Store.open(store_path) as store:
        store.conn.execute("DELETE FROM rollups")
        sid = data.series_a["system.cpu.pct,cpu=all,mode=user"]
        w = sample_window(store, sid, points=100)
        assert w.bucket_ns % (60 * S) == 0
        assert max(w.values) == 97.0
        assert store.has_rollup(sid)


def test_finish_run_can_leave_the_rollup_to_later(store_path):
    """A server stopping after days of recording must not wait for its rollup."""
    with Store.open(store_path) as store:
        run = store.create_run("serve", "hub", started_ns=T0)
        sid = store.series_id(run.id, "system.load1")
        store.insert_samples([(sid, T0 + i * S, 1.0) for i in range(120)])
        store.finish_run(run.id, "ok", ended_ns=T0 + 120 * S, rollup=False)
        assert not store.has_rollup(sid)
        assert store.build_rollups(run.id) == 1
        assert store.has_rollup(sid)
