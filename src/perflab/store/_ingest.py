"""The one batching path from receivers into the store.

Receivers (OTLP, Zipkin, remote-write, Loki push, ...) decode at the edge into their capability's
model and ``submit`` a batch under a *kind*; one writer thread, with its own store connection,
takes everything pending and hands each kind's items to the write function registered for it,
in one transaction per kind and round.

The queue is bounded in items. ``submit`` either accepts a whole batch or refuses it at once
(``False``): the receiver then answers with its protocol's "try later" (HTTP 429, gRPC
``RESOURCE_EXHAUSTED``). A batch that was accepted is never dropped: when a write fails (a full
disk), the batch stays at the head of the queue and is tried again after a pause, so the queue
fills and receivers refuse new data instead. ``stop`` writes everything accepted before it
returns (or reports what it could not write).

::

    queue = IngestQueue(path)
    queue.register("spans", write_spans)      # write_spans(store, items) -> None
                                              # (committed=fn: fn(items) after each commit)
    queue.start()
    if not queue.submit("spans", decoded):    # False: answer 429 / RESOURCE_EXHAUSTED
        ...
    queue.stop()
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perflab.errors import PerflabError
from perflab.store._store import Store

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

log = logging.getLogger("perflab.ingest")


@dataclass(frozen=True, slots=True)
class IngestStats:
    """What the queue did so far, in items (spans, samples, log lines ...)."""

    accepted: int
    refused: int
    written: int
    pending: int
    failures: int       # write rounds that failed and were retried
    last_error: str | None


class IngestQueue:
    """A bounded queue of decoded batches and the one thread that writes them."""

    def __init__(self, store_path: Path | str, *, max_items: int = 500_000,
                 max_round_items: int = 50_000, linger_s: float = 0.05,
                 retry_s: float = 1.0,
                 open_store: Callable[[Path], Store] | None = None,
                 log_failures: bool = True) -> None:
        if max_items < 1 or max_round_items < 1:
            raise ValueError("max_items and max_round_items must be positive")
        self.store_path = Path(store_path)
        self.max_items = max_items
        self.max_round_items = max_round_items
        self.linger_s = linger_s
        self.retry_s = retry_s
        self._open_store = open_store
        # False when another writer of the same command reports the store's failures (record's
        # recorder says "disk full" once; its node_* queue must not add a retry warning)
        self.log_failures = log_failures
        self._writers: dict[str, Callable[[Store, list[Any]], None]] = {}
        self._committed: dict[str, Callable[[list[Any]], None]] = {}
        self._queue: deque[tuple[str, list[Any], int]] = deque()  # kind, items, their size
        self._pending = 0
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stopping = False
        self._give_up_at = float("inf")
        self._thread: threading.Thread | None = None
        self._accepted = self._refused = self._written = self._failures = 0
        self._last_error: str | None = None

    def register(self, kind: str, write: Callable[[Store, list[Any]], None], *,
                 committed: Callable[[list[Any]], None] | None = None) -> None:
        """``write(store, items)`` stores items of ``kind``; it runs in the writer thread,
        inside a transaction the queue commits (or rolls back when it raises).

        ``committed(items)``, when given, runs in the writer thread once those items are
        committed: what a capability keeps in memory about its data (running counters) is
        updated there, so a write that failed and is retried is never counted twice."""
        if kind in self._writers:
            raise ValueError(f"a writer for {kind!r} is registered already")
        self._writers[kind] = write
        if committed is not None:
            self._committed[kind] = committed

    def submit(self, kind: str, items: Sequence[Any], *, size: int | None = None) -> bool:
        """Accept the whole batch (True) or none of it (False: the queue is full or stopping).

        ``size`` counts the batch against the bound when an item holds many (a request's
        samples column-wise); by default each item counts one.
        Never blocks on the store: safe to call from an event loop.
        """
        if kind not in self._writers:
            raise ValueError(f"no writer registered for {kind!r}")
        n = len(items) if size is None else size
        if n == 0:
            return True
        with self._lock:
            if self._stopping or self._pending + n > self.max_items:
                self._refused += n
                return False
            self._queue.append((kind, list(items), n))
            self._pending += n
            self._accepted += n
            self._wake.notify()
        return True

    def stats(self) -> IngestStats:
        with self._lock:
            return IngestStats(self._accepted, self._refused, self._written, self._pending,
                               self._failures, self._last_error)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="perflab-ingest", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> IngestStats:
        """Refuse new batches, write what was accepted, end the thread."""
        with self._lock:
            self._stopping = True
            self._give_up_at = time.monotonic() + timeout_s * 0.9  # retries end before the join
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("ingest: %d items still unwritten after %.0f s", self._pending,
                            timeout_s)
        return self.stats()

    # -- the writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        store = self._open()
        if store is None:
            return
        try:
            while True:
                batch = self._take()
                if batch is None:
                    return
                if not self._write(store, batch):
                    self._put_back(batch)
                    with self._lock:
                        if self._stopping and time.monotonic() > self._give_up_at:
                            return  # cannot write, and asked to stop: stats say what is left
                    time.sleep(self.retry_s)
        finally:
            store.close()

    def _open(self) -> Store | None:
        try:
            return (self._open_store or Store.open)(self.store_path)
        except PerflabError as exc:
            with self._lock:
                self._last_error = str(exc)
                self._stopping = True
            log.error("ingest: cannot open the store: %s", exc)  # noqa: TRY400  # one line
            return None

    def _take(self) -> list[tuple[str, list[Any], int]] | None:
        """Everything pending up to ``max_round_items`` (at least one batch); None to stop."""
        with self._lock:
            while not self._queue:
                if self._stopping:
                    return None
                self._wake.wait()
        if self.linger_s > 0 and not self._stopping:
            time.sleep(self.linger_s)  # let concurrent receivers join this round's transaction
        with self._lock:
            out: list[tuple[str, list[Any], int]] = []
            taken = 0
            while self._queue and (not out or taken + self._queue[0][2] <= self.max_round_items):
                out.append(self._queue.popleft())
                taken += out[-1][2]
            return out

    def _put_back(self, batch: list[tuple[str, list[Any], int]]) -> None:
        with self._lock:
            self._queue.extendleft(reversed(batch))

    def _write(self, store: Store, batch: list[tuple[str, list[Any], int]]) -> bool:
        by_kind: dict[str, list[Any]] = {}
        n = 0
        for kind, items, size in batch:
            by_kind.setdefault(kind, []).extend(items)
            n += size
        try:
            with store.transaction():
                for kind, items in by_kind.items():
                    self._writers[kind](store, items)
        except Exception as exc:  # a full disk, a damaged file: keep the data, retry later
            with self._lock:
                self._failures += 1
                self._last_error = f"{type(exc).__name__}: {exc}"
            if self.log_failures:
                log.warning("ingest: writing %d items failed (%s); retrying", n, exc)
            return False
        with self._lock:
            self._pending -= n
            self._written += n
        for kind, items in by_kind.items():
            after = self._committed.get(kind)
            if after is not None:
                try:
                    after(items)
                except Exception:  # what is in the store is right; only a view lags
                    log.exception("ingest: after committing %d %s", len(items), kind)
        try:
            store.compact_if_due()  # samples written above wait in the head; see Store
        except Exception as exc:  # committed already: a failed compaction loses nothing
            log.warning("ingest: compacting the samples head failed (%s)", exc)
        return True
