"""Open-model p50 at 1,000 req/s against the closed model's -c 1 p50, in the same run.

The open model measures from each request's intended time, so its p50 shows perflab's own
delay if the scheduler wakes late (issue 10, bug 3). Bar: open p50 <= max(2 x closed p50,
closed p50 + 150 µs). Rounds alternate closed and open against one nginx.

    python benchmarks/bench_load_open_vs_closed.py [--rounds 3] [--rate 1000] [--duration 5]
prints per round, then
    open p50 0.081 ms vs closed p50 0.025 ms: bar 0.175 ms, met (median of 3 rounds);
    scheduler lateness p50 0.000 ms p99 0.871 ms
"""

from __future__ import annotations

import argparse
import statistics

from _load_targets import nginx, perflab_load


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--duration", type=int, default=5)
    a = ap.parse_args()
    closed, opened, late50, late99 = [], [], [], []
    with nginx(fixed=True) as (url, _pid):
        for i in range(a.rounds):
            c = perflab_load(url, "-c", "1", "-d", f"{a.duration}s", "--workers", "1")
            o = perflab_load(url, "--rate", f"{a.rate:g}", "-d", f"{a.duration}s", "-c", "4",
                             "--workers", "1")
            closed.append(c["latency_ms"]["p50"])
            opened.append(o["latency_ms"]["p50"])
            late50.append(o["lateness_ms"]["p50"])
            late99.append(o["lateness_ms"]["p99"])
            print(f"round {i + 1}: closed -c 1 p50 {closed[-1]:.3f} ms, open {a.rate:g}/s p50 "
                  f"{opened[-1]:.3f} ms (service p50 {o['service_time_ms']['p50']:.3f} ms, "
                  f"lateness p50 {late50[-1]:.3f} p99 {late99[-1]:.3f} ms)")
    c50, o50 = statistics.median(closed), statistics.median(opened)
    bar = max(2 * c50, c50 + 0.150)
    print(f"open p50 {o50:.3f} ms vs closed p50 {c50:.3f} ms: bar {bar:.3f} ms, "
          f"{'met' if o50 <= bar else 'NOT met'} (median of {a.rounds} rounds); scheduler "
          f"lateness p50 {statistics.median(late50):.3f} ms p99 "
          f"{statistics.median(late99):.3f} ms")


if __name__ == "__main__":
    main()
