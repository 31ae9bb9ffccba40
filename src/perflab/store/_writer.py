"""The batched writer: how every recorder puts samples into the store.

Samples are buffered and committed together, at most ``flush_interval_s`` apart, so a ``kill -9``
of a recorder loses at most the open batch and the file stays readable (WAL mode).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from perflab.store._models import canonical_labels

if TYPE_CHECKING:
    from collections.abc import Callable

    from perflab.store._store import Store


class BatchWriter:
    """Buffers (series, ts_ns, value) samples for one run and commits them in batches."""

    def __init__(self, store: Store, run_id: int, *, flush_interval_s: float = 1.0,
                 max_batch: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.run_id = run_id
        self.flush_interval_s = flush_interval_s
        self.max_batch = max_batch
        self._clock = clock
        self._ids: dict[tuple[str, str], int] = {}
        self._buffer: list[tuple[int, int, float]] = []
        self._last_flush = clock()
        self.samples_written = 0

    def series(self, name: str, labels: dict[str, str] | None = None, unit: str = "") -> int:
        """The id of a series in this run (cached; created on first use)."""
        key = (name, canonical_labels(labels))
        sid = self._ids.get(key)
        if sid is None:
            sid = self.store.series_id(self.run_id, name, labels, unit)
            self._ids[key] = sid
        return sid

    def add(self, series_id: int, ts_ns: int, value: float) -> None:
        self._buffer.append((series_id, ts_ns, value))
        if len(self._buffer) >= self.max_batch:
            self.flush()

    def add_value(self, name: str, labels: dict[str, str] | None, ts_ns: int, value: float,
                  unit: str = "") -> None:
        self.add(self.series(name, labels, unit), ts_ns, value)

    def extend(self, rows: list[tuple[int, int, float]]) -> None:
        self._buffer.extend(rows)
        if len(self._buffer) >= self.max_batch:
            self.flush()

    def event(self, kind: str, text: str = "", *, ts_ns: int | None = None,
              end_ns: int | None = None, attrs: dict[str, Any] | None = None) -> int:
        """Events are rare and precious: written at once, not batched."""
        return self.store.add_event(self.run_id, kind, text, ts_ns=ts_ns, end_ns=end_ns,
                                    attrs=attrs)

    def maybe_flush(self) -> None:
        if self._buffer and self._clock() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            self.store.insert_samples(self._buffer)
            self.samples_written += len(self._buffer)
            self._buffer = []
        self._last_flush = self._clock()

    @property
    def pending(self) -> int:
        return len(self._buffer)
