"""LogQL over 10 M stored lines (issue 16's targets: <= 300 ms each): a ``|=`` text search over
the last hour, and ``sum by (level) (count_over_time({...}[24h]))`` at an instant (the day's
whole minutes from ``log_minutes``, its two partial minutes from the lines). With ``--exact``
also the same count through the lines (a ``|=`` every line holds keeps it off the minutes).

The store is built once (``--store``, default /tmp/perflab-logs-10m.db; lines written straight
through ``store.insert_logs``, as benchmarks/bench_logs_query.py writes them: 15 streams, logfmt
lines of ~100 bytes over 24 h) and reused while it holds ``--lines`` lines; the build's "now"
is kept beside it, so the queries ask about the same day. Each query is timed best of 3, in
this process, on a store just opened (no warm Python caches; SQLite's page cache warms).

    python benchmarks/bench_logs_big.py [--lines 10000000] [--store PATH] [--exact]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_logs_query import best, fill
from perflab.logs import query_instant, query_range
from perflab.store import Store, log_stats

HOURS = 24


def build(path: Path, lines: int) -> int:
    """The build's "now"; the store at ``path`` is (re)built unless it holds ``lines`` lines."""
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        with Store.open(path) as st:
            if log_stats(st)[0] == lines:
                return int(json.loads(meta.read_text())["now_ns"])
    for p in (path, meta, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)
    now = time.time_ns()
    t = time.process_time()
    with Store.open(path) as st:
        st.conn.execute("PRAGMA synchronous=OFF")  # a benchmark's input: no crash safety needed
        fill(st, lines, HOURS, now)
    cpu = time.process_time() - t
    meta.write_text(json.dumps({"now_ns": now, "lines": lines, "build_cpu_s": cpu}))
    print(f"built {lines:,} lines in {cpu:.0f} CPU s ({lines / cpu:,.0f} lines/CPU-s through "
          "insert_logs)")
    return now


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=10_000_000)
    ap.add_argument("--store", type=Path, default=Path("/tmp/perflab-logs-10m.db"))
    ap.add_argument("--exact", action="store_true", help="also count through the lines")
    args = ap.parse_args()
    now = build(args.store, args.lines)
    hour = 3600 * 10**9
    size = sum(p.stat().st_size for p in (args.store, Path(f"{args.store}-wal")) if p.exists())
    print(f"store: {args.lines:,} lines over {HOURS} h, {size / 1e9:.2f} GB "
          f"({size / args.lines:.0f} bytes a line)")
    with Store.open(args.store) as st:
        search = f'{{job=~".+"}} |= `handled request {args.lines - 7}"`'
        took = best(lambda: query_range(st, search, now - hour, now))
        hits = query_range(st, search, now - hour, now)["result"]
        print(f"text search |= over the last hour: {took * 1000:.1f} ms "
              f"({sum(len(s['values']) for s in hits)} hit)")  # type: ignore[typeddict-item]
        rare = '{job=~".+"} |= "request 99999"'  # a prefix of its last word
        took = best(lambda: query_range(st, rare, now - hour, now))
        print(f"text search |= with a prefix word, last hour: {took * 1000:.1f} ms")
        inside = '{job=~".+"} |= "999993"'  # inside one word: no word to look up
        took = best(lambda: query_range(st, inside, now - hour, now, limit=5000), n=1)
        print(f"text search |= that the index cannot narrow (every line of the hour checked):"
              f" {took * 1000:.0f} ms")
        count = f'sum by (level) (count_over_time({{job=~".+"}}[{HOURS}h]))'
        took = best(lambda: query_instant(st, count, now))
        result = query_instant(st, count, now)["result"]
        total = sum(int(r["value"][1]) for r in result)  # type: ignore[typeddict-item]
        print(f"sum by (level) (count_over_time([{HOURS}h])) at now: {took * 1000:.1f} ms "
              f"({total:,} lines)")
        step = 'sum by (level) (count_over_time({job=~".+"}[5m]))'
        start = (now - HOURS * hour) // 60_000_000_000 * 60_000_000_000
        took = best(lambda: query_range(st, step, start, start + HOURS * hour,
                                        step_ns=300 * 10**9))
        print(f"sum by (level) (count_over_time([5m])) over {HOURS} h, step 5m: "
              f"{took * 1000:.1f} ms")
        if args.exact:
            lines = f'sum by (level) (count_over_time({{job=~".+"}} |= "level" [{HOURS}h]))'
            took = best(lambda: query_instant(st, lines, now), n=1)
            print(f"the same count through the lines: {took * 1000:.0f} ms")


if __name__ == "__main__":
    main()
