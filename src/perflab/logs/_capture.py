"""A child's stdout and stderr as log lines (``perflab run``), passed through unchanged.

Each stream is read as it comes (``os.read``, so a prompt without its newline shows at once)
and its bytes go to perflab's own stdout or stderr as they are; meanwhile they are cut into
lines (``\\n``; a line over ``MAX_LINE`` bytes in pieces of that size, the last partial line
when the stream ends) and handed to the store through an ``IngestQueue`` of their own, labels
``run``, ``stream`` (stdout or stderr) and ``command``. When the queue is full the reader
waits for it (the child's pipe fills, as a slow terminal would make it wait): no line is lost.
"""

from __future__ import annotations

import os
import threading
import time
from typing import IO, TYPE_CHECKING

from perflab.logs._push import MAX_LINE
from perflab.logs._sink import LogEntry, LogSink
from perflab.store import IngestQueue, canonical_labels

if TYPE_CHECKING:
    from pathlib import Path

_READ = 64 * 1024
_BATCH = 512  # lines handed over at once (fewer when the stream pauses)


class OutputCapture:
    """``attach(name, fd, out)`` per stream once the child runs; ``wait_streams()`` once it
    exited (its output may outlive it, held by a process it started), then ``close()`` (the
    lines read are written)."""

    def __init__(self, store_path: Path | str, run_id: int, command: str) -> None:
        self.queue = IngestQueue(store_path)
        self.sink = LogSink(run_id=lambda: run_id)
        self.sink.register(self.queue)
        self.queue.start()
        self._labels = {name: canonical_labels({"run": str(run_id), "stream": name,
                                                "command": command})
                        for name in ("stdout", "stderr")}
        self._threads: list[threading.Thread] = []
        self._closed = False
        self.lines = 0

    def attach(self, name: str, fd: int, out: IO[bytes]) -> None:
        thread = threading.Thread(target=self._pump, args=(name, fd, out),
                                  name=f"perflab-run-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def wait_streams(self) -> None:
        """Until every stream is closed (a pipe's end of file), in short joins so the
        caller's signal handlers run meanwhile."""
        for thread in self._threads:
            while thread.is_alive():
                thread.join(0.2)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop: what was read is written; a stream still open (an error path) is left."""
        for thread in self._threads:
            thread.join(timeout_s)
        self._closed = True
        self.queue.stop()

    def _pump(self, name: str, fd: int, out: IO[bytes]) -> None:
        labels = self._labels[name]
        pending = b""
        batch: list[LogEntry] = []
        try:
            while chunk := os.read(fd, _READ):
                try:
                    out.write(chunk)
                    out.flush()
                except (OSError, ValueError):  # our terminal went away: keep capturing
                    pass
                now = time.time_ns()
                *lines, pending = (pending + chunk).split(b"\n")
                while len(pending) > MAX_LINE:
                    lines.append(pending[:MAX_LINE])
                    pending = pending[MAX_LINE:]
                batch.extend(_entries(labels, now, lines))
                if len(batch) >= _BATCH or len(chunk) < _READ:
                    self._hand_over(batch)
                    batch = []
        finally:
            os.close(fd)
        if pending:
            batch.extend(_entries(labels, time.time_ns(), [pending]))
        self._hand_over(batch)

    def _hand_over(self, batch: list[LogEntry]) -> None:
        if not batch:
            return
        delay = 0.005
        while not self.sink.submit(batch):
            if self._closed:  # the queue stopped (perflab is leaving on an error)
                return
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        self.lines += len(batch)


def _entries(labels: str, now: int, lines: list[bytes]) -> list[LogEntry]:
    out = []
    for raw in lines:
        for i in range(0, max(len(raw), 1), MAX_LINE):
            piece = raw[i:i + MAX_LINE].rstrip(b"\r")
            out.append(LogEntry(labels, now, piece.decode("utf-8", "replace")))
    return out
