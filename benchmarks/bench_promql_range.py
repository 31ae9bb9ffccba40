"""How long one ``query_range`` takes over a day of 1 s data: the issue's figure,
``sum by (mode) (rate(node_cpu_seconds_total[1m]))`` over 24 h at a 15 s step, from 1 s data
of 2 CPUs x 8 modes (16 series, 1.38 M samples), read from the store through PromQL.

The store is built once per run in a temporary directory; the query runs ``--repeat`` times
(the first one cold: nothing of the store in the page cache but what building it left).

    python benchmarks/bench_promql_range.py [--repeat 5] [--cpus 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from perflab.metrics import StoreQueryable, range_query
from perflab.store import Store, canonical_labels, write_metric_samples

DAY_S = 86_400
MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
QUERY = "sum by (mode) (rate(node_cpu_seconds_total[1m]))"


def build(path: Path, cpus: int, start_s: int) -> int:
    with Store.open(path) as store:
        run = store.create_run("bench", "node cpu day", started_ns=start_s * 10**9)
        keys = [(cpu, mode, canonical_labels({"cpu": str(cpu), "mode": mode,
                                              "job": "node", "instance": "h:9100"}))
                for cpu in range(cpus) for mode in MODES]
        totals = {k[2]: 0.0 for k in keys}
        batch = []
        for t in range(DAY_S):
            ts = (start_s + t) * 10**9
            for cpu, mode, lab in keys:
                totals[lab] += 0.9 if mode == "idle" else (0.05 + 0.001 * cpu)
                batch.append((run.id, "node_cpu_seconds_total", lab, ts, totals[lab]))
            if len(batch) >= 200_000:
                write_metric_samples(store, batch)
                batch = []
        if batch:
            write_metric_samples(store, batch)
        store.compact_samples()
        store.finish_run(run.id, "ok", ended_ns=(start_s + DAY_S) * 10**9, rollup=False)
        return len(keys) * DAY_S


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cpus", type=int, default=2)
    args = ap.parse_args()
    start_s = 1_790_000_000
    with tempfile.TemporaryDirectory(prefix="perflab-bench-") as tmp:
        path = Path(tmp) / "perflab.db"
        t0 = time.perf_counter()
        n = build(path, args.cpus, start_s)
        print(f"store: {n:,} samples of {args.cpus * len(MODES)} series in "
              f"{time.perf_counter() - t0:.1f} s")
        times = []
        for _ in range(args.repeat):
            with Store.open(path, create=False) as store:
                t1 = time.perf_counter()
                matrix = range_query(StoreQueryable(store), QUERY, (start_s + 60) * 1000,
                                     (start_s + DAY_S) * 1000, 15_000)
                times.append(time.perf_counter() - t1)
        points = sum(len(p) for _, p in matrix)
        print(f"query_range {QUERY!r} over 24 h at 15 s: {len(matrix)} series, {points:,} "
              f"points")
        print(f"  first {times[0] * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} "
              f"ms, best {min(times) * 1000:.0f} ms (target: 200 ms)")


if __name__ == "__main__":
    main()
