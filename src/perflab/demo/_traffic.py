"""A small built-in traffic driver for the demo: a few threads with keep-alive connections.

It is deliberately simple (latency is measured from the actual send, so a stalled server is
under-reported in paced streams — the coordinated-omission problem) and bounded: loopback only,
a duration, a request cap and a per-request timeout. The real load engine (``perflab load``)
will replace it; everything the demo needs from a driver is ``drive()`` and ``per_second()``.
"""

from __future__ import annotations

import http.client
import itertools
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

NS = 1_000_000_000
QUANTILES = (0.5, 0.9, 0.99)


@dataclass(frozen=True, slots=True)
class Stream:
    """One kind of request sent by ``concurrency`` workers.

    ``path`` may hold ``{n}``, replaced by a sequence number unique within the stream (cache
    keys), or taken modulo ``key_space`` when that is set (a working set of that size).
    ``rate`` is the target of requests per second over all workers; ``None`` sends back to
    back (a closed model: each worker waits for its answer, then sends again).
    """

    endpoint: str
    path: str
    concurrency: int
    rate: float | None = None
    key_space: int | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """One request as measured by the client."""

    endpoint: str
    start_ns: int
    latency_s: float
    ok: bool


@dataclass(frozen=True, slots=True)
class Bucket:
    """The requests of one endpoint that started in one interval (at most a second)."""

    endpoint: str
    start_ns: int
    end_ns: int
    count: int
    errors: int
    latency_ms: dict[float, float]  # quantile -> ms; empty when no request succeeded
    concurrency: int

    @property
    def rps(self) -> float:
        return self.count / max((self.end_ns - self.start_ns) / NS, 1e-9)

    @property
    def errors_per_s(self) -> float:
        return self.errors / max((self.end_ns - self.start_ns) / NS, 1e-9)


def drive(host: str, port: int, streams: Sequence[Stream], duration_s: float, *,
          stop: threading.Event, max_requests: int = 50_000,
          timeout_s: float = 5.0) -> list[Request]:
    """Send the streams at ``host:port`` for ``duration_s``; every request, in no set order.

    Returns early when ``stop`` is set. ``max_requests`` caps each stream.
    """
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the demo's traffic driver only talks to loopback")
    deadline = time.monotonic() + duration_s
    results: list[list[Request]] = []
    threads = []
    for stream in streams:
        counter = itertools.count()
        budget = _Budget(max_requests)
        interval = stream.concurrency / stream.rate if stream.rate else 0.0
        for w in range(stream.concurrency):
            out: list[Request] = []
            results.append(out)
            worker = _Worker(host, port, stream, counter=counter, budget=budget, out=out,
                             deadline=deadline, stop=stop, interval_s=interval,
                             # stagger paced workers so they do not send in lockstep
                             offset_s=interval * w / stream.concurrency, timeout_s=timeout_s)
            threads.append(threading.Thread(target=worker.run, daemon=True,
                                            name=f"demo-load-{stream.endpoint}-{w}"))
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join()
    finally:
        # On Ctrl-C in the main thread: tell the workers, and wait for them (each is bounded by
        # its request timeout) so that nothing keeps talking to a service being stopped.
        if any(t.is_alive() for t in threads):
            stop.set()
        for t in threads:
            t.join(timeout_s + 1.0)
    return [r for out in results for r in out]


class _Budget:
    """A shared request cap for the workers of one stream."""

    def __init__(self, n: int) -> None:
        self._left = n
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self._left <= 0:
                return False
            self._left -= 1
            return True


class _Worker:
    def __init__(self, host: str, port: int, stream: Stream, *, counter: Iterator[int],
                 budget: _Budget, out: list[Request], deadline: float, stop: threading.Event,
                 interval_s: float, offset_s: float, timeout_s: float) -> None:
        self.host, self.port, self.stream = host, port, stream
        self.counter, self.budget, self.out = counter, budget, out
        self.deadline, self.stop = deadline, stop
        self.interval_s, self.offset_s, self.timeout_s = interval_s, offset_s, timeout_s

    def run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        next_send = time.monotonic() + self.offset_s
        try:
            while not self.stop.is_set() and self.budget.take():
                if self.interval_s:
                    delay = next_send - time.monotonic()
                    if delay > 0 and self.stop.wait(delay):
                        break
                    # a late worker does not burst to catch up: the schedule restarts from now
                    next_send = max(next_send + self.interval_s, time.monotonic())
                if time.monotonic() >= self.deadline:
                    break
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port,
                                                      timeout=self.timeout_s)
                conn = self._one(conn)
        finally:
            if conn is not None:
                conn.close()

    def _one(self, conn: http.client.HTTPConnection) -> http.client.HTTPConnection | None:
        n = next(self.counter)
        if self.stream.key_space:
            n %= self.stream.key_space
        path = self.stream.path.replace("{n}", str(n))
        start_ns = time.time_ns()
        t0 = time.perf_counter()
        ok = False
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            ok = resp.status < 400
        except (OSError, http.client.HTTPException):
            conn.close()
            conn_out: http.client.HTTPConnection | None = None
        else:
            conn_out = conn
            if resp.will_close:
                conn.close()
                conn_out = None
        self.out.append(Request(self.stream.endpoint, start_ns, time.perf_counter() - t0, ok))
        return conn_out


def per_second(requests: Sequence[Request], start_ns: int, end_ns: int,
               concurrency: dict[str, int], endpoints: Iterable[str] = ()) -> list[Bucket]:
    """Per-endpoint buckets of one second from ``start_ns`` (the last one may be shorter).

    Requests are assigned by start time, so the buckets of a step hold exactly its requests.
    Every endpoint of ``concurrency`` and ``endpoints`` gets a bucket for every second, empty or
    not: a second without requests is a measured zero (a stalled service, or an endpoint not
    driven in this step), not a gap for a chart to draw a line across.
    """
    n_buckets = max(1, -(-(end_ns - start_ns) // NS))  # ceil: a short last bucket counts
    by_key: dict[tuple[str, int], list[Request]] = {
        (e, i): [] for e in {*concurrency, *endpoints} for i in range(n_buckets)
    }
    for r in requests:
        i = max(0, min((r.start_ns - start_ns) // NS, n_buckets - 1))
        by_key.setdefault((r.endpoint, i), []).append(r)
    out = []
    for (endpoint, i), rs in sorted(by_key.items()):
        b_start = start_ns + i * NS
        b_end = min(b_start + NS, end_ns)
        good = np.array([r.latency_s for r in rs if r.ok]) * 1e3
        lat = ({q: float(np.quantile(good, q)) for q in QUANTILES} if good.size else {})
        out.append(Bucket(endpoint, b_start, b_end, len(rs), sum(not r.ok for r in rs), lat,
                          concurrency.get(endpoint, 0)))
    return out
