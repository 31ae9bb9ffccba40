"""The demo's traced chain (frontend -> api -> store): starting it, its traffic, and the two
findings its traces show.

- **slow call**: the trace diff of the slowest 5 % of checkouts against those around the median
  names the operation that accounts for most of the difference on the critical path; found when
  one operation explains at least ``SLOW_SHARE_MIN`` of it.
- **error path**: among the checkouts that failed (RED's error rate), the error spans that have
  no failing child are where the errors start; found when one operation is the origin of most
  of them.
"""

from __future__ import annotations

import importlib.util
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from perflab.demo._contracts import DemoTraceDetails, DemoTraceFinding
from perflab.store import span_stats
from perflab.trace import (
    TraceQuery,
    ViewError,
    diff_document,
    diff_groups,
    find_traces,
    get_trace,
)
from perflab.units import format_duration_ns

if TYPE_CHECKING:
    from perflab.store import Store
    from perflab.trace import Trace

# The slow call is found when the operation that accounts for most of the slowest checkouts'
# extra critical-path time has at least a third of it. A half held on a quiet machine, but on a
# busy one every span of a slow checkout stretches a little, and the planted call was seen at
# 45 % there (still the largest share by far, the rest spread over a dozen spans).
SLOW_SHARE_MIN = 1 / 3
ENTRY = ("frontend", "GET /checkout")
EXPIRED_EVERY = 25  # one checkout in this many uses the expired coupon


def tracing_available() -> bool:
    """Whether the chain can be traced: the OTel SDK and its OTLP exporter are installed."""
    return all(importlib.util.find_spec(m) is not None for m in (
        "opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http"))


@dataclass(frozen=True)
class TraceFinding:
    kind: Literal["slow call", "error path"]
    detected: bool
    summary: str
    endpoint: str | None = "/checkout"
    details: DemoTraceDetails = field(default_factory=DemoTraceDetails)

    def to_json(self) -> DemoTraceFinding:
        return {"kind": self.kind, "detected": self.detected, "endpoint": self.endpoint,
                "summary": self.summary, **self.details}


class ChainTraffic:
    """Checkouts on the frontend, one after another, until stopped (loopback, bounded by the
    demo's duration); one in ``EXPIRED_EVERY`` uses the expired coupon."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sent = 0
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-chain-traffic",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)

    def _run(self) -> None:
        order = 0
        while not self._stop.is_set():
            order += 1
            coupon = "&coupon=EXPIRED" if order % EXPIRED_EVERY == 7 else \
                ("&coupon=SAVE5" if order % 3 == 0 else "")
            url = f"http://127.0.0.1:{self.port}/checkout?order={order}{coupon}"
            try:
                with urllib.request.urlopen(url, timeout=10):  # loopback
                    pass
            except urllib.error.HTTPError:
                self.failed += 1
            except OSError:
                self.failed += 1
                self._stop.wait(0.2)
            self.sent += 1
            self._stop.wait(0.25)  # light: the other phases measure the same machine


def wait_for_spans(store_path: Any, *, quiet_s: float = 1.0, timeout_s: float = 15.0) -> int:
    """Until the hub has written the chain's last spans (the count stops growing)."""
    from perflab.store import Store  # noqa: PLC0415

    deadline = time.monotonic() + timeout_s
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        with Store.open(store_path, create=False) as store:
            count = span_stats(store)[0]
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
        time.sleep(0.2)
    return last


