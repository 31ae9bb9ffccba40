"""A toxic's duration is a deadline on the monotonic clock: a loop timer that fires early (uvloop's
keep whole milliseconds) leaves the toxic in place and waits for what is left, so a toxic lasts
at least its duration and its band on the timeline at least as long."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from perflab.chaos._proxy import Proxy


class ManualLoop:
    """The loop calls a Proxy makes, run by hand: soon at once, later when the test says."""

    def __init__(self) -> None:
        self.timers: list[tuple[float, Any, tuple[Any, ...]]] = []

    def call_soon_threadsafe(self, callback: Any, *args: Any) -> None:
        callback(*args)

    def call_later(self, delay: float, callback: Any, *args: Any) -> Any:
        self.timers.append((delay, callback, args))
        return self

    def cancel(self) -> None:  # the TimerHandle's
        pass

    def fire(self) -> float:
        delay, callback, args = self.timers.pop(0)
        callback(*args)
        return delay


def test_a_timer_that_fires_early_waits_for_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("perflab.chaos._proxy.time", SimpleNamespace(monotonic=lambda: clock[0]))
    loop = ManualLoop()
    proxy = Proxy("p", "127.0.0.1:1", "127.0.0.1:2", loop=loop)  # type: ignore[arg-type]  # the calls it makes
    proxy.add_toxic({"type": "latency", "name": "slow", "duration": "2s"})
    assert [t[0] for t in loop.timers] == [2.0]

    clock[0] += 2.0 - 0.001  # the timer fires a millisecond early
    loop.fire()
    assert [t.name for t in proxy.chains["downstream"]] == ["slow"]
    (rest,) = loop.timers
    assert rest[0] == pytest.approx(0.001)

    clock[0] += 0.001
    loop.fire()
    assert proxy.chains["downstream"] == []
    assert loop.timers == []


def test_a_new_duration_is_a_new_deadline_and_the_old_timer_does_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [50.0]
    monkeypatch.setattr("perflab.chaos._proxy.time", SimpleNamespace(monotonic=lambda: clock[0]))
    loop = ManualLoop()
    proxy = Proxy("p", "127.0.0.1:1", "127.0.0.1:2", loop=loop)  # type: ignore[arg-type]  # as above
    proxy.add_toxic({"type": "latency", "name": "slow", "duration": "1s"})
    clock[0] += 0.5
    proxy.update_toxic("slow", {"duration": "10s"})
    clock[0] += 0.5
    loop.fire()  # the first clock's timer: no longer the toxic's
    assert [t.name for t in proxy.chains["downstream"]] == ["slow"]
    (new,) = loop.timers
    assert new[0] == 10.0
    clock[0] += 9.5
    loop.fire()
    assert proxy.chains["downstream"] == []
