"""A recording in a background thread: the hub's record of its machine, the demo's of its service.

The thread has its own store connection (SQLite connections are not shared between threads
that write). A full disk or a damaged store stops the recording with one log line and no
traceback; any other failure is logged with its traceback. Either way the caller's process goes
on (a hub keeps serving what was committed), and ``error`` says why the recording ended early.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path

from perflab.collect.recorder import Recorder
from perflab.errors import StoreError
from perflab.store import Store

log = logging.getLogger("perflab.record")


class RecordingThread:
    """``Recorder.run`` in a daemon thread, into an existing run; ``stop()`` commits what is
    buffered (unless the store failed) and closes the thread's connection."""

    def __init__(self, store_path: Path, run_id: int, *, interval_s: float = 1.0,
                 pids: Iterable[int] = (), system: bool = True, proc_root: str = "/proc",
                 name: str = "perflab-record") -> None:
        self.run_id = run_id
        self._store = Store.open(store_path)
        self.recorder = Recorder(self._store, run_id, interval_s, pids=pids, system=system,
                                 proc_root=proc_root)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.error: str | None = None

    @property
    def samples_written(self) -> int:
        return self.recorder.samples_written

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        try:
            self.recorder.run(self._stop)
        except StoreError as exc:  # a full disk, a damaged file: one line says it
            self.error = exc.message
            log.error("recording stopped: %s (%s)", exc.message, exc.hint or "")  # noqa: TRY400  # the cause is the message, a traceback adds nothing
        except Exception as exc:  # the caller's process outlives its recording
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("recording stopped")

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        try:
            self.recorder.close(flush=self.error is None)
        finally:
            self._store.close()
