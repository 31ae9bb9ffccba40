"""The terminal side of the live view: cbreak mode (keys arrive one by one, Ctrl-C still
raises) and non-blocking reads, so waiting for a key never holds up the next refresh."""

from __future__ import annotations

import contextlib
import os
import select
import termios
import tty
from collections.abc import Iterator


@contextlib.contextmanager
def cbreak(fd: int) -> Iterator[None]:
    """Put the terminal in cbreak mode; always restore the saved settings on the way out."""
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd, termios.TCSANOW)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def read_input(fd: int, timeout: float) -> str:
    """What the user typed within ``timeout`` seconds ("" if nothing)."""
    ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
    if not ready:
        return ""
    data = os.read(fd, 1024)
    if not data:  # the terminal went away (pane killed): behave as if q was pressed
        return "q"
    return data.decode("utf-8", "replace")
