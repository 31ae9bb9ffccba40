"""LogQL queries that run each line through the pipeline in Python (parsers, unwrap, templates,
operators), over the same fill as bench_logs_query.py; prints each query's least CPU time of 3
runs and its cost per line read. These cannot be counted in SQLite: the figure is the per-line cost.

    python benchmarks/bench_logql_pipeline.py [--lines 50000] [--hours 24]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_logs_query import fill  # the same lines and streams
from perflab.logs import query_instant, query_range
from perflab.store import Store

QUERIES = [
    ("instant", ('quantile_over_time(0.99, {job=~".+"} | logfmt | unwrap duration(duration) '
                "[24h]) by (level)")),
    ("instant", ('topk(3, sum by (status) (count_over_time({job=~".+"} | logfmt | keep status '
                "[24h])))")),
    ("instant", ('sum by (level) (count_over_time({job=~".+"} | logfmt | status >= 500 '
                '| keep level [24h])) / ignoring(level) group_left '
                'sum(count_over_time({job=~".+"} [24h]))')),
    ("range", ('sum by (job) (rate({job=~".+"} | pattern "<_> path=<path> <_>" '
              '| path=~"/v1/items/1.*" | keep job [1h]))')),
    ("logs", ('{job=~".+"} | logfmt | line_format "{{ .path | upper }} {{ .duration }}" '
             '| status == 500')),
]


def best(fn: Callable[[], object], n: int = 3) -> float:
    """The least CPU time of n runs (this process's: the machine is shared, wall time is not
    the query's)."""
    times = []
    for _ in range(n):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=50_000)
    ap.add_argument("--hours", type=int, default=24)
    args = ap.parse_args()
    now = time.time_ns()
    start, end = now - args.hours * 3600 * 10**9, now
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "s.db") as store:
        fill(store, args.lines, args.hours, now)
        print(f"{args.lines:,} lines over {args.hours} h")
        for kind, query in QUERIES:
            if kind == "instant":
                took = best(lambda q=query: query_instant(store, q, end))
            elif kind == "range":
                took = best(lambda q=query: query_range(store, q, start, end,
                                                        step_ns=3600 * 10**9))
            else:
                took = best(lambda q=query: query_range(store, q, start, end, limit=5000))
            print(f"{took * 1000:8.0f} ms CPU  {took / args.lines * 1e6:5.1f} us/line  {query}")


if __name__ == "__main__":
    main()
