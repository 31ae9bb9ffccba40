"""What the regression check adds to `perflab demo` (brief: at most 10 s), and what it finds.

Runs the check exactly as the demo does (measure both versions of render_items with the bench
runner, record them as two commits, compare) on a scratch store, several times. Prints, per
round, the wall time, the CPU time of this process and its worker processes, and the slowdown
found with its p-value and the values per version (10, or up to 20 when sequential testing added
workers); then the worst wall time against the 10 s budget. To see it hold on a busy machine,
run it beside `stress-ng --cpu $(nproc)`.

    PYTHONPATH=src python benchmarks/bench_demo_regression.py [ROUNDS]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from perflab.demo._regression import check
from perflab.store import Store

BUDGET_S = 10.0


def cpu_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    worst = 0.0
    with tempfile.TemporaryDirectory() as d, Store.open(Path(d) / "s.db") as store:
        for i in range(rounds):
            wall0, cpu0 = time.monotonic(), cpu_s()
            f = check(store, demo_run_id=i + 1)
            wall, cpu = time.monotonic() - wall0, cpu_s() - cpu0
            worst = max(worst, wall)
            print(f"round {i + 1}: {wall:.2f} s wall, {cpu:.2f} s CPU; v2/v1 = {f.ratio:.3f} "
                  f"({f.delta_pct:+.1f} %), p = {f.pvalue:.2g}, n = {f.old.n}+{f.new.n}, "
                  f"detected = {f.detected}")
    load = os.getloadavg()[0]
    print(f"demo regression check: worst {worst:.2f} s of {BUDGET_S:.0f} s budget "
          f"(ratio {worst / BUDGET_S:.2f}; load average {load:.1f})")
    return 0 if worst <= BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
