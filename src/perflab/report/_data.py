"""Reading a run for charts and tables: peak-keeping downsampling and per-series summaries.

Shared by the HTML report and the dashboard (``perflab serve``), so that both draw the same
figures from the same queries.

Downsampling is min/max per bucket, done by SQLite with ``GROUP BY`` over the samples primary
key (series_id, ts_ns): a window of ``points`` points is ``points // 2`` buckets, each giving
its minimum and maximum. The envelope — every peak and every trough — is exact; where in its
bucket a peak lies is approximated to the bucket's width (less than a pixel on a chart that
asked for as many points as it has pixels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perflab.store import Series, Store

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

    def to_json(self) -> dict[str, Any]:
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
        # the primary key makes MIN/MAX of ts_ns two index probes, not a scan
        first, last = conn.execute(
            "SELECT MIN(ts_ns), MAX(ts_ns) FROM samples WHERE series_id = ?", (series_id,)
        ).fetchone()
        lo = first if lo is None else lo
        hi = last if hi is None else hi
    if lo is None or hi is None or hi < lo:
        return SampleWindow(series_id, start_ns, end_ns, [], [], 0, 0)
    buckets = max(1, points // 2)
    bucket_ns = max(1, math.ceil((hi - lo + 1) / buckets))
    rows = conn.execute(
        "SELECT MIN(ts_ns), MAX(ts_ns), MIN(value), MAX(value), COUNT(*)"
        " FROM samples WHERE series_id = ? AND ts_ns >= ? AND ts_ns <= ?"
        " GROUP BY (ts_ns - ?) / ? ORDER BY 1",
        (series_id, lo, hi, lo, bucket_ns),
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

    def to_json(self) -> dict[str, Any]:
        return {"series_id": self.series_id, "count": self.count, "min": self.min,
                "mean": self.mean, "max": self.max, "p95": self.p95, "last": self.last}


def summarize(store: Store, series_id: int) -> Summary:
    conn = store.conn
    count, v_min, v_mean, v_max = conn.execute(
        "SELECT COUNT(*), MIN(value), AVG(value), MAX(value) FROM samples WHERE series_id = ?",
        (series_id,),
    ).fetchone()
    if not count:
        return Summary(series_id, 0, None, None, None, None, None)
    rank = math.ceil(0.95 * count)  # nearest-rank percentile: the smallest value >= 95 %
    (p95,) = conn.execute(
        "SELECT value FROM samples WHERE series_id = ? ORDER BY value LIMIT 1 OFFSET ?",
        (series_id, rank - 1),
    ).fetchone()
    (last,) = conn.execute(
        "SELECT value FROM samples WHERE series_id = ? ORDER BY ts_ns DESC LIMIT 1",
        (series_id,),
    ).fetchone()
    return Summary(series_id, int(count), v_min, v_mean, v_max, p95, last)


def series_area(series: Series) -> str:
    """The area a series belongs to: the first segment of its dotted name."""
    return series.name.split(".", 1)[0]


def series_key(series: Series) -> str:
    """A key that matches 'the same' series across runs: name and labels, PIDs left out.

    PIDs differ between runs of the same service; the process name is what people compare.
    """
    labels = {k: v for k, v in series.labels.items() if k != "pid"}
    return series.name + ("" if not labels else
                          "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}")


def run_summaries(store: Store, run_id: int) -> list[Summary]:
    return [summarize(store, s.id) for s in store.series(run_id)]
