"""The report's Logs section: the run's lines/s and error-level lines/s over the run (the
volume by level the Run page charts) and its most frequent error lines, each linking to the
hub's Logs page with the query that finds those lines when the hub serves the report."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from perflab.logs import log_volume, top_error_lines

if TYPE_CHECKING:
    from perflab.store import Run, Store

VOLUME_POINTS = 300  # buckets over the run: the chart's resolution
TOP_ERROR_LINES = 10


def logs_report(store: Store, run: Run, *, hub_url: str | None) -> dict[str, Any] | None:
    """The section's values, or None when the run has no log line."""
    end = (run.ended_ns if run.ended_ns is not None else time.time_ns()) + 1
    start = min(run.started_ns, end - 1)
    vol = log_volume(store, None, start, end, points=VOLUME_POINTS, run_id=run.id)
    total = sum(sum(counts) for counts in vol["levels"].values())
    if not total:
        return None
    errors, more = top_error_lines(store, run.id, start, end, top=TOP_ERROR_LINES)
    rows = [{"template": e.template, "count": e.count, "example": e.example,
             "labels": e.labels, "query": e.query,
             "href": (hub_url.rstrip("/") + "/logs?"
                      + urlencode({"query": e.query, "start": start, "end": end})
                      if hub_url else None)} for e in errors]
    return {"volume": vol, "total": total, "errors": rows, "more": more,
            "error_lines": sum(n for lvl, c in vol["levels"].items()
                               if lvl in ("error", "critical") for n in c)}
