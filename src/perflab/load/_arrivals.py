"""The open model's one scheduler: arrivals produced one at a time, started on time.

A worker takes arrivals ``index, index + n, index + 2n ...`` of the schedule. Their intended
times are computed when they are needed, never stored ahead: whatever the rate, the scheduler
holds one number (the next arrival) and its memory does not grow. Arrivals that are due but
cannot start yet (every connection busy, ``--max-connections`` reached) are not queued either:
they are simply the arrivals between the cursor and now, and the next free connection takes the
oldest (``pump``). What never started by the end of the test is *dropped*.

Waking from an idle wait takes tens to hundreds of microseconds on a virtual machine (the
timer interrupt, the CPU leaving its idle state: the longer the sleep, the deeper the idle).
So the timer is armed a *lead* ahead, and the last stretch is spent polling: the scheduler
re-queues itself with ``call_soon`` until the arrival is due, which keeps the event loop
turning (its ``epoll_wait`` then does not block, responses are still read) rather than
blocking it in a busy loop. The lead is learnt from the timer's own wake-ups (it settles on
the delay that 3 wakes in 4 beat) and is at most half the time between two arrivals. A fixed
150 µs lead cost 14 % of a core at 1,000 arrivals/s and 87 % at 10,000/s; the learnt one
10 % and 40 %, with the median arrival started 2 µs after its time
(``benchmarks/bench_load_open_wake.py``).

The scheduler's own delay is measured for each arrival it starts (*lateness*: the time it
started minus its intended time), so that a generator falling behind shows as such and not as
the service's latency. An arrival started more than 1 ms after its time is *late*.
"""

from __future__ import annotations

import time
from array import array
from typing import TYPE_CHECKING

from perflab.load._messages import ns_array
from perflab.load._timer import WakeTimer

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from perflab.load._schedule import Schedule

_now = time.monotonic_ns
LATE_NS = 1_000_000  # started later than this after its intended time: counted as late
SPIN_NS = 150_000  # the first lead: wake this early, then poll (a VM wakes in ~50-200 µs)
MAX_LEAD_NS = 1_000_000  # a lead never grows past this (a millisecond timer, a stalled VM)
# the lead tracks this quantile of the timer's wake-up delays: up a step when a wake came
# later than the lead, down a third of a step when earlier (it settles where 3 in 4 are early)
LEAD_STEP_UP_NS = 3_000
LEAD_STEP_DOWN_NS = 1_000


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

    def due_by(self, t_ns: int) -> int:
        """How many of this worker's arrivals were due at ``t_ns`` (started or not): a test
        stopped early (Ctrl-C, --abort-on-fail) owed only those. Intended times only grow, so
        a binary search over the ones not started yet."""
        lo, hi = self.started, self.total  # the first arrival due after t_ns is in [lo, hi]
        while lo < hi:
            mid = (lo + hi) // 2
            if self._intended(mid) <= t_ns:
                lo = mid + 1
            else:
                hi = mid
        return lo


class OpenScheduler:
    """Starts every due arrival that ``start_one`` accepts; sleeps until the next one.

    ``start_one(intended_ns)`` returns False when it has no room (every connection busy):
    the arrival stays due, and the owner calls ``pump`` again when room frees up.
    ``on_all_started`` is called once, when the last arrival has started.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, arrivals: Arrivals,
                 start_one: Callable[[int], bool],
                 on_all_started: Callable[[], None] | None = None, *,
                 spin_ns: int | None = None) -> None:
        self.arrivals = arrivals
        # how early the timer is armed: fixed when given, else learnt from its wake-ups
        self.lead_ns = SPIN_NS if spin_ns is None else spin_ns
        self._adaptive = spin_ns is None
        self._armed_ns = 0
        self._prev_ns = arrivals.next_ns  # the intended time of the arrival started last
        self._start_one = start_one
        self._on_all_started = on_all_started
        self._loop = loop
        self._timer = WakeTimer(loop, self._woken)
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
            self._prev_ns = nxt
            nxt = arr.next_ns
            now = _now()
        lead = self.lead_ns
        if self._adaptive:
            # poll at most half of the time between two arrivals: at 10 k/s a lead of 150 µs
            # would poll all the time
            lead = min(lead, (nxt - self._prev_ns) // 2)
        if nxt < 0:
            self.stop()
            if self._on_all_started is not None:
                self._on_all_started()
        elif nxt - now > lead:
            self._armed_ns = nxt - lead
            self._timer.arm(self._armed_ns)
        elif not self._polling:
            self._polling = True
            self._loop.call_soon(self._poll)

    def _woken(self) -> None:
        if self._adaptive:
            # the timer's wake-up delay against the lead: a later wake means lead more, an
            # earlier one lead less (the lead settles on a quantile of it, see LEAD_STEP_*)
            if _now() - self._armed_ns > self.lead_ns:
                self.lead_ns = min(MAX_LEAD_NS, self.lead_ns + LEAD_STEP_UP_NS)
            else:
                self.lead_ns = max(0, self.lead_ns - LEAD_STEP_DOWN_NS)
        self.pump()

    def _poll(self) -> None:
        self._polling = False
        self.pump()

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self._timer.close()

    def take(self) -> tuple[array[int], int]:
        """(lateness of the arrivals started since the last call in ns, how many were late)."""
        lat, late = ns_array(self.lateness_ns), self.late
        self.lateness_ns, self.late = [], 0
        return lat, late
