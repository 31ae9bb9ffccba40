"""Where collected samples go: the store's ingest queue, into one run.

Every collector (scrapes, remote-write, OTLP, InfluxDB, import) hands its samples to a
``MetricSink`` as ``(name, labels_json, ts_ns, value)`` rows; the sink adds the run and submits
them whole to ``store.IngestQueue`` (kinds ``metric_samples`` and ``metric_meta``), or refuses
them whole when the queue is full (the receiver answers 429).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence

from perflab.store import IngestQueue, write_metric_meta, write_metric_samples

SAMPLES = "metric_samples"
META = "metric_meta"

Row = tuple[str, str, int, float]  # name, canonical labels JSON, ts_ns, value


def register_kinds(queue: IngestQueue) -> None:
    """Teach a queue to write metric samples and metadata (once per queue)."""
    for kind, writer in ((SAMPLES, write_metric_samples), (META, write_metric_meta)):
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

    def submit_meta(self, items: Sequence[tuple[str, str, str, str]]) -> bool:
        return self.queue.submit(META, list(items)) if items else True
