"""Holding Ctrl-C back while the demo writes what must be written whole.

Ctrl-C (and SIGTERM, which ``perflab demo`` takes as Ctrl-C) raises ``KeyboardInterrupt`` in
the main thread between any two bytecodes. Raised just after SQLite ran an ``INSERT`` and
before its commit, it rolls the write back: the interrupted phase's event was lost so when the
signal came while the store was busy (a phase's last write waits for the recorder's). Inside
``interrupts_held()`` the signal is noted, and delivered again, to the handler it was meant
for, when the block ends.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

HELD = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signals only ever reach the main thread's handlers
        return
    came: list[int] = []

    def note(signum: int, _frame: FrameType | None) -> None:
        came.append(signum)

    previous = {s: signal.signal(s, note) for s in HELD}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if came:
            signal.raise_signal(came[0])  # one Ctrl-C, as the user gave it
