"""What a load test measured: per-second intervals while it runs, one ``LoadResult`` at the end."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from perflab.load._messages import CheckCounts, failed_status

if TYPE_CHECKING:
    from perflab.load._config import LoadConfig
    from perflab.load._contracts import (
        LoadClusterJson,
        LoadLatency,
        LoadPhasesMs,
        LoadStatus,
        LoadSummaryJson,
        LoadThreshold,
        PhaseName,
    )
    from perflab.load._hdr import Histogram


def _histogram() -> Histogram:
    # numpy (under the histograms) is imported when the first one is made, not with this
    # module: a test's parent process imports it after its workers have started
    from perflab.load._hdr import Histogram  # noqa: PLC0415

    return Histogram()


@dataclass(slots=True)
class NameStats:
    """A scenario's requests of one name: their latencies and how many failed."""

    latency: Histogram = field(default_factory=_histogram)
    failed: int = 0

    def merge(self, other: NameStats) -> None:
        self.latency.merge(other.latency)
        self.failed += other.failed


@dataclass(slots=True)
class Interval:
    """One second of the test (the last one may be shorter), all workers merged."""

    second: int
    length_s: float
    completed: int
    codes: Counter[int]
    errors: Counter[str]
    latency: Histogram
    service: Histogram | None
    connections: int
    late: int

    @property
    def rps(self) -> float:
        return self.completed / self.length_s if self.length_s > 0 else 0.0

    @property
    def errors_total(self) -> int:
        return sum(self.errors.values()) + sum(n for c, n in self.codes.items()
                                               if failed_status(c))


# the open model reached its target when at most this share of its arrivals never started
DROPPED_TOLERANCE = 0.001


@dataclass(slots=True)
class LoadResult:
    """One test's figures. ``duration_s`` runs from the start to when the last worker stopped
    counting (the planned duration, plus the part of the drain that was used); ``rps`` is
    ``requests / duration_s``, everywhere (summary, --json, store, report)."""

    config: LoadConfig
    started_ns: int                 # wall clock, ns since the epoch
    duration_s: float
    status: LoadStatus
    latency: Histogram
    service: Histogram | None       # open model only; the closed model's latency is service time
    codes: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    late: int = 0                   # open model: started more than 1 ms after intended
    dropped: int = 0                # open model: arrivals that never started
    unfinished: int = 0             # open model: sent, unanswered when the drain ended
    scheduled: int = 0              # open model: arrivals the schedule asked for
    lateness: Histogram | None = None  # open model: the scheduler's own delay per arrival
    phases: dict[PhaseName, Histogram] = field(default_factory=dict)
    checks: dict[str, CheckCounts] = field(default_factory=dict)
    by_name: dict[str, NameStats] = field(default_factory=dict)
    thresholds: list[LoadThreshold] = field(default_factory=list)
    worker_max_rss_bytes: int = 0   # the largest peak resident memory of a worker
    warnings: list[str] = field(default_factory=list)
    run_id: int | None = None
    cluster: LoadClusterJson | None = None  # a distributed test (--cluster): its shares

    @property
    def requests(self) -> int:
        """Responses received (any status)."""
        return sum(self.codes.values())

    @property
    def failed_requests(self) -> int:
        return sum(self.errors.values()) + sum(n for c, n in self.codes.items()
                                               if failed_status(c))

    @property
    def error_rate(self) -> float:
        attempts = self.requests + sum(self.errors.values())
        return self.failed_requests / attempts if attempts else 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def target_rate(self) -> float | None:
        sched = self.config.schedule()
        if sched is None or sched.duration_s <= 0:
            return None
        return sched.total / sched.duration_s

    @property
    def target_reached(self) -> bool | None:
        """Open model: did (nearly) every arrival start? None for the closed model."""
        if self.lateness is None:
            return None
        return self.dropped <= DROPPED_TOLERANCE * self.scheduled

    def to_json(self) -> LoadSummaryJson:
        cfg = self.config
        out: LoadSummaryJson = {
            "run_id": self.run_id,
            "status": self.status,
            "url": cfg.target.url,
            "model": "open" if cfg.open_model else "closed",
            "workers": cfg.workers,
            "connections": cfg.connections,
            "target_rate": self.target_rate,
            "target_reached": self.target_reached,
            "requests": self.requests,
            "duration_s": round(self.duration_s, 6),
            "rps": round(self.rps, 3),
            "latency_ms": _summary(self.latency),
            "service_time_ms": _summary(self.service if self.service is not None
                                        else self.latency),
            "lateness_ms": None if self.lateness is None else _summary(self.lateness),
            "phases_ms": _phases_json(self.phases),
            "status_codes": {str(k): v for k, v in sorted(self.codes.items())},
            "errors": {k: v for k, v in sorted(self.errors.items()) if v},
            "error_rate": self.error_rate,
            "scheduled": self.scheduled,
            "late": self.late,
            "dropped": self.dropped,
            "unfinished": self.unfinished,
            "drain_s": cfg.drain_s,
            "thresholds": self.thresholds,
            "worker_max_rss_bytes": self.worker_max_rss_bytes,
            "warnings": self.warnings,
        }
        if self.cluster is not None:
            out["cluster"] = self.cluster
        if self.checks:
            out["checks"] = {name: c.to_json() for name, c in self.checks.items()}
        if self.by_name:
            out["requests_by_name"] = {
                k: {"requests": s.latency.total, "failed": s.failed,
                    "latency_ms": _summary(s.latency)}
                for k, s in sorted(self.by_name.items())}
        return out


def _phases_json(phases: dict[PhaseName, Histogram]) -> LoadPhasesMs:
    out: LoadPhasesMs = {}
    for name, h in phases.items():
        out[name] = _summary(h)
    return out


def rounded_ms(v: float) -> float | None:
    """A figure in ms as the documents give it: to the microsecond, null when nothing was
    measured (NaN)."""
    return None if math.isnan(v) else round(v, 3)


def _summary(h: Histogram) -> LoadLatency:
    s = h.summary()
    return {"count": s.count, "min": rounded_ms(s.min_ms), "mean": rounded_ms(s.mean_ms),
            "p50": rounded_ms(s.p50_ms), "p90": rounded_ms(s.p90_ms),
            "p99": rounded_ms(s.p99_ms), "p999": rounded_ms(s.p999_ms),
            "max": rounded_ms(s.max_ms), "stdev": rounded_ms(s.stdev_ms)}


@dataclass(slots=True)
class RunningTotals:
    """The test so far (merged intervals): what the live line and --abort-on-fail read."""

    open_model: bool
    latency: Histogram = field(default_factory=_histogram)
    service: Histogram | None = None
    codes: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    late: int = 0
    elapsed_s: float = 0.0
    checks: dict[str, CheckCounts] = field(default_factory=dict)
    dropped: int = 0  # known at the end only: an arrival due now may still start

    def add(self, iv: Interval) -> None:
        self.latency.merge(iv.latency)
        if iv.service is not None:
            if self.service is None:
                self.service = _histogram()
            self.service.merge(iv.service)
        self.codes.update(iv.codes)
        self.errors.update(iv.errors)
        self.late += iv.late
        self.elapsed_s = iv.second - 1 + iv.length_s

    @property
    def requests(self) -> int:
        return sum(self.codes.values())

    @property
    def error_rate(self) -> float:
        attempts = self.requests + sum(self.errors.values())
        failed = sum(self.errors.values()) + sum(n for c, n in self.codes.items()
                                                 if failed_status(c))
        return failed / attempts if attempts else 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0
