"""Reading a series for charts and tables: peak-keeping downsampling and per-series summaries.

Shared by the HTML report and the dashboard (``perflab serve``), so that both draw the same
figures from the same queries.

Downsampling is min/max per bucket, done by SQLite with ``GROUP BY`` over the samples primary
key (series_id, ts_ns): a window of ``points`` points is ``points // 2`` buckets, each giving
its minimum and maximum. The envelope — every peak and every trough — is exact; where in its
bucket a peak lies is approximated to the bucket's width (less than a pixel on a chart that
asked for as many points as it has pixels).

A finished run never changes, so the store rolls it up per minute when it finishes (min, max,
sum, count, first and last time per minute; table ``rollups``); a run finished by an older
perflab is rolled up by its first reader. Whole-run windows whose buckets span a minute or
more are then read from 1440 rows a day instead of 86400 samples: the envelope stays exact,
buckets are whole minutes (so a window may have up to half fewer points than asked). A running
run, a zoomed window, or a store we may not write to are read from the samples directly.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

from perflab.store._contracts import SampleWindowJson, SummaryJson
from perflab.store._rollups import ROLLUP_NS

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    from numpy.typing import NDArray

    from perflab.store._store import Store

MAX_POINTS = 100_000
DEFAULT_POINTS = 1_000


@dataclass(frozen=True, slots=True)
class SampleWindow:
    """The samples of one series in [start_ns, end_ns], maybe downsampled."""

    series_id: int
    start_ns: int | None
    end_ns: int | None
    ts_ns: list[int]
    values: list[float]
    raw_count: int      # samples in the window before downsampling
    bucket_ns: int      # 0 when the samples are returned as stored

    def to_json(self) -> SampleWindowJson:
        return {
            "series_id": self.series_id,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "raw_count": self.raw_count,
            "downsampled": self.bucket_ns > 0,
            "bucket_ns": self.bucket_ns,
            "ts_ns": self.ts_ns,
            "values": self.values,
        }


def sample_window(store: Store, series_id: int, *, start_ns: int | None = None,
                  end_ns: int | None = None, points: int = DEFAULT_POINTS) -> SampleWindow:
    """At most ``points`` samples of a series between two times, peaks kept."""
    conn = store.conn
    lo, hi = start_ns, end_ns
    if lo is None or hi is None:
        first, last = _extent(conn, series_id)
        lo = first if lo is None else lo
        hi = last if hi is None else hi
    if lo is None or hi is None or hi < lo:
        return SampleWindow(series_id, start_ns, end_ns, [], [], 0, 0)
    buckets = max(1, points // 2)
    bucket_ns = max(1, math.ceil((hi - lo + 1) / buckets))
    whole = start_ns is None and end_ns is None
    if whole and bucket_ns >= ROLLUP_NS and has_rollup(store, series_id):
        # buckets of whole minutes, aligned on the rollup's: at least half the points asked
        bucket_ns = math.ceil(bucket_ns / ROLLUP_NS) * ROLLUP_NS
        base = (lo // ROLLUP_NS) * ROLLUP_NS
        rows = conn.execute(
            "SELECT MIN(first_ns), MAX(last_ns), MIN(vmin), MAX(vmax), SUM(n) FROM rollups"
            " WHERE series_id = ? AND width_ns = ? GROUP BY (bucket_ns - ?) / ? ORDER BY 1",
            (series_id, ROLLUP_NS, base, bucket_ns),
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT MIN(ts_ns), MAX(ts_ns), MIN(value), MAX(value), COUNT(*) FROM ("
            + _BOTH_TABLES + ") GROUP BY (ts_ns - ?) / ? ORDER BY 1",
            (series_id, lo, hi, series_id, lo, hi, lo, bucket_ns),
        ).fetchall()
    ts: list[int] = []
    vals: list[float] = []
    raw = 0
    merged = False
    for t_first, t_last, v_min, v_max, count in rows:
        raw += count
        if count == 1:
            ts.append(t_first)
            vals.append(v_min)
        else:
            merged = True
            ts.append(t_first)
            vals.append(v_min)
            ts.append(t_last)
            vals.append(v_max)
    return SampleWindow(series_id, start_ns, end_ns, ts, vals, raw, bucket_ns if merged else 0)


def missing_rollups(store: Store, limit: int = 100) -> list[int]:
    """Series of finished runs that have samples but no rollup yet (oldest runs first)."""
    return [int(r[0]) for r in store.conn.execute(
        "SELECT s.id FROM series s JOIN runs r ON r.id = s.run_id"
        " WHERE r.ended_ns IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM rollups WHERE series_id = s.id AND width_ns = ?)"
        " AND (EXISTS (SELECT 1 FROM samples WHERE series_id = s.id)"
        "      OR EXISTS (SELECT 1 FROM samples_head WHERE series_id = s.id))"
        " ORDER BY s.id LIMIT ?", (ROLLUP_NS, limit))]


def has_rollup(store: Store, series_id: int) -> bool:
    """Whether the series has its per-minute rollup, building it when its run has ended.

    False for a series of a running run (it still grows) or when the store is read-only.
    """
    conn = store.conn
    if store.has_rollup(series_id):
        return True
    row = conn.execute("SELECT r.ended_ns FROM series s JOIN runs r ON r.id = s.run_id"
                       " WHERE s.id = ?", (series_id,)).fetchone()
    if row is None or row[0] is None:
        return False
    try:
        return store.build_series_rollup(series_id)
    except sqlite3.OperationalError:  # read-only file or directory, or a long-held lock
        return False


@dataclass(frozen=True, slots=True)
class Summary:
    """min/mean/max/p95 of one series over the whole run (p95: nearest rank)."""

    series_id: int
    count: int
    min: float | None
    mean: float | None
    max: float | None
    p95: float | None
    last: float | None

    def to_json(self) -> SummaryJson:
        return {"series_id": self.series_id, "count": self.count, "min": self.min,
                "mean": self.mean, "max": self.max, "p95": self.p95, "last": self.last}


def summarize(store: Store, series_id: int) -> Summary:
    """One read of the series in time order (the primary key's), then numpy: cheaper than the
    four SQL aggregates and the sort a p95 would cost in SQLite."""
    import numpy as np  # noqa: PLC0415  # lazy: the CLI opens stores without numpy
    conn = store.conn
    values = np.fromiter(
        (r[0] for r in conn.execute(
            "SELECT value FROM samples WHERE series_id = ? ORDER BY ts_ns", (series_id,))),
        dtype=np.float64,
    )
    last = float(values[-1]) if len(values) else None
    # the newest samples may still wait in samples_head (a few seconds' worth)
    head = conn.execute("SELECT ts_ns, value FROM samples_head WHERE series_id = ?"
                        " ORDER BY ts_ns", (series_id,)).fetchall()
    if head:
        values = np.concatenate([values, np.array([v for _, v in head], dtype=np.float64)])
        (main_last,) = conn.execute("SELECT MAX(ts_ns) FROM samples WHERE series_id = ?",
                                    (series_id,)).fetchone()
        if main_last is None or head[-1][0] >= main_last:
            last = float(head[-1][1])
    n = len(values)
    if n == 0:
        return Summary(series_id, 0, None, None, None, None, None)
    p95 = nearest_rank(values, 95.0)
    return Summary(series_id, n, float(values.min()), float(values.mean()),
                   float(values.max()), p95, last)


def _extent(conn: sqlite3.Connection, series_id: int) -> tuple[int | None, int | None]:
    """First and last sample time of a series, over samples and samples_head.

    One statement per bound and table: SQLite answers a lone MIN() or MAX() with one probe of
    the primary key, but MIN() and MAX() together with a scan of the whole series.
    """
    found: list[int] = []
    for sql in ("SELECT MIN(ts_ns) FROM samples WHERE series_id = ?",
                "SELECT MAX(ts_ns) FROM samples WHERE series_id = ?",
                "SELECT MIN(ts_ns) FROM samples_head WHERE series_id = ?",
                "SELECT MAX(ts_ns) FROM samples_head WHERE series_id = ?"):
        (t,) = conn.execute(sql, (series_id,)).fetchone()
        if t is not None:
            found.append(int(t))
    if not found:
        return None, None
    return min(found), max(found)


# Samples of one series in [lo, hi] from both tables (see the store's schema v2): new samples
# wait in samples_head, ordered by time, before moving to samples in bulk.
_BOTH_TABLES = (
    "SELECT ts_ns, value FROM samples WHERE series_id = ? AND ts_ns >= ? AND ts_ns <= ?"
    " UNION ALL"
    " SELECT ts_ns, value FROM samples_head WHERE series_id = ? AND ts_ns >= ? AND ts_ns <= ?"
)




def nearest_rank(values: Sequence[float] | NDArray[np.float64], pct: float) -> float:
    """perflab's one definition of a percentile of samples: the nearest rank, the smallest
    value that at least ``pct`` % of the values do not exceed (as Prometheus' summaries and
    HDR histograms report: always a value that was measured, never an interpolation)."""
    import numpy as np  # noqa: PLC0415  # lazy: the CLI opens stores without numpy

    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        raise ValueError("no values")
    rank = max(1, math.ceil(pct / 100.0 * arr.size))
    return float(np.partition(arr, rank - 1)[rank - 1])
