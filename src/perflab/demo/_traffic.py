"""The demo's traffic, driven by the load engine (``perflab.load``): one load test per stream.

A step of a phase sends several streams at once (``/work`` and ``/hash`` side by side): each is
its own test (``perflab.load.execute``) in its own thread, all recorded into the demo's run
with ``{endpoint}`` labels, so the run holds ``load.rps{endpoint="/work"}``,
``load.latency_ms{endpoint,quantile}``, ``load.connections{endpoint}`` ... per second, and one
HDR histogram and summary per stream and step (the report's load section merges them per
endpoint). Paced streams are the open model: their latency counts from each request's intended
send time, so a stalled service is not hidden (no coordinated omission).

Bounded like any perflab traffic: loopback only, the step's duration, a request cap per stream
and a per-request timeout. ``stop`` (Ctrl-C, the service dying) ends every test within about a
second; what was measured is kept.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from perflab.load import RunOptions, execute
from perflab.store import Store

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

MAX_REQUESTS = 50_000  # per stream and step
TIMEOUT_S = 5.0
_JOIN_POLL_S = 0.2


@dataclass(frozen=True, slots=True)
class Stream:
    """One kind of request at one endpoint.

    ``path`` may hold ``{n}``, replaced by a sequence number per request (cache keys), taken
    modulo ``key_space`` when that is set (a working set of that size). ``rate`` (requests per
    second) selects the open model with up to ``concurrency`` connections; ``None`` sends back
    to back on ``concurrency`` connections (the closed model). ``thresholds`` are the load
    engine's (``p99<25ms``), judged on this stream's test.
    """

    endpoint: str
    path: str
    concurrency: int
    rate: float | None = None
    key_space: int | None = None
    thresholds: tuple[str, ...] = ()


def options(port: int, stream: Stream, duration_s: float, *, run_id: int,
            name: str) -> RunOptions:
    """The load test of one stream, recorded into the demo's run."""
    return RunOptions(
        url=f"http://127.0.0.1:{port}{stream.path}",
        connections=stream.concurrency,
        max_connections=stream.concurrency if stream.rate else None,
        rate=None if stream.rate is None else f"{stream.rate:g}",
        duration_s=duration_s, requests=MAX_REQUESTS, timeout_s=TIMEOUT_S, workers=1,
        thresholds=stream.thresholds, into_run=run_id,
        labels=(("endpoint", stream.endpoint),), key_space=stream.key_space, name=name,
        live=False, as_json=True,
    )


def drive(store_path: Path, run_id: int, port: int, streams: Sequence[Stream],
          duration_s: float, *, name: str, stop: threading.Event) -> None:
    """Run the streams side by side for ``duration_s``; raise the first error any of them met.

    Each test has its own store connection (SQLite connections stay in their thread). On
    Ctrl-C in the calling thread, ``stop`` is set and the tests are waited for, so nothing
    keeps talking to a service being stopped.
    """
    errors: list[BaseException] = []

    def one(stream: Stream) -> None:
        try:
            with Store.open(store_path) as store:
                execute(options(port, stream, duration_s, run_id=run_id, name=name),
                        store=store, stop=stop)
        except BaseException as exc:  # handed to the calling thread below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(s,), name=f"demo-load-{s.endpoint}",
                                daemon=True) for s in streams]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(_JOIN_POLL_S)
    finally:
        if any(t.is_alive() for t in threads):  # interrupted: stop the tests, keep what they
            stop.set()                          # measured, and wait for them to end
            for t in threads:
                t.join()
    if errors:
        raise errors[0]
