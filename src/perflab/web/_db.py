"""One store connection per worker thread, and a shutdown that never closes one in use.

Starlette runs the synchronous endpoints in a thread pool; a SQLite connection must not be used
by two threads at once, and WAL lets every thread have its own reader. Connections are opened
on first use in a thread and closed together when the app shuts down.

Closing a connection while another thread is inside one of its queries crashes the process
(SIGSEGV in SQLite), and a request can outlive the server's graceful shutdown: uvicorn cancels
its task, but the worker thread runs on. So endpoints run inside ``in_use()`` (the
``uses_store`` decorator), and ``close()`` first interrupts every connection (SQLite's
thread-safe ``interrupt``: a running query stops with an error), waits for the requests to
leave, and only then closes.

No request may hold a thread and the store for long: a request's queries share one deadline
(``query_timeout_s`` from when it started using the store), checked by SQLite's progress
handler every few thousand VM steps; past it the query stops with ``sqlite3.OperationalError
("interrupted")``, which the API answers with a 503 saying what to narrow.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from perflab.store import Store, interrupt, query_interrupted, set_query_deadline

if TYPE_CHECKING:
    from starlette.requests import Request

R = TypeVar("R")

QUERY_TIMEOUT_S = 10.0
_PROGRESS_STEPS = 10_000  # SQLite VM steps between two looks at the clock (well under 1 ms)


interrupted = query_interrupted  # a query stopped by its deadline (or by shutdown)


class StorePool:
    def __init__(self, path: Path, query_timeout_s: float = QUERY_TIMEOUT_S) -> None:
        self.path = path
        self.query_timeout_s = query_timeout_s
        self._local = threading.local()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._busy = 0
        self._all: list[Store] = []

    def get(self) -> Store:
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = Store.open(self.path, create=False)
            set_query_deadline(store, self._past_deadline, _PROGRESS_STEPS)
            self._local.store = store
            with self._lock:
                self._all.append(store)
        return store

    def _past_deadline(self) -> int:
        deadline: float | None = getattr(self._local, "deadline", None)
        return int(deadline is not None and time.monotonic() > deadline)

    @contextlib.contextmanager
    def in_use(self) -> Iterator[None]:
        """Marks a request that may use this thread's connection, and starts its deadline."""
        with self._lock:
            self._busy += 1
        self._local.deadline = time.monotonic() + self.query_timeout_s
        try:
            yield
        finally:
            self._local.deadline = None
            with self._lock:
                self._busy -= 1
                self._idle.notify_all()

    def close(self, wait_s: float = 5.0) -> bool:
        """Interrupt running queries, wait for requests to leave, close every connection.

        False when a request still ran after ``wait_s``: its connection is left open (the
        process is ending; SQLite recovers a reader that never closed).
        """
        with self._lock:
            stores = list(self._all)
        for store in stores:
            interrupt(store)
        with self._idle:
            if not self._idle.wait_for(lambda: self._busy == 0, timeout=wait_s):
                return False
            stores, self._all = self._all, []
        for store in stores:
            store.close()
        return True


def uses_store(fn: Callable[[Request], R]) -> Callable[[Request], R]:
    """An endpoint that reads the store: shutdown waits for it before closing connections."""

    @functools.wraps(fn)
    def endpoint(request: Request) -> R:
        with request.app.state.perflab.stores.in_use():
            return fn(request)

    return endpoint
