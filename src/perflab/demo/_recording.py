"""Recording the demo service and the machine into the demo's run, in a background thread.

The recording loop is ``perflab.collect.recorder.Recorder``. It runs in its own thread with its
own store connection (SQLite connections are not shared between threads that write).
"""

from __future__ import annotations

import importlib
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from perflab.collect import ProcessCollector, SystemCollector, system_rates
from perflab.store import BatchWriter, Store


class RecorderLike(Protocol):
    def run(self, stop: threading.Event | None, duration_s: float | None) -> None: ...
    def close(self) -> None: ...


def _make_recorder(store: Store, run_id: int, *, interval_s: float,
                   pids: list[int]) -> RecorderLike:
    try:
        module = importlib.import_module("perflab.collect.recorder")
    except ImportError:
        # TODO: remove once branch `record` (perflab.collect.recorder) is merged.
        return _ServiceSampler(store, run_id, interval_s=interval_s, pids=pids)
    recorder: RecorderLike = module.Recorder(store, run_id, interval_s=interval_s, pids=pids,
                                             system=True)
    return recorder


class _ServiceSampler:
    """A minimal stand-in for the Recorder: process CPU/RSS/threads and system CPU by mode."""

    def __init__(self, store: Store, run_id: int, *, interval_s: float, pids: list[int]) -> None:
        self.writer = BatchWriter(store, run_id)
        self.interval_s = interval_s
        self.pids = pids
        self.procs = ProcessCollector(with_io=False, with_fds=False)
        self.system = SystemCollector(tcp_states=False)
        self._prev_sys: Any = None

    def tick(self) -> None:
        now = time.time_ns()
        rows = self.procs.refresh(self.pids)
        snap = self.system.snapshot()
        if self._prev_sys is not None:
            for mode, pct in system_rates(self._prev_sys, snap).cpu_pct.items():
                self.writer.add_value("system.cpu.pct", {"cpu": "all", "mode": mode}, now, pct,
                                      "%")
            for row in rows:
                labels = {"pid": str(row.pid), "name": row.name}
                self.writer.add_value("process.cpu.pct", labels, now, row.cpu_pct, "%")
                self.writer.add_value("process.rss_bytes", labels, now, row.rss_bytes, "bytes")
                self.writer.add_value("process.threads", labels, now, row.threads, "")
        self._prev_sys = snap
        self.writer.flush()

    def run(self, stop: threading.Event | None, duration_s: float | None) -> None:
        start = time.monotonic()
        n = 0
        while True:
            self.tick()
            n += 1
            next_at = start + n * self.interval_s
            if duration_s is not None and next_at - start > duration_s:
                return
            delay = max(0.0, next_at - time.monotonic())
            if stop is not None:
                if stop.wait(delay):
                    return
            else:
                time.sleep(delay)

    def close(self) -> None:
        self.writer.flush()


class BackgroundRecording:
    """The recorder in a thread; ``stop()`` ends it and flushes what it measured."""

    def __init__(self, store_path: Path, run_id: int, *, interval_s: float,
                 pids: list[int]) -> None:
        self._store = Store.open(store_path)
        self._recorder = _make_recorder(self._store, run_id, interval_s=interval_s, pids=pids)
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="demo-recorder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self._recorder.run(self._stop, None)
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
