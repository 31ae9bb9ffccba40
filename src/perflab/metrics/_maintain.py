"""The hub's background care of the metrics it stores: retention, and packing closed hours.

One thread with its own store connection, at a low CPU priority, off every request's path;
every ``check_s`` it

- **applies retention** to the samples of the hub's runs (kinds ``serve`` and ``metrics``:
  what it scraped, received and recorded; recordings, load tests and imports are never
  touched): samples older than ``max_age_ns`` go (``--metrics-retention``, Prometheus's
  ``--storage.tsdb.retention.time``); when the file's used pages, less what spans take (they
  have their own bound), exceed ``max_bytes`` (``--metrics-retention-size``), the oldest hour
  of them goes, and the next, until it is under (at most ``MAX_HOURS_PER_CHECK`` a check);
- **packs the hours that closed** (``store.pack_hours``) of the series of the hub's runs,
  over the last ``PACK_WINDOW_NS``, so the first query of a day-long range meets packed hours
  instead of packing them on the request's clock (2.1 s for a day of 16 series at 1 s).

Both work in small transactions (``CHUNK`` series each) with a pause between them, so the
ingest writer never waits long for the write lock.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from perflab.errors import PerflabError
from perflab.store import (
    Store,
    delete_samples_before,
    oldest_sample_ns,
    pack_hours,
    series_of_run_kinds,
    span_bytes_estimate,
    span_stats,
    store_used_bytes,
)

log = logging.getLogger("perflab.metrics")

HUB_RUN_KINDS = ("serve", "metrics")
HOUR_NS = 3600 * 10**9
SEAL_NS = 10 * 60 * 10**9           # as the store's block cache: an hour is over 10 min after
PACK_WINDOW_NS = 26 * HOUR_NS       # a day-long dashboard, and some
MAX_HOURS_PER_CHECK = 24
CHUNK = 200                         # series per transaction
PAUSE_S = 0.01                      # between transactions: the ingest writer goes first
NICE = 10                           # this thread's CPU priority (the hub's other threads: 0)


@dataclass(frozen=True, slots=True)
class MetricsRetention:
    """Samples of the hub's runs older than ``max_age_ns`` go, and the oldest while the store
    is over ``max_bytes``; None: no limit."""

    max_age_ns: int | None = 15 * 86_400 * 10**9
    max_bytes: int | None = None


def apply_retention(store: Store, retention: MetricsRetention, *, now_ns: int,
                    pause: Callable[[], None] = lambda: None) -> int:
    """Delete what the retention rules say of the hub's runs' samples. Returns samples
    deleted."""
    series = series_of_run_kinds(store, HUB_RUN_KINDS)
    if not series:
        return 0
    deleted = 0
    if retention.max_age_ns is not None:
        deleted += _delete_before(store, series, now_ns - retention.max_age_ns, pause)
    if retention.max_bytes is not None:
        for _ in range(MAX_HOURS_PER_CHECK):
            if _metrics_bytes(store) <= retention.max_bytes:
                break
            oldest = oldest_sample_ns(store, series)
            if oldest is None:
                break
            gone = _delete_before(store, series, (oldest // HOUR_NS + 1) * HOUR_NS, pause)
            deleted += gone
            if not gone:
                break
    if deleted:
        log.info("metrics retention: deleted %d samples", deleted)
    return deleted


def _delete_before(store: Store, series: list[int], before_ns: int,
                   pause: Callable[[], None]) -> int:
    deleted = 0
    for i in range(0, len(series), CHUNK):
        deleted += delete_samples_before(store, series[i:i + CHUNK], before_ns)
        pause()
    return deleted


def _metrics_bytes(store: Store) -> int:
    """The store's used bytes less what its spans take (estimated as trace retention does)."""
    spans, _, _ = span_stats(store)
    return store_used_bytes(store) - int(spans * span_bytes_estimate(store))


def pack_closed_hours(store: Store, *, now_ns: int,
                      pause: Callable[[], None] = lambda: None) -> int:
    """Pack the closed hours of the last ``PACK_WINDOW_NS`` of the hub's runs' series (those
    packed already are skipped). Returns the hours packed."""
    end = ((now_ns - SEAL_NS) // HOUR_NS) * HOUR_NS
    first = end - PACK_WINDOW_NS
    series = series_of_run_kinds(store, HUB_RUN_KINDS, ended_after_ns=first)
    packed = 0
    for i in range(0, len(series), CHUNK):
        packed += pack_hours(store, series[i:i + CHUNK], first, end)
        pause()
    return packed


class MetricsMaintenance:
    """The thread: ``start()``, ``stop()``; ``run_once()`` does one round now (tests, the
    benchmark)."""

    def __init__(self, store_path: Path, retention: MetricsRetention, *,
                 check_s: float = 60.0, first_s: float = 5.0) -> None:
        self.store_path, self.retention = store_path, retention
        self.first_s, self.check_s = first_s, check_s  # the first round, then every round
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.deleted = self.packed = self.rounds = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="perflab-metrics-maintain",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def run_once(self) -> None:
        with Store.open(self.store_path) as store:
            self._round(store)

    def _pause(self) -> None:
        if self._stop.wait(PAUSE_S):
            raise _Stopping

    def _round(self, store: Store) -> None:
        now = time.time_ns()
        self.deleted += apply_retention(store, self.retention, now_ns=now, pause=self._pause)
        self.packed += pack_closed_hours(store, now_ns=now, pause=self._pause)
        self.rounds += 1

    def _run(self) -> None:
        with contextlib.suppress(OSError):  # Linux: a thread is a task with its own nice
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
        wait = self.first_s
        while not self._stop.wait(wait):
            wait = self.check_s
            try:
                with Store.open(self.store_path) as store:
                    self._round(store)
            except _Stopping:
                return
            except PerflabError as exc:  # a full disk, a busy store: next time
                log.warning("metrics maintenance: %s", exc)
            except Exception:  # the hub keeps serving; what is stored is right
                log.exception("metrics maintenance")


class _Stopping(Exception):
    """Asked to stop between two steps (not an error)."""
