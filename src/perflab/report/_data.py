"""The series of a run as the report and the dashboard group them: areas and cross-run keys.

The windows and summaries both draw are the store's (``perflab.store.sample_window``,
``summarize``), so that both show the same figures from the same queries.
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
