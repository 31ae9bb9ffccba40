"""Recording the demo service and the machine into the demo's run, in a background thread.

The recording loop is ``perflab.collect.recorder.Recorder``. It runs in its own thread with its
own store connection (SQLite connections are not shared between threads that write).
"""

from __future__ import annotations

import threading
from pathlib import Path

from perflab.collect.recorder import Recorder
from perflab.store import Store


class BackgroundRecording:
    """The recorder in a thread; ``stop()`` ends it and flushes what it measured."""

    def __init__(self, store_path: Path, run_id: int, *, interval_s: float,
                 pids: list[int]) -> None:
        self._store = Store.open(store_path)
        self._recorder = Recorder(self._store, run_id, interval_s, pids=pids, system=True)
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="demo-recorder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self._recorder.run(self._stop)
        except BaseException as exc:  # reported by stop(); a thread cannot raise to main
            self.error = exc

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10.0)
        try:
            self._recorder.close()
        finally:
            self._store.close()
