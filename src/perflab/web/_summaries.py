"""Summaries of finished runs, kept in memory: a finished run never changes, and its p95 costs
a read of every sample. Running runs are summarised afresh each time."""

from __future__ import annotations

import threading
from collections import OrderedDict

from perflab.store import Run, Store, Summary, summarize

MAX_ENTRIES = 50_000


class SummaryCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        # keyed with the run's start too: ids of a deleted run's rows can be reused by SQLite
        self._cache: OrderedDict[tuple[int, int, int], Summary] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def run(self, store: Store, run: Run) -> list[Summary]:
        finished = run.ended_ns is not None
        out = []
        for series in store.series(run.id):
            key = (run.id, run.started_ns, series.id)
            with self._lock:
                hit = self._cache.get(key) if finished else None
                if hit is not None:
                    self._cache.move_to_end(key)
            if hit is None:
                hit = summarize(store, series.id)
                if finished:
                    with self._lock:
                        self._cache[key] = hit
                        while len(self._cache) > self.max_entries:
                            self._cache.popitem(last=False)
            out.append(hit)
        return out
