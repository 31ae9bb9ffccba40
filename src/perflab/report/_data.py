"""Reading a run for charts and tables: peak-keeping downsampling and per-series summaries.

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

from typing import TYPE_CHECKING

from perflab.store import format_labels, summarize

if TYPE_CHECKING:
    from perflab.store import Series, Store, Summary

def series_area(series: Series) -> str:
    """The area a series belongs to: the first segment of its dotted name."""
    return series.name.split(".", 1)[0]


def series_key(series: Series) -> str:
    """A key that matches 'the same' series across runs: name and labels, PIDs left out.

    PIDs differ between runs of the same service; the process name is what people compare.
    """
    return series.name + format_labels(series.labels, leave_out=("pid",))


def run_summaries(store: Store, run_id: int) -> list[Summary]:
    return [summarize(store, s.id) for s in store.series(run_id)]
