"""RED (rate, errors, duration) per service and operation, from spans as they arrive, stored as
series of the runs being recorded, so they sit on the Run page's timeline.

Two families of series:

- the OTel Collector spanmetrics connector's, as its Prometheus exporter names them (namespace
  ``traces.span.metrics``, histogram unit ``ms``, the connector's default buckets), so PromQL's
  ``histogram_quantile`` and Jaeger's Monitor tab queries work on them unchanged:
  ``traces_span_metrics_calls_total`` and ``traces_span_metrics_duration_milliseconds_bucket``
  / ``_sum`` / ``_count`` with the labels ``service_name``, ``span_name``, ``span_kind``,
  ``status_code`` (and ``le``). They are cumulative from the hub's start, as the connector's
  are (a restart is a counter reset, which ``rate()`` expects);
- ``trace.requests_per_s``, ``trace.errors_per_s`` and ``trace.duration_p50_ms`` / ``p95`` /
  ``p99`` per (service, operation, kind) over each interval: what a person reads on the
  timeline (percentiles exact, by perflab's nearest rank).

The aggregator counts only what was committed (``committed``, called by the ingest queue after
each commit), so a write that failed and is retried is never counted twice. At most
``MAX_KEYS`` label sets are kept; spans beyond fall into one ``otel.metric.overflow`` set, as
the connector's cardinality limit does (a flood of unique span names must not make a flood of
series).
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from perflab.store import nearest_rank
from perflab.trace._model import KIND_ENUM, KIND_NAMES, STATUS_ENUM, STATUS_ERROR

if TYPE_CHECKING:
    from perflab.store import Store
    from perflab.trace._model import Span

CALLS = "traces_span_metrics_calls_total"
DURATION = "traces_span_metrics_duration_milliseconds"
BUCKETS_MS = (2.0, 4.0, 6.0, 8.0, 10.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1000.0, 1400.0,
              2000.0, 5000.0, 10000.0, 15000.0)
LE = (*(f"{b:g}" for b in BUCKETS_MS), "+Inf")
_BUCKETS_NS = tuple(int(b * 1_000_000) for b in BUCKETS_MS)
MAX_KEYS = 1000
OVERFLOW = "otel.metric.overflow"
INTERVAL_S = 5.0
_MAX_SAMPLES = 10_000  # durations kept per key and interval for the percentiles


@dataclass
class _Cumulative:
    calls: int = 0
    sum_ms: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS_MS) + 1))


@dataclass
class _Interval:
    calls: int = 0
    errors: int = 0
    durations_ms: list[float] = field(default_factory=list)


Key = tuple[str, str, int, int]  # service, span name, kind, status


class RedAggregator:
    def __init__(self, *, interval_s: float = INTERVAL_S, max_keys: int = MAX_KEYS,
                 clock: Callable[[], int] = time.time_ns) -> None:
        self.interval_ns = int(interval_s * 1e9)
        self.max_keys = max_keys
        self._clock = clock
        self._totals: dict[Key, _Cumulative] = {}
        self._interval: dict[tuple[str, str, int], _Interval] = {}
        self._interval_start = clock()
        self._flushed_at = self._interval_start
        self._pending_flush: int | None = None
        self._series: dict[tuple[int, str, str], int] = {}  # (run, name, labels) -> id
        self._pending_series: dict[tuple[int, str, str], int] = {}
        self.overflowed = 0

    # -- counting (after commit) ---------------------------------------------------------------

    def committed(self, spans: list[Span]) -> None:
        # the flush written in this transaction (from what was committed before) is in: a new
        # interval starts, and these spans belong to it
        if self._pending_flush is not None:
            self._interval = {}
            self._interval_start = self._pending_flush
            self._flushed_at = self._pending_flush
            self._pending_flush = None
            self._series.update(self._pending_series)
            self._pending_series = {}
        # a batch's spans grouped by label set first (a tuple and a list append a span), then
        # counted a group at a time: the key lookups, the overflow check and the interval's
        # bookkeeping once a group rather than once a span (RED was ~9 % of ingest)
        groups: dict[Key, list[int]] = {}
        for s in spans:
            key: Key = (s.process.service, s.name, s.kind, s.status)
            durations = groups.get(key)
            if durations is None:
                groups[key] = [s.duration_ns]
            else:
                durations.append(s.duration_ns)
        for key, durations in groups.items():
            self._count(key, durations)

    def _count(self, key: Key, durations_ns: list[int]) -> None:
        totals = self._totals
        cum = totals.get(key)
        if cum is None:
            if len(totals) >= self.max_keys:
                self.overflowed += len(durations_ns)
                key = (key[0], OVERFLOW, key[2], key[3])
                cum = totals.get(key)
            if cum is None:
                cum = totals[key] = _Cumulative()
        ms = [d / 1e6 for d in durations_ns]
        cum.calls += len(ms)
        cum.sum_ms += math.fsum(ms)
        buckets = cum.buckets
        for d in durations_ns:  # d / 1e6 <= b exactly when d <= b * 1e6 (integers, exact)
            buckets[bisect_left(_BUCKETS_NS, d)] += 1
        ikey = (key[0], key[1], key[2])
        it = self._interval.get(ikey)
        if it is None:
            it = self._interval[ikey] = _Interval()
        it.calls += len(ms)
        if key[3] == STATUS_ERROR:
            it.errors += len(ms)
        room = _MAX_SAMPLES - len(it.durations_ms)
        if room > 0:
            it.durations_ms.extend(ms[:room])

    # -- writing (inside the ingest transaction) -------------------------------------------------

    def flush_due(self) -> bool:
        return self._clock() - self._flushed_at >= self.interval_ns

    def write(self, store: Store) -> int:
        """Write the series samples of what was committed so far into every run recorded
        during this interval (running now, or ended since it began: a short run gets its
        last interval, at its end); they count once the transaction commits (``committed``
        is called then)."""
        now = self._clock()
        self._pending_series = {}
        runs = [r for r in store.runs(since_ns=self._interval_start, limit=100)
                if r.started_ns <= now]
        if not runs or (not self._totals and not self._interval):
            self._pending_flush = now
            return 0
        rows: list[tuple[int, int, float]] = []
        for run in runs:
            at = now if run.ended_ns is None else min(now, run.ended_ns)
            span_s = max((at - max(self._interval_start, run.started_ns)) / 1e9, 1e-3)
            for (service, name, kind, status), cum in self._totals.items():
                labels = {"service_name": service, "span_name": name,
                          "span_kind": KIND_ENUM[kind], "status_code": STATUS_ENUM[status]}
                rows.append((self._sid(store, run.id, CALLS, labels, ""), at, cum.calls))
                rows.append((self._sid(store, run.id, DURATION + "_count", labels, ""), at,
                             cum.calls))
                rows.append((self._sid(store, run.id, DURATION + "_sum", labels, "ms"), at,
                             cum.sum_ms))
                running = 0
                for le, n in zip(LE, cum.buckets, strict=True):
                    running += n
                    rows.append((self._sid(store, run.id, DURATION + "_bucket",
                                           {**labels, "le": le}, ""), at, running))
            for (service, name, kind), it in self._interval.items():
                labels = {"service": service, "operation": name, "kind": KIND_NAMES[kind]}
                rows.append((self._sid(store, run.id, "trace.requests_per_s", labels, "/s"),
                             at, it.calls / span_s))
                rows.append((self._sid(store, run.id, "trace.errors_per_s", labels, "/s"),
                             at, it.errors / span_s))
                if it.durations_ms:
                    rows.extend((self._sid(store, run.id, f"trace.duration_p{p}_ms", labels,
                                           "ms"), at, nearest_rank(it.durations_ms, p))
                                for p in (50, 95, 99))
        store.insert_samples(rows)
        self._pending_flush = now
        return len(rows)

    def _sid(self, store: Store, run_id: int, name: str, labels: dict[str, str],
             unit: str) -> int:
        key = (run_id, name, repr(sorted(labels.items())))
        sid = self._series.get(key) or self._pending_series.get(key)
        if sid is None:
            sid = store.series_id(run_id, name, labels, unit)
            self._pending_series[key] = sid  # cached for good once committed
        return sid

    # -- reading (tests, the CLI) ------------------------------------------------------------------

    def totals(self) -> dict[Key, tuple[int, float, list[int]]]:
        return {k: (v.calls, v.sum_ms, list(v.buckets)) for k, v in self._totals.items()}
