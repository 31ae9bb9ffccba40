"""Where collected samples go: the store's ingest queue, into one run.

Every collector (scrapes, remote-write, OTLP, InfluxDB, import) hands its samples to a
``MetricSink`` as ``(name, labels_json, ts_ns, value)`` rows; the sink adds the run and submits
them whole to ``store.IngestQueue`` (kinds ``metric_samples`` and ``metric_meta``), or refuses
them whole when the queue is full (the receiver answers 429). A receiver that decodes a request
column-wise submits it as one ``MetricColumns`` (kind ``metric_columns``), counted by its samples.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence

from perflab.store import (
    IngestQueue,
    MetricColumns,
    write_metric_columns,
    write_metric_meta,
    write_metric_samples,
)

SAMPLES = "metric_samples"
COLUMNS = "metric_columns"
META = "metric_meta"

Row = tuple[str, str, int, float]  # name, canonical labels JSON, ts_ns, value


def register_kinds(queue: IngestQueue) -> None:
    """Teach a queue to write metric samples and metadata (once per queue)."""
    for kind, writer in ((SAMPLES, write_metric_samples), (COLUMNS, write_metric_columns),
                         (META, write_metric_meta)):
        with contextlib.suppress(ValueError):  # registered already by another part
            queue.register(kind, writer)


class MetricSink:
    """Submits rows into ``run_id()``'s run (the id is asked for on the first write, so a hub
    that collects nothing creates no run)."""

    def __init__(self, queue: IngestQueue, run_id: Callable[[], int]) -> None:
        self.queue = queue
        self._run_id = run_id
        self._lock = threading.Lock()
        self._cached: int | None = None
        self.refused = 0
        # rows accepted are also handed here (the remote-write sender), never blocking
        self.forward: Callable[[Sequence[Row]], None] | None = None

    @property
    def run_id(self) -> int:
        with self._lock:
            if self._cached is None:
                self._cached = self._run_id()
            return self._cached

    def submit(self, rows: Sequence[Row]) -> bool:
        if not rows:
            return True
        run = self.run_id
        ok = self.queue.submit(SAMPLES, [(run, n, lab, ts, v) for n, lab, ts, v in rows])
        if not ok:
            self.refused += len(rows)
        elif self.forward is not None:
            self.forward(rows)
        return ok

    def submit_items(self, items: list[tuple[int, str, str, int, float]]) -> bool:
        """Items already in ``(run_id, name, labels, ts_ns, value)`` form (a receiver that
        asked for ``run_id`` first): no copy on the way to the queue."""
        if not items:
            return True
        ok = self.queue.submit(SAMPLES, items)
        if not ok:
            self.refused += len(items)
        elif self.forward is not None:
            self.forward([(n, lab, ts, v) for _, n, lab, ts, v in items])
        return ok

    def submit_columns(self, batch: MetricColumns) -> bool:
        """A request's samples column-wise (``batch.run_id`` is this sink's run), whole."""
        n = len(batch)
        if not n:
            return True
        ok = self.queue.submit(COLUMNS, [batch], size=n)
        if not ok:
            self.refused += n
        elif self.forward is not None:
            self.forward(column_rows(batch))
        return ok

    def submit_meta(self, items: Sequence[tuple[str, str, str, str]]) -> bool:
        return self.queue.submit(META, list(items)) if items else True


def column_rows(batch: MetricColumns) -> list[Row]:
    """The rows of a ``MetricColumns``, one per sample (for the remote-write sender)."""
    names = [(name, labels) for (name, labels), n in zip(batch.series, batch.counts.tolist(),
                                                         strict=True) for _ in range(n)]
    return [(name, labels, t, v) for (name, labels), t, v in zip(
        names, batch.ts_ns.tolist(), batch.values.tolist(), strict=True)]
