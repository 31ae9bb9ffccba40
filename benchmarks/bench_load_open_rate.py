"""The open model holds its rate: --rate 20000 for 10 s against nginx, achieved vs target.

    python benchmarks/bench_load_open_rate.py [--rate 20000] [--duration 10] [--workers N]
prints
    open-model achieved/target rate: 0.999 (goal within 1%; 19,990 of 20,000 req/s)
"""

from __future__ import annotations

import argparse

from _load_targets import nginx, perflab_load


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=20000)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--workers", type=int, default=1,
                    help="1 by default: on a 2-core box a second worker starves nginx")
    a = ap.parse_args()
    extra = ["--workers", str(a.workers)] if a.workers else []
    with nginx() as (url, _pid):
        doc = perflab_load(url, "--rate", f"{a.rate:g}", "-d", f"{a.duration}s", "-c", "50",
                           *extra)
    achieved = doc["rps"]  # responses within the 10 s (late ones finishing after are excluded)
    ratio = achieved / a.rate
    print(f"requests {doc['requests']:,} (in the window: {doc['rps'] * a.duration:,.0f}), "
          f"errors {doc['errors'] or 'none'}, "
          f"dropped {doc['dropped']:,}, latency p50 {doc['latency_ms']['p50']}ms "
          f"p99 {doc['latency_ms']['p99']}ms, service p99 {doc['service_time_ms']['p99']}ms")
    print(f"open-model achieved/target rate: {ratio:.4f} (goal within 1%; "
          f"{achieved:,.0f} of {a.rate:,.0f} req/s)")


if __name__ == "__main__":
    main()
