"""The demo's traced chain (frontend -> api -> store): starting it, its traffic, and the two
findings its traces show.

- **slow call**: each of the slowest 5 % of checkouts diffed against those around the median;
  the operation that adds the most to the typical one (the median over them) on the critical
  path is named; found when it explains at least ``SLOW_SHARE_MIN`` of its extra time.
- **error path**: among the checkouts that failed (RED's error rate), the error spans that have
  no failing child are where the errors start; found when one operation is the origin of most
  of them.
"""

from __future__ import annotations

import importlib.util
import statistics
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
SLOWEST_PCT = 5  # the slow group: one checkout in 20 misses the price cache
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
        # one checkout in SLOW_EVERY (10) misses the price cache: half of them are the slowest 5 %
        doc = diff_document(store, {"slowest_pct": str(SLOWEST_PCT)}, query)
    except ViewError as exc:
        return TraceFinding("slow call", detected=False,
                            summary=f"no traces to compare the slowest checkouts with: "
                                    f"{exc.message}")
    top = _typical_excess(store, doc["a_traces"], doc["b_traces"])
    delta = doc["delta_ns"]
    if top is None:
        return TraceFinding("slow call", detected=False,
                            summary="no operations in the checkouts' traces",
                            details={"operation": None, "share": None, "delta_ns": delta,
                                     "slow_traces": doc["b_traces"]})
    detected = top.share is not None and top.share >= SLOW_SHARE_MIN
    summary = (f"the slowest {SLOWEST_PCT} % of checkouts ({doc['b']['traces']} traces, "
               f"{format_duration_ns(doc['b']['latency_ns'])}) take "
               f"{format_duration_ns(abs(delta))} more than the median ones; {top.name} adds "
               f"the most to the typical one (+{format_duration_ns(round(top.excess_ns))}) "
               f"and {(top.share or 0) * 100:.0f} % of the extra time on the critical path "
               f"of those it slows the most")
    return TraceFinding("slow call", detected=detected, summary=summary, details={
        "operation": top.name, "share": top.share, "delta_ns": delta,
        "slow_traces": doc["b_traces"]})


@dataclass(frozen=True)
class _Excess:
    """An operation's extra critical-path time in the typical slow checkout."""

    name: str  # "service: operation"
    excess_ns: float  # the median, over the slow checkouts, of its extra time in each
    share: float | None  # of the extra latency of the slow checkouts it adds the most to


def _typical_excess(store: Store, median_ids: list[str], slow_ids: list[str]) -> _Excess | None:
    """The operation that adds the most to the typical slow checkout: each slow one diffed on
    its own against the median ones, and per operation the median of what it adds. A mean
    over the group lets one checkout that a busy machine stalled for a second (anywhere: a
    queue, a connection, a thread start) outweigh every planted miss; the median does
    not, while the misses are most of the group."""
    median = [t for t in (get_trace(store, bytes.fromhex(h)) for h in median_ids)
              if t is not None]
    slow = [t for t in (get_trace(store, bytes.fromhex(h)) for h in slow_ids)
            if t is not None]
    if not median or not slow:
        return None
    diffs = [diff_groups(median, [t]) for t in slow]
    excess: dict[tuple[str, str], list[float]] = {}
    for i, d in enumerate(diffs):
        for op in d.ops:
            excess.setdefault((op.service, op.operation), [0.0] * len(diffs))[i] = op.delta_ns
    if not excess:
        return None
    (service, operation), values = max(excess.items(),
                                       key=lambda kv: statistics.median(kv[1]))
    # its share: of the extra time of the slow checkouts it adds the most to
    worst = [max(((op.service, op.operation, op.delta_ns) for op in d.ops),
                 key=lambda o: o[2], default=None) for d in diffs]
    behind = [i for i, w in enumerate(worst) if w is not None and w[:2] == (service, operation)]
    extra = sum(diffs[i].b_latency_ns - diffs[i].a_latency_ns for i in behind)
    return _Excess(f"{service}: {operation}", statistics.median(values),
                   sum(values[i] for i in behind) / extra if extra > 0 else None)


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
