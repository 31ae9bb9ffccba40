"""What a worker and its parent say to each other, as dataclasses pickled over their socket.

Parent to worker: its ``Share`` of the test, then ``Start`` and, at any time, ``Stop``.
Worker to parent: ``Ready`` (or ``Failed``: a scenario could not be loaded), one ``Tick`` a
second, ``Failed`` if a scenario raised, and ``WorkerEnd`` last.

A tick carries the second's raw figures, not histograms: each response left its times
(nanoseconds) in lists, which ``take`` packs into C arrays (``ns_array``: 8 bytes a value,
pickled as one block of bytes), and the parent turns them into HDR histograms
(``Histogram.record_ns``). So the worker's work per request is a few list appends, its work
per second one packing, and it never imports numpy (which was a third of its start-up and
started a pool of threads). The copy costs 16 bytes a response through a local socket: 1.6
MB/s at 100k responses a second.

Why lists first: ``list.append`` of an int costs ~6 ns, ``array.append`` ~130 ns (each item
goes through ``PyArg_Parse``). The same goes for ``array("q", values)``; ``struct.pack`` reads
each int directly: packing a second's list costs 110 machine instructions a value instead of
283 (callgrind, 100k values, pickling included).
"""

from __future__ import annotations

import struct
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perflab.load._config import LoadConfig
    from perflab.load._contracts import LoadChecksValue


def failed_status(code: int) -> bool:
    """Responses counted as failed in the error rate: 4xx and 5xx (as k6's http_req_failed)."""
    return code >= 400


def ns_array(values: list[int] | None = None) -> array[int]:
    """An array of signed 64-bit nanosecond values (empty, or of ``values``)."""
    out = array("q")
    if values:
        out.frombytes(struct.pack(f"{len(values)}q", *values))
    return out


def count_codes(codes: list[int]) -> dict[int, int]:
    """Responses by status. Nearly every second has one status only: ``list.count`` (an
    identity test per item, for the small ints statuses are) confirms it at ~4 instructions
    a response, where a ``Counter`` costs ~480."""
    if not codes:
        return {}
    first = codes[0]
    if codes.count(first) == len(codes):
        return {first: len(codes)}
    return dict(Counter(codes))


@dataclass(frozen=True, slots=True)
class Share:
    """Parent to worker: the test, and which of ``nworkers`` shares of it is this worker's."""

    config: LoadConfig
    index: int
    nworkers: int


@dataclass(frozen=True, slots=True)
class Start:
    """Parent to worker: start at ``start_ns`` (monotonic; all workers together)."""

    start_ns: int
    duration_s: float | None


@dataclass(frozen=True, slots=True)
class Stop:
    """Parent to worker: stop now (Ctrl-C, --abort-on-fail, past the planned end)."""


@dataclass(frozen=True, slots=True)
class Ready:
    """Worker to parent: configured, waiting for ``Start``."""


@dataclass(frozen=True, slots=True)
class Failed:
    """Worker to parent: the scenario could not be loaded, or raised (its traceback)."""

    text: str


@dataclass(slots=True)
class Tick:
    """One worker's second: what completed in it, value by value."""

    latency_ns: array[int]        # each response: from its intended start (open model), or send
    service_ns: array[int] | None  # open model: each response, from the actual send
    ttfb_ns: array[int]           # each response: send to first byte
    codes: dict[int, int]         # responses by status
    errors: dict[str, int]
    late: int                     # arrivals started more than 1 ms after their intended time
    connections: int
    connect_ns: array[int] = field(default_factory=ns_array)  # connections opened this second
    tls_ns: array[int] = field(default_factory=ns_array)      # ... and their TLS handshakes
    lateness_ns: array[int] | None = None  # open model: started minus intended, per arrival
    by_name: dict[str, array[int]] = field(default_factory=dict)  # scenarios: latency per name
    second: int = 0               # which second of the test (1 for the first), set on sending


@dataclass(slots=True)
class CheckCounts:
    """A scenario check's outcomes (k6's ``check()``): counted per call in the worker, added
    up across workers by the parent, written as ``{"passed": n, "failed": m}``."""

    passed: int = 0
    failed: int = 0

    def add(self, other: CheckCounts) -> None:
        self.passed += other.passed
        self.failed += other.failed

    def to_json(self) -> LoadChecksValue:
        return {"passed": self.passed, "failed": self.failed}


@dataclass(slots=True)
class WorkerEnd:
    """A worker's counts for the whole test, sent once it has stopped (its values went with
    its ticks)."""

    end_ns: int                   # monotonic: when it stopped counting
    scheduled: int = 0            # open model: arrivals of this worker's share
    dropped: int = 0              # ... that never started
    unfinished: int = 0           # sent, still unanswered when the test ended
    max_rss_bytes: int = 0
    checks: dict[str, CheckCounts] = field(default_factory=dict)
    failed_by_name: dict[str, int] = field(default_factory=dict)
