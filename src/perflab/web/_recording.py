"""The hub's background recording: this machine, into a run of kind ``serve``, in a thread.

The thread has its own store connection (a SQLite connection belongs to one thread). The run
ends ``ok`` when the server shuts down, ``failed`` (with the reason in its meta) if the
recorder dies — the server itself keeps serving either way. A full disk or a damaged store
stops the recording with one log line (no traceback): the pages keep showing what was committed.
"""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path

from perflab.collect.recorder import Recorder
from perflab.errors import StoreError
from perflab.store import Store

log = logging.getLogger("perflab.serve")


class BackgroundRecording:
    def __init__(self, store_path: Path, *, interval_s: float = 1.0,
                 proc_root: str = "/proc") -> None:
        self.store_path = store_path
        self.interval_s = interval_s
        self.proc_root = proc_root
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._store: Store | None = None
        self.recorder: Recorder | None = None
        self.run_id: int | None = None
        self.error: str | None = None

    def start(self) -> int:
        """Create the run (in the caller's thread, so its id is known at once) and start."""
        self._store = Store.open(self.store_path)
        run = self._store.create_run(
            "serve", f"serve {socket.gethostname()}",
            meta={"interval_s": self.interval_s, "system": True},
        )
        self.run_id = run.id
        self.recorder = Recorder(self._store, run.id, self.interval_s, system=True,
                                 proc_root=self.proc_root)
        self._thread = threading.Thread(target=self._loop, name="perflab-record", daemon=True)
        self._thread.start()
        return run.id

    @property
    def samples_written(self) -> int:
        return 0 if self.recorder is None else self.recorder.samples_written

    def _loop(self) -> None:
        assert self.recorder is not None
        try:
            self.recorder.run(self._stop)
        except StoreError as exc:  # a full disk, a damaged file: said in one line, and the
            self.error = exc.message  # server keeps serving what it has
            log.error("background recording stopped: %s (%s)", exc.message, exc.hint or "")  # noqa: TRY400  # the cause is the message, a traceback adds nothing
        except Exception as exc:  # the server outlives its recording
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("background recording stopped")

    def stop(self) -> None:
        """Stop the thread, commit what is buffered and end the run."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._store is None or self.run_id is None:
            return
        try:
            if self.recorder is not None:
                self.recorder.close(flush=self.error is None)
            # no rollup here: after days of serving it would hold up the stop for seconds;
            # the next hub rolls the run up in the background (web/_rollups.py)
            if self.error is None:
                self._store.finish_run(self.run_id, "ok", rollup=False)
            else:
                self._store.finish_run(self.run_id, "failed", meta_update={"error": self.error},
                                       rollup=False)
        except StoreError as exc:
            # still full (or damaged): the run stays as it is and reads `interrupted` once this
            # process is gone, ending at its last committed sample
            log.error("could not end the recording's run %s: %s", self.run_id, exc.message)  # noqa: TRY400  # one line is the point
        finally:
            self._store.close()
            self._store = None
