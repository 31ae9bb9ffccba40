"""The open model's scheduler on a fake clock: how early it arms its timer (the lead it learns
from the timer's wake-ups, at most half the gap between arrivals) and what it starts."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
import uvloop

from perflab.load import _arrivals
from perflab.load._arrivals import SPIN_NS, Arrivals, OpenScheduler
from perflab.load._schedule import Schedule

US = 1_000


class Clock:
    def __init__(self) -> None:
        self.ns = 10**12
        self.loop = uvloop.new_event_loop()  # the scheduler's polls are queued on it, never run

    def __call__(self) -> int:
        return self.ns


class FakeTimer:
    def __init__(self) -> None:
        self.armed: list[int] = []

    def arm(self, when_ns: int) -> None:
        self.armed.append(when_ns)

    def close(self) -> None:
        pass


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    c = Clock()
    monkeypatch.setattr(_arrivals, "_now", c)
    yield c
    c.loop.close()


def scheduler(clock: Clock, rate: float, **kw: Any) -> tuple[OpenScheduler, FakeTimer, list]:
    loop = clock.loop
    started: list[int] = []
    arrivals = Arrivals(Schedule.constant(rate, 100), clock.ns, 0, 1)

    def start(ns: int) -> bool:
        started.append(ns)
        return True

    sched = OpenScheduler(loop, arrivals, start, **kw)
    timer = FakeTimer()
    sched._timer.close()  # the real timerfd is replaced by a recording one
    sched._timer = timer  # type: ignore[assignment]
    return sched, timer, started


def test_the_lead_settles_where_three_wakes_in_four_come_earlier(clock):
    """Wake-ups 40-80 µs late (a VM leaving idle): the lead moves from 150 µs to about the
    70 µs that 75 % of them beat, so most arrivals start on time and the poll before them is
    short."""
    sched, timer, started = scheduler(clock, rate=1000)
    assert sched.lead_ns == SPIN_NS
    rng = random.Random(12)
    for _ in range(2000):
        sched.pump()
        clock.ns = timer.armed[-1] + rng.randrange(40 * US, 80 * US)  # the timer fires late
        sched._woken()  # what the timerfd calls
        clock.ns = max(clock.ns, sched.arrivals.next_ns)  # the poll runs until it is due
    assert 60 * US <= sched.lead_ns <= 80 * US
    assert len(started) >= 1999


def test_the_timer_is_armed_at_most_half_the_gap_early(clock):
    """At 10,000 arrivals/s (100 µs apart) a 150 µs lead would poll without end: the timer is
    armed 50 µs before each arrival instead."""
    sched, timer, started = scheduler(clock, rate=10_000)
    clock.ns = sched.arrivals.next_ns
    sched.pump()
    assert started == [clock.ns]
    assert timer.armed == [sched.arrivals.next_ns - 50 * US]


def test_a_fixed_lead_is_kept(clock):
    sched, timer, _ = scheduler(clock, rate=1000, spin_ns=150 * US)
    for _ in range(50):
        sched.pump()
        clock.ns = timer.armed[-1] + 500 * US  # always late: a learnt lead would grow
        sched._woken()
    assert sched.lead_ns == 150 * US


@pytest.mark.parametrize(("index", "workers"), [(0, 1), (1, 3)])
def test_arrivals_due_by_a_moment_are_those_scheduled_up_to_it(index, workers):
    """A test stopped early owes only the arrivals due by the stop: counted by their intended
    times, whatever was started."""
    arrivals = Arrivals(Schedule.constant(100, 10), 0, index, workers)  # 1,000 in 10 s
    times = [arrivals._intended(n) for n in range(arrivals.total)]
    for t_ns in (0, 1, 2_500_000_000, 9_999_999_999, 10**12):
        assert arrivals.due_by(t_ns) == sum(t <= t_ns for t in times)
    for _ in range(50):
        arrivals.advance()
    assert arrivals.due_by(0) == 50  # never fewer than were started
