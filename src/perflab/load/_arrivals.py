"""The open model's one scheduler: arrivals produced one at a time, started on time.

A worker takes arrivals ``index, index + n, index + 2n ...`` of the schedule. Their intended
times are computed when they are needed, never stored ahead: whatever the rate, the scheduler
holds one number (the next arrival) and its memory does not grow. Arrivals that are due but
cannot start yet (every connection busy, ``--max-connections`` reached) are not queued either:
they are simply the arrivals between the cursor and now, and the next free connection takes the
oldest (``pump``). What never started by the end of the test is *dropped*.

Waking from an idle wait costs tens of microseconds on a virtual machine (the timer interrupt,
the CPU leaving its idle state). So the timer is armed ``SPIN_NS`` ahead, and the last stretch
is spent polling: the scheduler re-queues itself with ``call_soon`` until the arrival is due,
which keeps the event loop turning (its ``epoll_wait`` then does not block, responses are still
read) rather than blocking it in a busy loop.

The scheduler's own delay is measured for each arrival it starts (*lateness*: the time it
started minus its intended time), so that a generator falling behind shows as such and not as
the service's latency. An arrival started more than 1 ms after its time is *late*.
"""

from __future__ import annotations

import time
from array import array
from typing import TYPE_CHECKING

from perflab.load._timer import WakeTimer

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from perflab.load._schedule import Schedule

_now = time.monotonic_ns
LATE_NS = 1_000_000  # started later than this after its intended time: counted as late
SPIN_NS = 150_000  # wake this early, then poll: above the VM's typical wake-up delay (~50 µs)


def share_of(total: int, index: int, nworkers: int) -> int:
    """How many of arrivals ``0 .. total-1`` worker ``index`` of ``nworkers`` takes."""
    return max(0, (total - index + nworkers - 1) // nworkers)


class Arrivals:
    """One worker's arrivals of a schedule, produced lazily."""

    __slots__ = ("_next_ns", "_offset", "_schedule", "_start_ns", "_step", "started", "total")

    def __init__(self, schedule: Schedule, start_ns: int, index: int, nworkers: int,
                 limit: int | None = None) -> None:
        total = schedule.total if limit is None else min(schedule.total, limit)
        self.total = share_of(total, index, nworkers)
        self.started = 0
        self._schedule = schedule
        self._start_ns = start_ns
        self._step, self._offset = nworkers, index
        self._next_ns = self._intended(0)

    def _intended(self, n: int) -> int:
        if n >= self.total:
            return -1
        t = self._schedule.time_of(n * self._step + self._offset)
        return self._start_ns + int(t * 1e9)

    @property
    def next_ns(self) -> int:
        """The intended time of the next arrival to start; -1 when all have started."""
        return self._next_ns

    def advance(self) -> None:
        self.started += 1
        self._next_ns = self._intended(self.started)

    @property
    def unstarted(self) -> int:
        return self.total - self.started


class OpenScheduler:
    """Starts every due arrival that ``start_one`` accepts; sleeps until the next one.

    ``start_one(intended_ns)`` returns False when it has no room (every connection busy):
    the arrival stays due, and the owner calls ``pump`` again when room frees up.
    ``on_all_started`` is called once, when the last arrival has started.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, arrivals: Arrivals,
                 start_one: Callable[[int], bool],
                 on_all_started: Callable[[], None] | None = None) -> None:
        self.arrivals = arrivals
        self._start_one = start_one
        self._on_all_started = on_all_started
        self._loop = loop
        self._timer = WakeTimer(loop, self.pump)
        self._polling = False  # a pump is queued with call_soon
        self.stopped = False
        self.lateness_ns: list[int] = []  # of each arrival started since the last take
        self.late = 0                  # started more than LATE_NS after their time, ditto

    def pump(self) -> None:
        if self.stopped:
            return
        arr = self.arrivals
        nxt = arr.next_ns
        now = _now()
        while 0 <= nxt <= now:
            if not self._start_one(nxt):
                return  # no room: a connection that frees up pumps again
            behind = now - nxt
            self.lateness_ns.append(behind)
            if behind > LATE_NS:
                self.late += 1
            arr.advance()
            nxt = arr.next_ns
            now = _now()
        if nxt < 0:
            self.stop()
            if self._on_all_started is not None:
                self._on_all_started()
        elif nxt - now > SPIN_NS:
            self._timer.arm(nxt - SPIN_NS)
        elif not self._polling:
            self._polling = True
            self._loop.call_soon(self._poll)

    def _poll(self) -> None:
        self._polling = False
        self.pump()

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self._timer.close()

    def take(self) -> tuple[array[int], int]:
        """(lateness of the arrivals started since the last call in ns, how many were late)."""
        lat, late = array("q", self.lateness_ns), self.late
        self.lateness_ns, self.late = [], 0
        return lat, late
