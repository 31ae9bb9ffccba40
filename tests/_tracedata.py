"""A store of traces for the tracing browser tests and benchmarks: the demo's chain (frontend ->
api -> store) with slow and failing ones, a broken trace, a clock-skewed one, a call into a
service that sends no spans, hostile names, and one trace of many spans."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from perflab.store import Store
from perflab.trace import Process, Span, SpanEvent, SpanSink

MS = 1_000_000
HOSTILE = '<img src=x onerror="window.pwned=1">\u2028</script><!--<script>'


@dataclass
class TraceStore:
    path: Path
    t0: int
    slow: str  # trace ids (hex)
    error: str
    skewed: str
    broken: str
    big: str
    hostile: str
    normal: str


def _p(service: str) -> Process:
    return Process(service, {"service.name": service, "host.name": "lab"}, "tests", "1")


PROCS = {s: _p(s) for s in ("frontend", "api", "store", HOSTILE)}


def chain(n: int, t: int, *, slow_ms: float = 0, error: bool = False) -> list[Span]:
    tid = n.to_bytes(16, "big")

    def sid(k: int) -> bytes:
        return (n * 100 + k).to_bytes(8, "big")

    def s(k: int, parent: int | None, service: str, name: str,  # noqa: PLR0917  # a row
          start: float, dur: float,
          kind: int = 2, status: int = 0, attrs: dict | None = None) -> Span:
        return Span(tid, sid(k), None if parent is None else sid(parent), name, kind,
                    t + int(start * MS), int(dur * MS), PROCS[service], status,
                    "timeout" if status == 2 else "", attrs or {},
                    (SpanEvent(t + int((start + 1) * MS), "cache miss", {"key": "items"}),)
                    if k == 5 else ())

    err = 2 if error else 0
    return [
        s(1, None, "frontend", "GET /", 0, 40 + slow_ms, status=err,
          attrs={"http.route": "/", "http.response.status_code": 500 if error else 200}),
        s(2, 1, "frontend", "GET api", 2, 35 + slow_ms, kind=3, attrs={"server.address": "api"}),
        s(3, 2, "api", "GET /items", 3, 33 + slow_ms, status=err),
        s(4, 3, "api", "SELECT", 5, 10, kind=3),
        s(5, 4, "store", "SELECT items", 6, 8),
        s(6, 3, "api", "SELECT", 16, 12 + slow_ms, kind=3),
        s(7, 6, "store", "SELECT items", 17, 10 + slow_ms),
    ]


def big_trace(n: int, t: int, spans: int) -> list[Span]:
    """One request fanning out into ``spans`` spans, three levels deep."""
    tid = n.to_bytes(16, "big")
    out = [Span(tid, (1).to_bytes(8, "big"), None, "batch", 2, t, 900 * MS, PROCS["api"])]
    for i in range(2, spans + 1):
        parent = 1 if i < 50 else 2 + (i % 48)
        start = t + (i % 800) * MS
        out.append(Span(tid, i.to_bytes(8, "big"), parent.to_bytes(8, "big"), f"item {i % 13}",
                        1, start, (5 + i % 40) * MS, PROCS["store" if i % 2 else "api"]))
    return out


def build(path: Path, *, traces: int = 300, big_spans: int = 10_000) -> TraceStore:
    t0 = time.time_ns() - 20 * 60 * 10**9  # 20 minutes ago: inside the pages' default windows
    spans: list[Span] = []
    for i in range(1, traces + 1):
        spans += chain(i, t0 + i * 3 * 10**9, slow_ms=400 if i % 100 == 50 else (i % 5) * 2,
                       error=i % 60 == 7)
    n = traces
    skew = chain(n + 1, t0 + 10**9)
    skew[4] = Span(skew[4].trace_id, skew[4].span_id, skew[4].parent_id, "SELECT items", 2,
                   skew[3].start_ns - 30 * MS, 8 * MS, PROCS["store"])  # its host's clock lags
    broken = [s for s in chain(n + 2, t0 + 2 * 10**9) if s.name != "GET /items"]
    uninstrumented = [Span((n + 3).to_bytes(16, "big"), b"\0" * 7 + b"\1", None, "GET /pay", 2,
                           t0 + 4 * 10**9, 60 * MS, PROCS["frontend"]),
                      Span((n + 3).to_bytes(16, "big"), b"\0" * 7 + b"\2", b"\0" * 7 + b"\1",
                           "POST /charge", 3, t0 + 4 * 10**9 + 5 * MS, 50 * MS,
                           PROCS["frontend"], attrs={"server.address": "payments.internal"})]
    hostile = [Span((n + 4).to_bytes(16, "big"), b"\0" * 7 + b"\7", None, HOSTILE, 2,
                    t0 + 5 * 10**9, 5 * MS, PROCS[HOSTILE], attrs={HOSTILE: HOSTILE})]
    spans += skew + broken + uninstrumented + hostile
    spans += big_trace(n + 5, t0 + 6 * 10**9, big_spans)
    with Store.open(path) as store:
        sink = SpanSink()
        for i in range(0, len(spans), 20_000):
            batch = spans[i:i + 20_000]
            with store.transaction():
                sink.write(store, batch)
            sink.committed(batch)
    return TraceStore(path, t0, f"{50:032x}", f"{7:032x}", f"{n + 1:032x}", f"{n + 2:032x}",
                      f"{n + 5:032x}", f"{n + 4:032x}", f"{10:032x}")
