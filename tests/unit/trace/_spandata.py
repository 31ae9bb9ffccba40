"""Spans for the tracing tests, written straight into a store (no receiver in between)."""

from __future__ import annotations

from perflab.store import Store
from perflab.trace import Process, Span, SpanEvent, SpanSink
from perflab.trace._red import RedAggregator

T0 = 1_700_000_000_000_000_000  # ns
MS = 1_000_000

_PROCESSES: dict[str, Process] = {}


def proc(service: str) -> Process:
    if service not in _PROCESSES:
        _PROCESSES[service] = Process(service, {"service.name": service, "host.name": "lab"},
                                      "tests", "1")
    return _PROCESSES[service]


def tid(n: int) -> bytes:
    return n.to_bytes(16, "big")


def sid(n: int) -> bytes:
    return n.to_bytes(8, "big")


def span(  # noqa: PLR0917  # a span reads best as one positional row
        trace: int, span_id: int, parent: int | None, service: str, name: str,
        start_ms: float, dur_ms: float, *, kind: int = 2, status: int = 0,
        attrs: dict | None = None, events: tuple[SpanEvent, ...] = ()) -> Span:
    return Span(tid(trace), sid(span_id), None if parent is None else sid(parent), name, kind,
                T0 + int(start_ms * MS), int(dur_ms * MS), proc(service), status,
                "failed" if status == 2 else "", attrs or {}, events)


def demo_trace(trace: int, *, slow_ms: float = 0.0, error: bool = False,
               start_ms: float = 0.0) -> list[Span]:
    """frontend GET / -> api GET /items -> store SELECT (twice), like the demo's chain."""
    base = trace * 100
    s = start_ms
    return [
        span(trace, base + 1, None, "frontend", "GET /", s, 40 + slow_ms,
             attrs={"http.route": "/", "http.response.status_code": 500 if error else 200},
             status=2 if error else 0),
        span(trace, base + 2, base + 1, "frontend", "GET api", s + 2, 35 + slow_ms, kind=3,
             attrs={"server.address": "api"}),
        span(trace, base + 3, base + 2, "api", "GET /items", s + 3, 33 + slow_ms,
             attrs={"http.route": "/items"}, status=2 if error else 0),
        span(trace, base + 4, base + 3, "api", "SELECT", s + 5, 10, kind=3),
        span(trace, base + 5, base + 4, "store", "SELECT items", s + 6, 8),
        span(trace, base + 6, base + 3, "api", "SELECT", s + 16, 12 + slow_ms, kind=3),
        span(trace, base + 7, base + 6, "store", "SELECT items", s + 17, 10 + slow_ms),
    ]


def write(store: Store, spans: list[Span], *, red: RedAggregator | None = None) -> None:
    sink = SpanSink(red=red or RedAggregator())
    with store.transaction():
        sink.write(store, spans)
    sink.committed(spans)
