"""What a worker process sends its parent: one ``Tick`` a second, one ``WorkerEnd`` at the end.

Plain dataclasses, pickled over the worker's pipe; their histograms travel sparse
(``Histogram.__reduce__``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from perflab.load._hdr import Histogram


@dataclass(slots=True)
class Tick:
    """One worker's second: what completed in it."""

    latency: Histogram
    service: Histogram | None     # open model: from the actual send
    codes: dict[int, int]
    errors: dict[str, int]
    late: int                     # arrivals started more than 1 ms after their intended time
    connections: int


@dataclass(slots=True)
class NameStats:
    """A scenario's requests of one name: their latencies and how many failed."""

    latency: Histogram = field(default_factory=Histogram)
    failed: int = 0

    def merge(self, other: NameStats) -> None:
        self.latency.merge(other.latency)
        self.failed += other.failed


@dataclass(slots=True)
class WorkerEnd:
    """A worker's figures for the whole test, sent once it has stopped."""

    end_ns: int                   # monotonic: when it stopped counting
    connect: Histogram
    tls: Histogram
    ttfb: Histogram
    lateness: Histogram | None    # open model: started minus intended, per arrival (µs)
    scheduled: int = 0            # open model: arrivals of this worker's share
    dropped: int = 0              # ... that never started
    unfinished: int = 0           # sent, still unanswered when the test ended
    max_rss_bytes: int = 0
    checks: dict[str, dict[str, int]] = field(default_factory=dict)
    by_name: dict[str, NameStats] = field(default_factory=dict)