def slow_call_finding(store: Store, start_ns: int, end_ns: int) -> TraceFinding:
    query = TraceQuery(service=ENTRY[0], operation=ENTRY[1], start_ns=start_ns, end_ns=end_ns)
    try:
        # the slowest 5 %: one checkout in SLOW_EVERY (20) misses the price cache
        doc = diff_document(store, {"slowest_pct": "5"}, query)
    except ViewError as exc:
        return TraceFinding("slow call", detected=False,
                            summary=f"no traces to compare the slowest checkouts with: "
                                    f"{exc.message}")
    blamed = _most_blamed(store, doc["a_traces"], doc["b_traces"])
    slow = len(doc["b_traces"])
    delta = doc["delta_ns"]
    if blamed is None:
        return TraceFinding("slow call", detected=False,
                            summary="no operations in the checkouts' traces",
                            details={"operation": None, "share": None, "delta_ns": delta,
                                     "slow_traces": doc["b_traces"]})
    top, votes = blamed
    name = top.name
    # behind most of the slowest checkouts, and a good share of their extra time
    detected = votes * 2 > slow and top.share is not None and top.share >= SLOW_SHARE_MIN
    summary = (f"the slowest 5 % of checkouts ({doc['b']['traces']} traces, "
               f"{format_duration_ns(doc['b']['latency_ns'])}) take "
               f"{format_duration_ns(abs(delta))} more than the median ones; {name} is behind "
               f"{votes} of them and accounts for {(top.share or 0) * 100:.0f} % of their "
               f"extra time on the critical path ({format_duration_ns(round(top.a_ns))} -> "
               f"{format_duration_ns(round(top.b_ns))})")
    return TraceFinding("slow call", detected=detected, summary=summary, details={
        "operation": name, "share": top.share, "delta_ns": delta,
        "slow_traces": doc["b_traces"]})


@dataclass(frozen=True)
class _Blamed:
    """An operation's critical-path time in the median checkouts and in slow ones."""

    name: str  # "service: operation"
    a_ns: float
    b_ns: float
    share: float | None  # of the slow ones' extra time


def _most_blamed(store: Store, median_ids: list[str], slow_ids: list[str]
                 ) -> tuple[_Blamed, int] | None:
    """The operation behind the most of the slowest checkouts, each compared on its own with
    the median ones: its difference over the checkouts it is behind, and how many they are.
    Summed over the whole group, one checkout that a busy machine stalled for a second
    (anywhere: a queue, a connection, a thread start) outweighs every planted 120 ms miss;
    counted one checkout at a time, it is one vote."""
    median = [t for t in (get_trace(store, bytes.fromhex(h)) for h in median_ids)
              if t is not None]
    by_op: dict[tuple[str, str], list[Trace]] = {}
    for h in slow_ids:
        trace = get_trace(store, bytes.fromhex(h))
        if trace is None or not median:
            continue
        ops = diff_groups(median, [trace]).ops
        if ops:
            worst = max(ops, key=lambda op: op.delta_ns)  # the most time added, not removed
            by_op.setdefault((worst.service, worst.operation), []).append(trace)
    if not by_op:
        return None
    key, traces = max(by_op.items(), key=lambda kv: len(kv[1]))
    op = next(op for op in diff_groups(median, traces).ops
              if (op.service, op.operation) == key)
    return _Blamed(f"{op.service}: {op.operation}", op.a_ns, op.b_ns, op.share), len(traces)


def _error_origins(trace: Trace) -> list[tuple[str, str, str]]:
    failing = [s for s in trace.spans if s.is_error]
    parents = {s.parent_id for s in failing}
    return [(s.service, s.name, s.status_message) for s in failing if s.span_id not in parents]


def error_path_finding(store: Store, start_ns: int, end_ns: int) -> TraceFinding:
    all_q = TraceQuery(service=ENTRY[0], operation=ENTRY[1], start_ns=start_ns,
                       end_ns=end_ns, limit=10_000)
    err_q = TraceQuery(service=ENTRY[0], operation=ENTRY[1], start_ns=start_ns,
                       end_ns=end_ns, limit=200, tags={"error": "true"})
    total = len(find_traces(store, all_q, span_limit=1))
    failed = find_traces(store, err_q)
    origins: dict[tuple[str, str], int] = {}
    message = ""
    for t in failed:
        for service, name, msg in _error_origins(t):
            origins[(service, name)] = origins.get((service, name), 0) + 1
            message = message or msg
    if not failed or not origins:
        return TraceFinding("error path", detected=False,
                            summary=f"no failed checkouts in {total} traces")
    (service, name), n = max(origins.items(), key=lambda kv: kv[1])
    up = sorted({s.service for t in failed for s in t.spans if s.is_error} - {service})
    summary = (f"{len(failed)} of {total} checkouts failed ({100 * len(failed) / total:.1f} %); "
               f"the errors start in {service}: {name} ({message or 'no message'})"
               + (f" and propagate up through {', '.join(up)}" if up else ""))
    return TraceFinding("error path", detected=n * 2 > len(failed), summary=summary, details={
        "operation": f"{service}: {name}", "failed": len(failed), "traces": total,
        "example": failed[0].trace_id.hex()})
