"""The cost of going through Dask: N Dask workers on this machine against ``--workers N``.

A ``dask scheduler`` and N ``dask worker`` processes are started once on loopback; then, in
the same run and alternating (local first in even rounds, Dask first in odd ones), the same
test runs as ``perflab load URL --workers N`` and as ``perflab load URL --cluster ADDRESS
--workers 1`` (one load process on each of the N Dask workers), against nginx's fixed answer:

- closed model (``-c 50``, as fast as it goes): the ratio of achieved rates, Dask / local
  (goal ≥ 0.9);
- open model (``--rate R``): each run's achieved rate against its target (goal within 1 %).

    python benchmarks/bench_load_dask.py [--workers 2] [--duration 5] [--rate 2000]
        [--rounds 2]

prints one line a run and the medians, e.g.
    closed-model rate, Dask / local: 0.97 (goal >= 0.9; median of 3 rounds' ratios ...)
    open-model achieved / target: local 0.999, Dask 0.998 (goal within 1%)
"""

from __future__ import annotations

import argparse
import statistics

from _load_targets import dask_cluster, nginx, perflab_load


def _line(kind: str, doc: dict) -> str:
    return (f"  {kind:<6} {doc['rps']:>10,.0f} req/s  requests {doc['requests']:,}  "
            f"dropped {doc['dropped']:,}  p99 {doc['latency_ms']['p99']} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--rate", type=float, default=2000)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    closed: dict[str, list[float]] = {"local": [], "dask": []}
    opened: dict[str, list[float]] = {"local": [], "dask": []}
    with dask_cluster(a.workers) as cluster, nginx(fixed=True) as (url, _pid):
        ways = {"local": ["--workers", str(a.workers)],
                "dask": ["--cluster", cluster.address, "--workers", "1"]}
        for r in range(a.rounds):
            order = ["local", "dask"] if r % 2 == 0 else ["dask", "local"]
            for kind in order:
                doc = perflab_load(url, "-c", "50", "-d", f"{a.duration}s", *ways[kind])
                closed[kind].append(doc["rps"])
                print("closed" + _line(kind, doc), flush=True)
            for kind in order:
                doc = perflab_load(url, "--rate", f"{a.rate:g}", "-d", f"{a.duration}s",
                                   "-c", "50", *ways[kind])
                opened[kind].append(doc["rps"] / a.rate)
                print("open  " + _line(kind, doc), flush=True)
    # each round's pair ran back to back: the median of the pairs' ratios, not of the rates
    # (a loaded machine moves both by as much as the difference sought)
    ratios = [d / lo for d, lo in zip(closed["dask"], closed["local"], strict=True)]
    local, dask = statistics.median(closed["local"]), statistics.median(closed["dask"])
    print(f"closed-model rate, Dask / local: {statistics.median(ratios):.3f} (goal >= 0.9; "
          f"median of {a.rounds} rounds' ratios {', '.join(f'{r:.2f}' for r in ratios)}; "
          f"{dask:,.0f} vs {local:,.0f} req/s)")
    print(f"open-model achieved / target at {a.rate:,.0f}/s: "
          f"local {statistics.median(opened['local']):.4f}, "
          f"Dask {statistics.median(opened['dask']):.4f} (goal within 1%)")


if __name__ == "__main__":
    main()
