"""How long one ``query_range`` takes over a day of 1 s data: the issue's figure,
``sum by (mode) (rate(node_cpu_seconds_total[1m]))`` over 24 h at a 15 s step, from 1 s data
of 2 CPUs x 8 modes (16 series, 1.38 M samples), read from the store through PromQL.

The day is the last one (it ends an hour ago), in a run of kind ``metrics`` as the hub
collects it. The store is built once per run in a temporary directory; then

- the first query as it was before the hub packed hours in the background: it packs the day's
  hours itself, on the request's clock;
- the packed hours are dropped, the hub's background pass (``pack_closed_hours``, what its
  maintenance thread does every minute) packs them, timed apart;
- the query runs ``--repeat`` times: the first one is the one a user meets.

    python benchmarks/bench_promql_range.py [--repeat 5] [--cpus 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from perflab.metrics import StoreQueryable, range_query
from perflab.metrics._maintain import pack_closed_hours
from perflab.store import Store, canonical_labels, write_metric_samples

DAY_S = 86_400
MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
QUERY = "sum by (mode) (rate(node_cpu_seconds_total[1m]))"


def build(path: Path, cpus: int, start_s: int) -> int:
    with Store.open(path) as store:
        run = store.create_run("metrics", "node cpu day", started_ns=start_s * 10**9)
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
    start_s = (time.time_ns() // 10**9 // 3600) * 3600 - DAY_S - 3600
    with tempfile.TemporaryDirectory(prefix="perflab-bench-") as tmp:
        path = Path(tmp) / "perflab.db"
        t0 = time.perf_counter()
        n = build(path, args.cpus, start_s)
        print(f"store: {n:,} samples of {args.cpus * len(MODES)} series in "
              f"{time.perf_counter() - t0:.1f} s")

        def query() -> tuple[float, list]:
            with Store.open(path, create=False) as store:
                t1 = time.perf_counter()
                matrix = range_query(StoreQueryable(store), QUERY, (start_s + 60) * 1000,
                                     (start_s + DAY_S) * 1000, 15_000)
                return time.perf_counter() - t1, matrix

        unpacked, _ = query()
        with Store.open(path, create=False) as store:
            store.conn.execute("DELETE FROM metric_blocks")  # as written, before any read
            c0, t2 = time.process_time(), time.perf_counter()
            hours = pack_closed_hours(store, now_ns=time.time_ns())
            pack_cpu, pack_wall = time.process_time() - c0, time.perf_counter() - t2
        times = []
        for _ in range(args.repeat):
            took, matrix = query()
            times.append(took)
        points = sum(len(p) for _, p in matrix)
        print(f"query_range {QUERY!r} over 24 h at 15 s: {len(matrix)} series, {points:,} "
              f"points")
        print(f"  first query packing the hours itself (no background pass): "
              f"{unpacked * 1000:.0f} ms")
        print(f"  background pass: {hours} hours packed in {pack_wall:.2f} s "
              f"({pack_cpu:.2f} s CPU), off the request path")
        print(f"  then: first {times[0] * 1000:.0f} ms, median "
              f"{statistics.median(times) * 1000:.0f} ms, best {min(times) * 1000:.0f} ms "
              f"(target: 200 ms)")


if __name__ == "__main__":
    main()
