"""`perflab bench run` twice on the same quiet benchmark: medians within 2 % (issue 5).

A pure-Python function (no I/O, no allocation churn) is run twice with the default settings
(4 worker processes x 5 values, 100 ms per value), once per clock, and the figure is
|ratio of the two medians - 1|. pyperf (``python -m pyperf timeit``, its defaults: 20 processes
x 3 values) runs the same function twice in the same rounds, so the figure can be read against
the machine's own noise: on a shared VM both drift by seconds-long spells of contention.

    PYTHONPATH=src python benchmarks/bench_run_repeat.py [--rounds 3] [--no-pyperf]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from perflab.bench._runner import discover, run_benchmarks

QUIET = """
def bench_quiet():
    total = 0
    for i in range(2000):
        total += i * i
    return total
"""


def perflab_median(benches: list, clock: str) -> float:
    (m,) = run_benchmarks(benches, clock=clock)
    return statistics.median(m.values)


def pyperf_median(directory: Path) -> float:
    out = directory / "pyperf.json"
    out.unlink(missing_ok=True)
    subprocess.run([sys.executable, "-m", "pyperf", "timeit", "--quiet", "-o", str(out),
                    "-s", QUIET, "bench_quiet()"], check=True, capture_output=True)
    runs = json.loads(out.read_text())["benchmarks"][0]["runs"]
    return statistics.median(v for r in runs for v in r.get("values", []))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3, help="pairs of runs per tool")
    parser.add_argument("--no-pyperf", action="store_true", help="perflab only")
    args = parser.parse_args()
    diffs: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "bench_quiet.py"
        f.write_text(QUIET)
        benches = discover([str(f)])
        tools = {"perflab clock=cpu": lambda: perflab_median(benches, "cpu"),
                 "perflab clock=wall": lambda: perflab_median(benches, "wall")}
        if not args.no_pyperf:
            tools["pyperf timeit (wall)"] = lambda: pyperf_median(Path(d))
        for _ in range(args.rounds):
            for name, once in tools.items():
                a, b = once(), once()
                diff = abs(b / a - 1) * 100
                diffs.setdefault(name, []).append(diff)
                print(f"run twice, {name}: medians {a * 1e6:.2f} µs and {b * 1e6:.2f} µs, "
                      f"|diff| {diff:.2f}%", flush=True)
    print()
    for name, values in diffs.items():
        within = sum(v <= 2 for v in values)
        print(f"{name:22} |diff| {', '.join(f'{v:.2f}%' for v in values)}  "
              f"({within}/{len(values)} within 2%)")
    worst = max(max(v) for k, v in diffs.items() if k.startswith("perflab"))
    return 0 if worst <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
