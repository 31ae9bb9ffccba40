"""The Benchmarks page and its API on a large bench history, over HTTP from a real hub.

History: 200 commits x 50 benchmarks x 2 units (sec/op with a 20 % step at commit 120 in every
fifth benchmark, B/op flat), 10 values each — 20 000 series, 200 000 samples. Prints the median
of 5 requests for: the list API the first time (every history read and searched for change
points), the list API again (cached), one benchmark's history, the page's HTML, and the list
again after one more commit is recorded (the cache is rebuilt).

    PYTHONPATH=src python benchmarks/bench_benchmarks_page.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from perflab.bench import Result, ResultSet, Value, record_results
from perflab.store import Store
from perflab.testing import serve

COMMITS, BENCHES, VALUES = 200, 50, 10
T0 = 1_790_000_000 * 10**9


def results(rng: np.random.Generator, i: int) -> ResultSet:
    rs = ResultSet()
    for b in range(BENCHES):
        level = 1e-6 * (1 + b) * (1.2 if b % 5 == 0 and i >= 120 else 1.0)
        for v in level * (1 + rng.normal(0, 0.02, VALUES)):
            rs.results.append(Result(f"Bench{b:02d}/size=1k-8",
                                     (Value(float(v), "sec/op"), Value(4096.0, "B/op")), "f"))
    return rs


def build(path: Path) -> None:
    rng = np.random.default_rng(3)
    with Store.open(path) as store:
        for i in range(COMMITS):
            record_results(store, results(rng, i), commit=f"{i:040x}", branch="main",
                           time_ns=T0 + i * 3600 * 10**9)


def timed(url: str, n: int = 5) -> tuple[float, httpx.Response]:
    times = []
    r = None
    for _ in range(n):
        start = time.perf_counter()
        r = httpx.get(url, timeout=120)
        times.append(time.perf_counter() - start)
        r.raise_for_status()
    assert r is not None
    return statistics.median(times), r


def main() -> int:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bench.db"
        start = time.perf_counter()
        build(path)
        print(f"built {COMMITS} commits x {BENCHES} benchmarks x 2 units in "
              f"{time.perf_counter() - start:.1f} s")
        with serve(path, "--no-record") as hub:
            url = hub.url
            first, r = timed(url + "/api/benchmarks", n=1)
            changes = sum(len(b["changes"]) for b in r.json()["benchmarks"])
            print(f"list, first (read + change points): {first * 1e3:.0f} ms; "
                  f"{len(r.json()['benchmarks'])} histories, {changes} change points "
                  f"(planted: {BENCHES // 5})")
            cached, _ = timed(url + "/api/benchmarks")
            print(f"list, cached: {cached * 1e3:.1f} ms")
            one, r = timed(url + "/api/benchmarks/Bench00/size=1k-8?unit=sec/op")
            print(f"one benchmark, {len(r.json()['histories'][0]['points'])} points: "
                  f"{one * 1e3:.1f} ms")
            page, _ = timed(url + "/benchmarks")
            print(f"page HTML: {page * 1e3:.1f} ms")
            rng = np.random.default_rng(4)
            with Store.open(path) as store:
                record_results(store, results(rng, COMMITS), commit="f" * 40, branch="main",
                               time_ns=T0 + COMMITS * 3600 * 10**9)
            again, r = timed(url + "/api/benchmarks", n=1)
            assert r.json()["benchmarks"][0]["commits"] == COMMITS + 1
            print(f"list after one more commit: {again * 1e3:.0f} ms")
    print(f"benchmarks page: list {first:.2f} s cold, {cached * 1e3:.1f} ms cached; "
          f"one history {one * 1e3:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
