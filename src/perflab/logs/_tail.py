"""Files followed into the store, as ``tail -F`` follows them.

Each file is known by its path; ``poll`` reads what was appended since the last call. A path
that now names another file (rotation: renamed away, a new one created) has the rest of the old
file read, then the new one from its start; a file shorter than what was read (truncated, as
``copytruncate`` does) is read again from its start (as with ``tail -F``, a file truncated and
refilled past the old offset between two polls cannot be told from one appended to). A line
is a line once its newline has arrived; a partial last line waits for the next poll.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from perflab.logs._push import MAX_LINE
from perflab.logs._sink import LogEntry, LogSink
from perflab.store import canonical_labels

if TYPE_CHECKING:
    from perflab.store import Store

_READ = 1 << 20


@dataclass(slots=True)
class _Followed:
    path: str
    labels: str
    handle: IO[bytes] | None = None
    inode: tuple[int, int] | None = None
    partial: bytes = field(default=b"")


class FileTail:
    """Follow ``paths`` into ``store`` under the labels ``{filename: path, **labels}``."""

    def __init__(self, store: Store, paths: Sequence[str], labels: dict[str, str], *,
                 from_start: bool = False, wall: Callable[[], int] = time.time_ns) -> None:
        self.store = store
        self.sink = LogSink()
        self._wall = wall
        self.lines = 0
        self._files = [_Followed(p, canonical_labels({**labels, "filename": p}))
                       for p in paths]
        for f in self._files:
            self._open(f, at_end=not from_start)

    def _open(self, f: _Followed, *, at_end: bool) -> None:
        try:
            handle = open(f.path, "rb")  # noqa: SIM115, PTH123  # kept open across polls
        except OSError:
            return  # not there (yet): looked for again at the next poll
        st = os.fstat(handle.fileno())
        f.handle, f.inode, f.partial = handle, (st.st_dev, st.st_ino), b""
        if at_end:
            handle.seek(0, os.SEEK_END)

    def poll(self) -> int:
        """Read what the files got since the last poll into the store; returns the lines."""
        entries: list[LogEntry] = []
        for f in self._files:
            entries.extend(self._poll_one(f))
        if entries:
            with self.store.transaction():
                self.sink.write(self.store, entries)
            self.lines += len(entries)
        return len(entries)

    def _poll_one(self, f: _Followed) -> list[LogEntry]:
        if f.handle is None:
            self._open(f, at_end=False)
            if f.handle is None:
                return []
        try:
            st = os.stat(f.path)  # noqa: PTH116  # as fstat above: (dev, inode) of the path
        except OSError:
            return self._read(f)  # renamed away and not replaced yet: keep reading the old one
        if (st.st_dev, st.st_ino) != f.inode:  # rotated: the rest of the old, then the new
            out = self._read(f, final=True)
            f.handle.close()
            self._open(f, at_end=False)
            return out + self._read(f)
        if st.st_size < f.handle.tell():       # truncated: from the start again
            f.handle.seek(0)
            f.partial = b""
        return self._read(f)

    def close(self) -> None:
        for f in self._files:
            if f.handle is not None:
                f.handle.close()
                f.handle = None

    def _read(self, f: _Followed, *, final: bool = False) -> list[LogEntry]:
        if f.handle is None:
            return []
        data = f.partial
        while chunk := f.handle.read(_READ):
            data += chunk
        *lines, rest = data.split(b"\n")
        if final and rest:
            lines.append(rest)
            rest = b""
        f.partial = rest
        now = self._wall()
        return [LogEntry(f.labels, now, line[:MAX_LINE].decode("utf-8", "replace").rstrip("\r"))
                for line in lines]
