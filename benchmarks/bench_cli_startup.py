"""How long `perflab --help` and each `perflab CMD --help` take (target: < 0.5 s each).

Usage: python benchmarks/bench_cli_startup.py [--repeat 5]
Prints one line per command with the median wall time, and the ratio to a bare `python -c pass`
(the floor no Python CLI can go below).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from perflab.cli import COMMANDS


def median_time(argv: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    floor = median_time([sys.executable, "-c", "pass"], args.repeat)
    print(f"python -c pass: {floor * 1e3:.0f} ms")
    worst = 0.0
    for cmd in [None, *sorted(COMMANDS)]:
        argv = [sys.executable, "-m", "perflab", *([cmd] if cmd else []), "--help"]
        t = median_time(argv, args.repeat)
        worst = max(worst, t)
        label = f"perflab {cmd} --help" if cmd else "perflab --help"
        print(f"{label:32s} {t * 1e3:6.0f} ms  ({t / floor:.1f}x python -c pass)")
    print(f"slowest --help: {worst * 1e3:.0f} ms (target < 500 ms)")


if __name__ == "__main__":
    main()
