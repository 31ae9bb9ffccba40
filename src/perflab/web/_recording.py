"""The hub's background recording: this machine, into a run of kind ``serve``, in a thread.

The thread has its own store connection (a SQLite connection belongs to one thread). The run
ends ``ok`` when the server shuts down, ``failed`` (with the reason in its meta) if the
recorder dies — the server itself keeps serving either way. A full disk or a damaged store
stops the recording with one log line (no traceback): the pages keep showing what was committed.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

from perflab.collect import RecordingThread
from perflab.errors import StoreError
from perflab.store import Store

log = logging.getLogger("perflab.serve")


class BackgroundRecording:
    """This machine, recorded into a new run of kind ``serve`` while the hub runs."""

    def __init__(self, store_path: Path, *, interval_s: float = 1.0,
                 proc_root: str = "/proc") -> None:
        self.store_path = store_path
        self.interval_s = interval_s
        self.proc_root = proc_root
        self._thread: RecordingThread | None = None
        self.run_id: int | None = None

    @property
    def error(self) -> str | None:
        return None if self._thread is None else self._thread.error

    def start(self) -> int:
        """Create the run (in the caller's thread, so its id is known at once) and start."""
        with Store.open(self.store_path) as store:
            run = store.create_run(
                "serve", f"serve {socket.gethostname()}",
                meta={"interval_s": self.interval_s, "system": True},
            )
        self.run_id = run.id
        self._thread = RecordingThread(self.store_path, run.id, interval_s=self.interval_s,
                                       proc_root=self.proc_root)
        self._thread.start()
        return run.id

    @property
    def samples_written(self) -> int:
        return 0 if self._thread is None else self._thread.samples_written

    def stop(self) -> None:
        """Stop the thread, commit what is buffered and end the run."""
        if self._thread is None or self.run_id is None:
            return
        self._thread.stop()
        error = self._thread.error
        try:
            with Store.open(self.store_path) as store:
                # no rollup here: after days of serving it would hold up the stop for seconds;
                # the next hub rolls the run up in the background (web/_rollups.py)
                if error is None:
                    store.finish_run(self.run_id, "ok", rollup=False)
                else:
                    store.finish_run(self.run_id, "failed", meta_update={"error": error},
                                     rollup=False)
        except StoreError as exc:
            # still full (or damaged): the run stays as it is and reads `interrupted` once this
            # process is gone, ending at its last committed sample
            log.error("could not end the recording's run %s: %s", self.run_id, exc.message)  # noqa: TRY400  # one line is the point
