"""A capacity search's document as ``perflab load capacity`` stores it on its run, built by the
search's own code (knee, USL fit) from a known curve: what the report tests draw."""

from __future__ import annotations

from typing import Any

from perflab.load import CapacityOptions, CapacityResult, fit_usl
from perflab.load._capacity import _knee

# a service of 200/s: p99 flat below, exploding above; its CPU saturates at the knee
RATES = (25.0, 50.0, 100.0, 200.0, 400.0, 300.0, 250.0, 225.0, 212.5, 206.25)


def _point(step: int, rate: float) -> Any:
    passed = rate <= 206.25
    return {"step": step, "rate": rate, "rps": min(rate, 200.0) * (1 if passed else 0.97),
            "p50_ms": 50.0 + (0 if passed else rate / 4), "p99_ms": 70.0 + max(0, rate - 150),
            "error_rate": 0.0 if passed else 0.02, "passed": passed,
            "failed": [] if passed else ["p99<150ms"],
            "cpu_pct": min(rate / 2.1, 99.0), "rss_bytes": 40 << 20, "threads": 1,
            "duration_s": 3.0}


def capacity_doc(run_id: int, *, usl: bool = True) -> Any:
    opts = CapacityOptions(url="http://127.0.0.1:8080", thresholds=("p99<150ms",),
                           scale_param=4.0 if usl else None)
    curve = [_point(i + 1, r) for i, r in enumerate(RATES)]
    fit = fit_usl([(1, 60.0), (2, 112.0), (4, 200.0), (8, 290.0)]) if usl else None
    return CapacityResult(run_id, "http://127.0.0.1:8080", "ok", opts, curve=curve,
                          knee=_knee(curve, None), usl=fit, search_s=41.5,
                          thresholds=("p99<150ms",)).to_json()
