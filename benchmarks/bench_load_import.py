"""How long ``perflab load import`` takes on a big access log, and ``load coverage`` of the
scenario it makes against that log (docs/load.md, "Scenarios from production traffic").

A synthetic combined log of N lines (default 120,000: a busy service's minute at 2,000/s) with
a realistic spread of endpoints: numeric ids, UUIDs, queries, a long tail of rare paths. Prints
the wall time of each step (median of 3), and the lines per second of the read.

    python benchmarks/bench_load_import.py [LINES]
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from perflab.load import (  # noqa: E402  # after the checkout's src/ is on the path
    coverage_document,
    read_traffic,
    render_scenario,
)

LINE = ('10.1.{a}.{b} - - [03/Dec/2026:10:{m:02d}:{s:02d} +0000] "{method} {path} HTTP/1.1" '
        '{status} {size} "-" "Mozilla/5.0 (X11; Linux x86_64)"\n')


def _path(rng: random.Random) -> tuple[str, str]:
    r = rng.random()
    if r < 0.5:
        return "GET", f"/api/users/{rng.randrange(1, 100_000)}"
    if r < 0.75:
        return "GET", f"/api/orders/{uuid.UUID(int=rng.getrandbits(128))}/items"
    if r < 0.9:
        return "GET", f"/api/search?q=w{rng.randrange(1000)}&page={rng.randrange(5)}"
    if r < 0.97:
        return "POST", "/api/cart"
    return "GET", f"/static/rare-{rng.randrange(200)}.js"  # a long tail of endpoints


def write_log(path: Path, lines: int) -> None:
    rng = random.Random(1)
    with path.open("w") as fh:
        for i in range(lines):
            method, p = _path(rng)
            t = i * 60 // lines
            fh.write(LINE.format(a=i % 200, b=i % 250, m=t // 60, s=t % 60, method=method,
                                 path=p, status=200, size=rng.randrange(100, 5000)))


def _median(fn, runs: int = 3) -> float:  # a step of the benchmark
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 120_000
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "access.log"
        write_log(log, lines)
        read_s = _median(lambda: read_traffic(str(log)))
        traffic = read_traffic(str(log))
        scenario = Path(tmp) / "s.py"
        render_s = _median(lambda: scenario.write_text(render_scenario(traffic)))
        replay_s = _median(lambda: render_scenario(traffic, replay=True))
        cover_s = _median(lambda: coverage_document(str(scenario), traffic))
        doc = coverage_document(str(scenario), traffic)
    print(f"lines                {lines:,}")
    print(f"read (parse)         {read_s:.2f} s  ({lines / read_s:,.0f} lines/s)")
    print(f"write scenario       {render_s:.2f} s")
    print(f"write replay         {replay_s:.2f} s")
    print(f"coverage (dry run)   {cover_s:.2f} s  -> {doc['coverage_pct']:.1f} %")


if __name__ == "__main__":
    main()
