"""The demo's capacity step: a short ``perflab load capacity`` search of the service's
``/work`` (faults off), with the service's CPU and memory watched, and one line saying how far
it goes and what saturates first.

Short and bounded on purpose (about 10 s: 1 s steps, at most ``MAX_STEPS``, 25 % precision, 2 s
for the service to drain after an overloaded step): it shows the search, not a precise
figure. On a busy machine the knee moves; whatever the search finds, or fails to find, is
reported as a line and never fails the demo.

The search is its own ``capacity`` run in the store; its document is also stored on the demo's
run (``meta["capacity"]``), which gives the demo's report its Capacity section.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perflab.errors import PerflabError
from perflab.load import CapacityOptions, WorkerPool, search_capacity

if TYPE_CHECKING:
    import threading

    from perflab.load import LoadCapacityDoc
    from perflab.store import Store

ENDPOINT = "/work"
# the SLO: /work answers in a few ms while the service keeps up; 100, not less, because a
# busy machine's scheduling hiccups reach tens of ms (a p99 of 1 s steps is a few requests)
P99_MS = 100
THRESHOLDS = (f"p99<{P99_MS}ms", "error_rate<1%")
START_RATE = 400.0
STEP_S = 1.0
MAX_STEPS = 6
PRECISION = 0.25
SETTLE_S = 2.0
_RESOURCE = {"cpu": "CPU saturates first", "memory": "memory saturates first",
             "concurrency": "a pool, a lock or a queue saturates before CPU or memory"}


@dataclass(frozen=True, slots=True)
class CapacityFinding:
    """The search's document (None when it could not run) and its one line."""

    doc: LoadCapacityDoc | None
    summary: str

    def to_json(self) -> dict[str, Any]:
        """As the demo run's findings list holds them (the report's Findings section)."""
        found = self.doc is not None and self.doc["knee"]["rate"] is not None
        return {"kind": "capacity", "detected": found, "endpoint": ENDPOINT,
                "summary": self.summary}


def capacity_step(store: Store, port: int, pid: int, stop: threading.Event) -> CapacityFinding:
    """Search the capacity of the service's ``/work`` on ``port`` (its process ``pid``)."""
    opts = CapacityOptions(
        url=f"http://127.0.0.1:{port}{ENDPOINT}", thresholds=THRESHOLDS, start_rate=START_RATE,
        step_s=STEP_S, precision=PRECISION, max_steps=MAX_STEPS, connections=4, workers=1,
        timeout_s=5.0, pids=(pid,), name=f"demo capacity {ENDPOINT}", settle_s=SETTLE_S)
    try:
        with WorkerPool.prestart(1) as pool:
            result = search_capacity(opts, store=store, workers=pool, stop=stop)
    except PerflabError as exc:  # the other findings still stand
        return CapacityFinding(None, f"capacity: the search could not run: {exc.message}")
    doc = result.to_json()
    return CapacityFinding(doc, summary_line(doc))


def summary_line(doc: LoadCapacityDoc) -> str:
    """``the service holds N req/s on /work at p99 < 50ms; CPU saturates first (...)``."""
    knee = doc["knee"]
    rate = knee["rate"]
    if rate is None:
        lowest = min((p["rate"] for p in doc["curve"]), default=START_RATE)
        return (f"capacity: not even {lowest:g} req/s on {ENDPOINT} met p99 < {P99_MS}ms "
                "(a busy machine?)")
    held = f"capacity: the service holds {rate:.0f} req/s on {ENDPOINT} at p99 < {P99_MS}ms"
    if knee["resource"] == "none" or knee["upper_rate"] is None:
        return f"{held} (the most this short search tried)"
    upper = next(p for p in doc["curve"] if p["rate"] == knee["upper_rate"])
    cpu = "" if upper["cpu_pct"] is None else f"; its CPU {upper['cpu_pct']:.0f}%"
    what = _RESOURCE.get(knee["resource"], "the saturated resource is unknown")
    return f"{held}; {what} ({knee['upper_rate']:g} req/s failed{cpu})"
