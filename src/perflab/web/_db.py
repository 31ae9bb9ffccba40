"""One store connection per worker thread.

Starlette runs the synchronous endpoints in a thread pool; a SQLite connection must not be used
by two threads at once, and WAL lets every thread have its own reader. Connections are opened
on first use in a thread and closed together when the app shuts down.
"""

from __future__ import annotations

import threading
from pathlib import Path

from perflab.store import Store


class StorePool:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[Store] = []

    def get(self) -> Store:
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = Store.open(self.path, create=False)
            self._local.store = store
            with self._lock:
                self._all.append(store)
        return store

    def close(self) -> None:
        with self._lock:
            stores, self._all = self._all, []
        for store in stores:
            store.close()
