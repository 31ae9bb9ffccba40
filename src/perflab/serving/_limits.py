"""Bounded concurrency: at most N requests at work, M more waiting, the rest answered 429.

Waiting is first come, first served. The waiters are futures of the running loop, created
when needed, so one limiter works across event loops (a test client starts one per session).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator

from perflab.serving._refusals import TooManyRequests


class ConcurrencyLimiter:
    def __init__(self, max_active: int, max_waiting: int = 0, *, what: str = "requests") -> None:
        if max_active < 1 or max_waiting < 0:
            raise ValueError("max_active must be >= 1 and max_waiting >= 0")
        self.max_active = max_active
        self.max_waiting = max_waiting
        self.what = what
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Holds one of the ``max_active`` slots; ``TooManyRequests`` when they and the
        waiting places are all taken."""
        if self.active >= self.max_active or self._waiters:
            if len(self._waiters) >= self.max_waiting:
                raise TooManyRequests(
                    f"too many {self.what} at once ({self.max_active} at work, "
                    f"{self.max_waiting} waiting): retry in a moment")
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter  # release() handed its slot over to us
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._release()  # handed a slot just as we were cancelled: pass it on
                else:
                    self._waiters.remove(waiter)
                raise
        else:
            self.active += 1
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes on: ``active`` stays the same
                return
        self.active -= 1
