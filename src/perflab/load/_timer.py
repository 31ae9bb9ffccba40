"""A wake-up at an exact monotonic time, for the open model's scheduler.

uvloop's timers (libuv's) count whole milliseconds: ``call_later(0.0004)`` fires up to a
millisecond late, and that delay would be measured as the service's latency (the open model
counts from the intended send time). A Linux ``timerfd`` armed at an absolute
``CLOCK_MONOTONIC`` time (the clock of ``time.monotonic_ns``) wakes the event loop's
``epoll_wait`` to within microseconds, and hrtimers behind a timerfd take no timer slack.
Python 3.11 has no ``os.timerfd_create``: libc's is called through ctypes (about a microsecond
a call). Where that fails, the loop's own timer is used.
"""

from __future__ import annotations

import ctypes
import os
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

_CLOCK_MONOTONIC = 1
_TFD_NONBLOCK = 0o4000
_TFD_CLOEXEC = 0o2000000
_TFD_TIMER_ABSTIME = 1
_NS = 1_000_000_000


class _Timespec(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long))


class _Itimerspec(ctypes.Structure):
    _fields_ = (("it_interval", _Timespec), ("it_value", _Timespec))


class WakeTimer:
    """Calls ``callback`` once at the monotonic time given to ``arm`` (re-arming moves it)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        self._loop = loop
        self._callback = callback
        self._armed_ns: int | None = None
        self._fallback: asyncio.TimerHandle | None = None
        self._fd = -1
        self._spec = _Itimerspec()
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            self._settime = libc.timerfd_settime
            self._settime.argtypes = (ctypes.c_int, ctypes.c_int,
                                      ctypes.POINTER(_Itimerspec), ctypes.c_void_p)
            fd = libc.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
        except (OSError, AttributeError):  # not Linux, or no timerfd in this libc
            fd = -1
        if fd >= 0:
            self._fd = fd
            loop.add_reader(fd, self._fired)

    @property
    def precise(self) -> bool:
        return self._fd >= 0

    def arm(self, when_ns: int) -> None:
        if when_ns == self._armed_ns:
            return
        self._armed_ns = when_ns
        if self._fd < 0:
            if self._fallback is not None:
                self._fallback.cancel()
            delay = max(0.0, (when_ns - time.monotonic_ns()) / _NS)
            self._fallback = self._loop.call_later(delay, self._fired)
            return
        value = self._spec.it_value
        # an all-zero time would disarm the timer: the earliest time asked for is 1 ns
        value.tv_sec, value.tv_nsec = divmod(max(when_ns, 1), _NS)
        self._settime(self._fd, _TFD_TIMER_ABSTIME, ctypes.byref(self._spec), None)

    def _fired(self) -> None:
        if self._fd >= 0:
            try:
                os.read(self._fd, 8)
            except BlockingIOError:  # re-armed for later since it became readable
                return
        self._armed_ns = None
        self._fallback = None
        self._callback()

    def close(self) -> None:
        if self._fallback is not None:
            self._fallback.cancel()
            self._fallback = None
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
