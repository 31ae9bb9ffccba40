"""The hub's background care of metrics: retention by age and by size, and packing closed
hours so the first query meets them packed."""

from __future__ import annotations

import time

import numpy as np
import pytest

from perflab.errors import InvalidValue
from perflab.metrics._maintain import (
    HOUR_NS,
    MetricsMaintenance,
    MetricsRetention,
    apply_retention,
    pack_closed_hours,
)
from perflab.store import (
    Store,
    canonical_labels,
    metric_arrays,
    stale_nan,
    store_used_bytes,
    write_metric_samples,
)

NOW = (time.time_ns() // HOUR_NS) * HOUR_NS + 30 * 60 * 10**9  # half past an hour
DAY = 24 * HOUR_NS


def _fill(store: Store, run_id: int, first_ns: int, hours: int, *, series: int = 3,
          step_s: int = 60, compact: bool = True) -> None:
    items = [(run_id, "m_total", canonical_labels({"i": str(s)}),
              first_ns + k * step_s * 10**9, float(k))
             for s in range(series) for k in range(hours * 3600 // step_s)]
    write_metric_samples(store, items)
    if compact:
        store.compact_samples()


def _count(store: Store, table: str, run_id: int) -> int:
    return store.conn.execute(
        f"SELECT COUNT(*) FROM {table} WHERE series_id IN"
        " (SELECT id FROM series WHERE run_id = ?)", (run_id,)).fetchone()[0]


def _oldest(store: Store, run_id: int) -> int:
    return store.conn.execute(
        "SELECT MIN(ts_ns) FROM samples WHERE series_id IN"
        " (SELECT id FROM series WHERE run_id = ?)", (run_id,)).fetchone()[0]


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "perflab.db") as st:
        yield st


def test_samples_of_the_hubs_runs_older_than_the_retention_go_and_nothing_else(store):
    hub = store.create_run("metrics", "metrics h", started_ns=NOW - 20 * DAY).id
    recording = store.create_run("record", "a recording", started_ns=NOW - 20 * DAY).id
    _fill(store, hub, NOW - 20 * DAY, 2)            # old: goes
    _fill(store, hub, NOW - 3 * HOUR_NS, 2)         # recent: stays
    _fill(store, recording, NOW - 20 * DAY, 2)      # a recording: never touched
    # a staleness marker and a packed hour of the old data, and a sample still in the head
    write_metric_samples(store, [(hub, "m_total", canonical_labels({"i": "0"}),
                                  NOW - 20 * DAY + 5, stale_nan())])
    [sid] = [r[0] for r in store.conn.execute(
        "SELECT id FROM series WHERE run_id = ? AND labels = ?", (hub, '{"i":"0"}'))]
    metric_arrays(store, [sid], NOW - 20 * DAY, NOW - 19 * DAY)  # packs those hours
    assert _count(store, "metric_blocks", hub) > 0
    write_metric_samples(store, [(hub, "m_total", canonical_labels({"i": "1"}),
                                  NOW - 20 * DAY + 7, 1.0)])
    before_recent = _count(store, "samples", hub) - 3 * 120

    deleted = apply_retention(store, MetricsRetention(max_age_ns=15 * DAY), now_ns=NOW)

    assert deleted == 3 * 120 + 2  # two hours of 3 series at 1/min, the marker, the head row
    assert _count(store, "samples", hub) == before_recent == 3 * 120
    assert _count(store, "samples_head", hub) == 0
    assert _count(store, "metric_marks", hub) == 0
    assert _count(store, "metric_blocks", hub) == 0
    assert _oldest(store, hub) == NOW - 3 * HOUR_NS
    assert _count(store, "samples", recording) == 3 * 120
    # a second pass finds nothing more
    assert apply_retention(store, MetricsRetention(max_age_ns=15 * DAY), now_ns=NOW) == 0


def test_no_age_limit_keeps_everything(store):
    hub = store.create_run("serve", "serve h", started_ns=NOW - 400 * DAY).id
    _fill(store, hub, NOW - 400 * DAY, 1)
    assert apply_retention(store, MetricsRetention(max_age_ns=None), now_ns=NOW) == 0
    assert _count(store, "samples", hub) == 3 * 60


def test_over_the_size_limit_the_oldest_hours_go_until_it_is_under(store):
    hub = store.create_run("metrics", "metrics h", started_ns=NOW - 12 * HOUR_NS).id
    first = NOW - 12 * HOUR_NS - 30 * 60 * 10**9  # on the hour
    _fill(store, hub, first, 12, series=40, step_s=10)
    newest = store.conn.execute("SELECT MAX(ts_ns) FROM samples").fetchone()[0]
    used = store_used_bytes(store)
    limit = used // 2

    deleted = apply_retention(store, MetricsRetention(max_age_ns=None, max_bytes=limit),
                              now_ns=NOW)

    assert deleted > 0
    assert store_used_bytes(store) <= limit
    oldest = _oldest(store, hub)
    assert oldest >= first + 4 * HOUR_NS        # about half of 12 hours went, whole hours
    assert (oldest - first) % HOUR_NS == 0
    assert store.conn.execute("SELECT MAX(ts_ns) FROM samples").fetchone()[0] == newest


def test_closed_hours_are_packed_in_the_background_and_read_as_before(store):
    hub = store.create_run("metrics", "metrics h", started_ns=NOW - 6 * HOUR_NS).id
    other = store.create_run("bench", "not the hub's", started_ns=NOW - 6 * HOUR_NS).id
    _fill(store, hub, NOW - 6 * HOUR_NS, 6)
    _fill(store, other, NOW - 6 * HOUR_NS, 6)
    ids = [r[0] for r in store.conn.execute("SELECT id FROM series WHERE run_id = ?", (hub,))]
    want = metric_arrays(store, ids, NOW - 6 * HOUR_NS, NOW, now_ns=NOW)
    store.conn.execute("DELETE FROM metric_blocks")  # as written, before anyone read it

    packed = pack_closed_hours(store, now_ns=NOW)

    # NOW is half past: the hour before it closed 30 min ago (sealed after 10), 26 h back
    assert packed == 3 * 26
    assert _count(store, "metric_blocks", hub) == 3 * 26
    assert _count(store, "metric_blocks", other) == 0
    assert pack_closed_hours(store, now_ns=NOW) == 0  # packed already: nothing to do
    got = metric_arrays(store, ids, NOW - 6 * HOUR_NS, NOW, now_ns=NOW)
    assert _count(store, "metric_blocks", hub) == 3 * 26  # the read built nothing more
    assert sorted(got) == sorted(want)
    for sid, (ts, vals) in want.items():
        assert np.array_equal(got[sid][0], ts)
        assert np.array_equal(got[sid][1], vals)


def test_the_maintenance_thread_runs_rounds_and_stops(tmp_path):
    path = tmp_path / "perflab.db"
    with Store.open(path) as st:
        hub = st.create_run("metrics", "metrics h", started_ns=NOW - 30 * DAY).id
        _fill(st, hub, NOW - 30 * DAY, 1)
    maint = MetricsMaintenance(path, MetricsRetention(max_age_ns=15 * DAY), first_s=0,
                               check_s=3600)
    maint.start()
    deadline = time.monotonic() + 30
    while maint.rounds == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    maint.stop()
    assert maint.rounds == 1
    assert maint.deleted == 3 * 60
    with Store.open(path) as st:
        assert _count(st, "samples", hub) == 0


def test_serve_options_read_the_retention_flags():
    from perflab.cli.metrics import hub_options  # noqa: PLC0415

    assert hub_options({}).retention_ns == 15 * DAY
    opts = hub_options({"metrics_retention": "2h", "metrics_retention_size": "1GiB"})
    assert (opts.retention_ns, opts.retention_bytes) == (2 * HOUR_NS, 1 << 30)
    assert hub_options({"metrics_retention": "0"}).retention_ns is None
    with pytest.raises(InvalidValue, match="keeps nothing"):
        hub_options({"metrics_retention_size": "0"})
    with pytest.raises(InvalidValue):
        hub_options({"metrics_retention": "soon"})
