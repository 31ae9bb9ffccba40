"""Rolls up finished runs in the background, so their first view is already fast.

Most runs are rolled up by ``Store.finish_run``; this covers the rest: the hub's own serve
runs (a stop after days of recording does not wait for their rollup) and runs finished by an
older perflab.

Every 10 s the thread looks for series of finished runs without a per-minute rollup and
builds them one by one, resting three times as long as each took: at most a quarter of a
core, and next to nothing once the store is rolled up (one indexed query every 10 s).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from perflab.store import Store, has_rollup, missing_rollups

log = logging.getLogger("perflab.serve")


class BackgroundRollups:
    def __init__(self, store_path: Path, *, period_s: float = 10.0, duty: float = 0.25) -> None:
        self.store_path = store_path
        self.period_s = period_s
        self.rest = (1 - duty) / duty
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.built = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="perflab-rollups", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        try:
            with Store.open(self.store_path, create=False) as store:
                while not self._stop.is_set():
                    self._pass(store)
                    self._stop.wait(self.period_s)
        except Exception:  # the server outlives this helper
            log.exception("background rollups stopped")

    def _pass(self, store: Store) -> None:
        tried: set[int] = set()
        while not self._stop.is_set():
            todo = [sid for sid in missing_rollups(store) if sid not in tried]
            if not todo:
                return
            for sid in todo:
                if self._stop.is_set():
                    return
                tried.add(sid)
                t0 = time.perf_counter()
                if has_rollup(store, sid):
                    self.built += 1
                self._stop.wait(self.rest * (time.perf_counter() - t0))
