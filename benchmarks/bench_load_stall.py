"""wrk2's demonstration: a server that stalls 1 s every 5 s, driven at --rate 1000.

Latency measured from each request's intended start sees the stalls (the truth: ~1 % of the
time the server is stalled for up to 1 s, so p99 ~ 0.95 s); service time, measured from the
actual send, hides them, as any closed-loop tool (wrk, ab, hey) would.

    python benchmarks/bench_load_stall.py [--duration 10]
prints
    stalled server p99: latency 0.95s vs service time 0.6ms (goal latency p99 >= 0.8s)
"""

from __future__ import annotations

import argparse

from _load_targets import perflab_load, test_server


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    a = ap.parse_args()
    with test_server("--stall-every", "5s", "--stall-for", "1s") as url:
        # a fixed pool, as wrk2 has: requests that find every connection stuck wait (late)
        doc = perflab_load(url, "--rate", "1000", "-d", f"{a.duration}s", "-c", "10",
                           "--max-connections", "10", "--workers", "1")
    lat, svc = doc["latency_ms"], doc["service_time_ms"]
    for q in ("p50", "p90", "p99", "p999", "max"):
        print(f"  {q:>5}: latency {lat[q]:>9.3f}ms   service {svc[q]:>9.3f}ms")
    print(f"requests {doc['requests']:,}, dropped (late) {doc['dropped']:,}")
    print(f"stalled server p99: latency {lat['p99'] / 1000:.3f}s vs service time "
          f"{svc['p99']:.3f}ms (goal latency p99 >= 0.8s)")


if __name__ == "__main__":
    main()
