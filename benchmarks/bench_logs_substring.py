"""A ``|=`` substring that sits inside words (so the word index cannot narrow it) over the
last hour of the 10 M-line store ``bench_logs_big.py`` builds (about 417k lines in the hour,
every one checked in SQLite): CPU seconds and wall time of each of ``--rounds`` runs of
``query_range``, in this process, on the store opened once (SQLite's page cache warm after
the first). CPU time is the figure to compare on a shared machine.

    python benchmarks/bench_logs_substring.py [--store /tmp/perflab-logs-10m.db] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from perflab.logs import query_range
from perflab.store import Store

QUERIES = ('{job=~".+"} |= "999993"', '{job=~".+"} |= "ndled req"')


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", type=Path, default=Path("/tmp/perflab-logs-10m.db"))
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    now = int(json.loads(args.store.with_suffix(".json").read_text())["now_ns"])
    hour = 3600 * 10**9
    with Store.open(args.store) as st:
        for query in QUERIES:
            cpu, wall, hits = [], [], 0
            for _ in range(args.rounds):
                c, t = time.process_time(), time.perf_counter()
                got = query_range(st, query, now - hour, now, limit=100)
                cpu.append(time.process_time() - c)
                wall.append(time.perf_counter() - t)
                hits = sum(len(s["values"]) for s in got["result"])  # type: ignore[typeddict-item]
            ms = [f"{x * 1000:.0f}" for x in (statistics.median(cpu), min(cpu), max(cpu),
                                              statistics.median(wall), min(wall), max(wall))]
            print(f"{query}  ({hits} lines, limit 100): CPU median {ms[0]} ms (range "
                  f"{ms[1]}-{ms[2]}), wall median {ms[3]} ms (range {ms[4]}-{ms[5]})")


if __name__ == "__main__":
    main()
