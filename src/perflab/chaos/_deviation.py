"""What a fault did to the load: the steady state before it (p99 and error rate, and the band
they kept), the worst deviation during it, and how long after its end the load was back within
that band (time to recover).

The figures come from the load's per-second series (``load.latency_ms{quantile="0.99"}``,
``load.rps``, ``load.errors_per_s``) of one or more runs; several label sets or runs give the
worst p99 and the sum of the rates of each second.

The steady-state band: a p99 up to the larger of its 90th percentile over the steady seconds and
its median + 10 %; an error rate up to its 90th percentile + 0.5 percentage points (a second of
a few requests makes error rates coarse). A second is out of band when either is above. The
load has recovered at the first second after the fault from which three seconds in a row (or
all that are left) are in band.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from perflab.store import nearest_rank

if TYPE_CHECKING:
    from perflab.chaos._contracts import DeviationDoc, SteadyBandDoc
    from perflab.store import Series, Store

STEADY_WINDOW_NS = 60 * 10**9  # the steady state: at most the minute before a fault
P99_SLACK = 0.10  # the band is at least the steady median p99 + 10 %
ERROR_SLACK = 0.005  # + 0.5 percentage points on the error rate
RECOVERED_FOR = 3  # seconds in a row back in band
_SECOND_NS = 10**9
_P99 = "0.99"


def per_second(store: Store, series: list[Series], name: str, *,
               p99: bool = False) -> dict[int, float]:
    """ts -> value of the ``name`` series; several label sets: the worst p99, the sum of rates."""
    out: dict[int, float] = defaultdict(float)
    for s in series:
        if s.name != name or (p99 and s.labels.get("quantile") != _P99):
            continue
        for ts, value in store.samples(s.id):
            out[ts] = max(out[ts], value) if p99 else out[ts] + value
    return dict(out)


@dataclass(frozen=True, slots=True)
class LoadSeconds:
    """The load of each second (its timestamp: the second's end), over one or more runs."""

    p99: dict[int, float]
    rps: dict[int, float]
    errors: dict[int, float]

    @classmethod
    def read(cls, store: Store, run_ids: list[int]) -> LoadSeconds:
        series = [s for run_id in run_ids for s in store.series(run_id)]
        return cls(per_second(store, series, "load.latency_ms", p99=True),
                   per_second(store, series, "load.rps"),
                   per_second(store, series, "load.errors_per_s"))

    def seconds(self, after_ns: int, until_ns: int) -> list[int]:
        """The seconds ending in (after_ns, until_ns] that carried requests."""
        return sorted(ts for ts, rps in self.rps.items() if after_ns < ts <= until_ns and rps > 0)

    def error_rate(self, ts: int) -> float:
        return self.errors.get(ts, 0.0) / self.rps[ts]


def steady_band(load: LoadSeconds, since_ns: int, start_ns: int) -> SteadyBandDoc | None:
    """The steady state over the seconds before ``start_ns`` (since ``since_ns``, at most a
    minute), or None when the load had none."""
    seconds = load.seconds(max(since_ns, start_ns - STEADY_WINDOW_NS), start_ns)
    latencies = [load.p99[ts] for ts in seconds if ts in load.p99]
    if not latencies:
        return None
    rates = [load.error_rate(ts) for ts in seconds]
    median = nearest_rank(latencies, 50)
    done = sum(load.rps[ts] for ts in seconds)
    return {"seconds": len(seconds), "p99_ms": median,
            "p99_band_ms": max(nearest_rank(latencies, 90), median * (1 + P99_SLACK)),
            "error_rate": sum(load.errors.get(ts, 0.0) for ts in seconds) / done,
            "error_band": nearest_rank(rates, 90) + ERROR_SLACK}


def _in_band(load: LoadSeconds, band: SteadyBandDoc, ts: int) -> bool:
    return (load.p99.get(ts, 0.0) <= band["p99_band_ms"]
            and load.error_rate(ts) <= band["error_band"])


def deviation(load: LoadSeconds, start_ns: int, end_ns: int | None, since_ns: int,
              until_ns: int) -> DeviationDoc:
    """The fault from ``start_ns`` to ``end_ns`` (None: still on at ``until_ns``), with the
    previous fault's end (``since_ns``) and the next one's start or the load's end
    (``until_ns``) bounding its before and after."""
    band = steady_band(load, since_ns, start_ns)
    end = until_ns if end_ns is None else end_ns
    during = load.seconds(start_ns, end + _SECOND_NS - 1)  # the second the fault ended in too
    doc: DeviationDoc = {"steady": band, "seconds_during": len(during), "worst_p99_ms": None,
                         "worst_p99_ratio": None, "worst_p99_at_ns": None,
                         "worst_error_rate": None, "error_rate_during": None,
                         "out_of_band_s": None, "recovered_after_s": None}
    if during:
        worst = max(during, key=lambda ts: load.p99.get(ts, 0.0))
        if worst in load.p99:
            doc["worst_p99_ms"] = load.p99[worst]
            doc["worst_p99_at_ns"] = worst
            if band is not None and band["p99_ms"] > 0:
                doc["worst_p99_ratio"] = load.p99[worst] / band["p99_ms"]
        doc["worst_error_rate"] = max(load.error_rate(ts) for ts in during)
        doc["error_rate_during"] = (sum(load.errors.get(ts, 0.0) for ts in during)
                                    / sum(load.rps[ts] for ts in during))
    if band is None:
        return doc
    doc["out_of_band_s"] = sum(1 for ts in during if not _in_band(load, band, ts))
    if end_ns is not None:
        after = load.seconds(end_ns, max(until_ns, end_ns))
        for i, ts in enumerate(after):
            if all(_in_band(load, band, t) for t in after[i:i + RECOVERED_FOR]):
                # the second's start: the load was back from then on
                doc["recovered_after_s"] = max(0, ts - _SECOND_NS - end_ns) / 1e9
                break
    return doc
