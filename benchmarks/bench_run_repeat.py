"""`perflab bench run` twice on the same quiet benchmark: medians within 2 % (issue 5).

A pure-Python function (no I/O, no allocation churn) is run twice with the default settings
(4 worker processes x 5 values, 100 ms per value), once per clock. Prints the ratio of the two
medians per clock; the figure is |ratio - 1|.

    PYTHONPATH=src python benchmarks/bench_run_repeat.py
"""

from __future__ import annotations

import statistics
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


def main() -> int:
    worst = 0.0
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "bench_quiet.py"
        f.write_text(QUIET)
        benches = discover([str(f)])
        for clock in ("cpu", "wall"):
            medians = []
            for _ in range(2):
                (m,) = run_benchmarks(benches, clock=clock)
                medians.append(statistics.median(m.values))
            ratio = medians[1] / medians[0]
            worst = max(worst, abs(ratio - 1))
            print(f"run twice, clock={clock}: medians {medians[0] * 1e6:.2f} µs and "
                  f"{medians[1] * 1e6:.2f} µs, ratio {ratio:.4f} "
                  f"(|diff| {abs(ratio - 1) * 100:.2f}%, limit 2%)")
    return 0 if worst <= 0.02 else 1


if __name__ == "__main__":
    sys.exit(main())
