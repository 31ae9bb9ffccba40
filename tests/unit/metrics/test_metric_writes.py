"""The metric writers: column-wise batches, the head or straight into ``samples``, and the
last write of a (series, time) winning whichever way each went."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from perflab.store import (
    MetricColumns,
    Store,
    canonical_labels,
    is_stale_nan,
    metric_samples,
    stale_nan,
    write_metric_columns,
    write_metric_samples,
)

NOW = time.time_ns() - 60 * 10**9
LAB = canonical_labels({"job": "a"})


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "perflab.db") as st:
        yield st


def _rows(store: Store, table: str) -> int:
    return store.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def _columns(run_id: int, per_series: dict[str, list[tuple[int, float]]]) -> MetricColumns:
    series = [(name, LAB) for name in per_series]
    return MetricColumns(
        run_id, series, np.array([len(v) for v in per_series.values()], dtype=np.int64),
        np.array([t for v in per_series.values() for t, _ in v], dtype=np.int64),
        np.array([x for v in per_series.values() for _, x in v], dtype=np.float64))


def _read(store: Store, name: str) -> list[tuple[int, float]]:
    [sid] = [r[0] for r in store.conn.execute("SELECT id FROM series WHERE name = ?", (name,))]
    ts, vals = metric_samples(store, [sid], NOW - 10**12, NOW + 10**12)[sid]
    return list(zip(ts, vals, strict=True))


def test_a_batch_with_many_samples_per_series_skips_the_head(store):
    run = store.create_run("metrics", "m").id
    points = [(NOW + i * 10**9, float(i)) for i in range(10)]
    write_metric_columns(store, [_columns(run, {"a_total": points[::-1], "b": points})])
    assert _rows(store, "samples_head") == 0
    assert _rows(store, "samples") == 20
    assert _read(store, "a_total") == points  # in time order, whatever order they came in
    # a batch of one sample per series lands in the head, as a tick of the recorder does
    write_metric_columns(store, [_columns(run, {"a_total": [(NOW + 50 * 10**9, 9.0)]})])
    assert _rows(store, "samples_head") == 1


def test_the_last_write_of_a_time_wins_through_the_head_and_past_it(store):
    run = store.create_run("metrics", "m").id
    t = NOW + 3 * 10**9
    write_metric_samples(store, [(run, "a_total", LAB, t, 1.0)])          # into the head
    assert _rows(store, "samples_head") == 1
    later = [(NOW + i * 10**9, 2.0 if NOW + i * 10**9 == t else float(i)) for i in range(10)]
    write_metric_columns(store, [_columns(run, {"a_total": later})])       # straight past it
    assert dict(_read(store, "a_total"))[t] == 2.0
    store.compact_samples()  # the head's move must not bring the old value back
    assert dict(_read(store, "a_total"))[t] == 2.0
    # twice in one batch: the later one
    again = [*later, (t, 3.0)]
    write_metric_columns(store, [_columns(run, {"a_total": again})])
    assert dict(_read(store, "a_total"))[t] == 3.0


def test_nan_and_staleness_markers_of_a_clustered_batch_are_marks(store):
    run = store.create_run("metrics", "m").id
    points = [(NOW + i * 10**9, float(i)) for i in range(9)]
    points += [(NOW + 20 * 10**9, math.nan), (NOW + 21 * 10**9, stale_nan())]
    write_metric_columns(store, [_columns(run, {"a_total": points})])
    got = _read(store, "a_total")
    assert got[:9] == points[:9]
    assert math.isnan(got[9][1])
    assert not is_stale_nan(got[9][1])
    assert is_stale_nan(got[10][1])
    assert _rows(store, "metric_marks") == 2
