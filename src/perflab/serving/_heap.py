"""The cyclic collector of a long-lived server process, set once its start-up is done.

The collector runs in whichever thread allocates, holding the GIL, and a full (gen2) pass walks
every tracked object. A server's start-up leaves tens of thousands of them that never become
garbage (modules, classes, the CLI, the web app); each full pass walked them all again. Frozen
(``gc.freeze``) once the server is set up, the passes scan only what came after. A larger first
threshold makes young passes rarer, so fewer objects merely in flight (a decoded batch, a
request's future) are promoted and older passes come less often.

Measured, alternated in one session:

- the fault proxy under 1,000 connections: the passes during its API's calls summed 2.6 ms
  against 31 ms (benchmarks/bench_chaos_proxy.py --base);
- the hub's span ingest (OTLP/HTTP, batches of 512): 75,600-77,600 spans per CPU second against
  68,000-70,600 untuned, 72,100-72,900 frozen with Python's thresholds
  (benchmarks/bench_trace_ingest.py, 3 rounds of each).
"""

from __future__ import annotations

import gc

GC_THRESHOLDS = (10_000, 10, 10)  # Python's: (700, 10, 10)


def settle_heap() -> None:
    """Call in a server's own process, after its start-up and before it serves: start-up's
    garbage is freed, what remains is frozen, and young passes come less often."""
    gc.set_threshold(*GC_THRESHOLDS)
    gc.collect()
    gc.freeze()
