"""LogQL over a filled store: a text search (``|=``, through the FTS5 word index) over the
last hour, and ``count_over_time`` by level over the whole fill (targets, at 10 M lines: <= 300
ms each). Lines are written straight through ``store.insert_logs`` (the ingest benchmark
measures the push path); each query is timed best of 3, in this process.

    python benchmarks/bench_logs_query.py [--lines 200000] [--hours 24]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from perflab.logs import query_instant, query_range
from perflab.store import Store, canonical_labels, insert_logs, log_stream_id

LEVELS = ["info"] * 7 + ["warn"] * 2 + ["error"]


def fill(store: Store, lines: int, hours: int, now: int) -> None:
    rnd = random.Random(1)
    apps = ("api", "web", "worker", "db", "cache")
    streams = {}
    for app in apps:
        for lvl in ("info", "warn", "error"):
            labels = canonical_labels({"job": app, "level": lvl})
            streams[(app, lvl)] = (log_stream_id(labels), labels)
    span = hours * 3600 * 10**9
    batch = []
    for k in range(lines):
        app, lvl = rnd.choice(apps), rnd.choice(LEVELS)
        sid = streams[(app, lvl)][0]
        ts = now - span + k * span // lines
        line = (f'level={lvl} msg="handled request {k}" path=/v1/items/{rnd.randrange(10_000)} '
                f"status={rnd.choice((200, 404, 500))} duration={rnd.randrange(1, 900)}ms")
        batch.append((ts, None, sid, lvl, None, None, line, None))
        if len(batch) == 50_000:
            with store.transaction():
                insert_logs(store, batch, dict(streams.values()))
            batch = []
    if batch:
        with store.transaction():
            insert_logs(store, batch, dict(streams.values()))


def best(fn, n: int = 3) -> float:  # a callable
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--hours", type=int, default=24)
    args = ap.parse_args()
    now = time.time_ns()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.db"
        t = time.process_time()
        with Store.open(path) as st:
            fill(st, args.lines, args.hours, now)
        fill_cpu = time.process_time() - t
        with Store.open(path) as st:
            target = f'handled request {args.lines - 7}"'
            search = best(lambda: query_range(st, f'{{job=~".+"}} |= `{target}`',
                                              now - 3600 * 10**9, now))
            hits = query_range(st, f'{{job=~".+"}} |= `{target}`', now - 3600 * 10**9, now)
            count = best(lambda: query_instant(
                st, f'sum by (level) (count_over_time({{job=~".+"}}[{args.hours}h]))', now))
            size = path.stat().st_size + Path(str(path) + "-wal").stat().st_size
    print(f"fill: {args.lines:,} lines over {args.hours} h, {fill_cpu:.1f} CPU s "
          f"({args.lines / fill_cpu:,.0f} lines/CPU-s through insert_logs), {size / 1e6:.0f} MB")
    print(f"text search |= over the last hour: {search * 1000:.1f} ms "
          f"({sum(len(s['values']) for s in hits['result'])} hit)")
    print(f"sum by (level) (count_over_time([{args.hours}h])): {count * 1000:.1f} ms")


if __name__ == "__main__":
    main()
