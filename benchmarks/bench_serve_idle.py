"""CPU of an idle `perflab serve` that records this machine in the background (target <= 2 %).

CPU time (utime + stime of the server process, all threads) over a wall-clock window, so the
figure does not depend on how busy the machine's other tenants are.

Usage: python benchmarks/bench_serve_idle.py [--seconds 60] [--interval 1]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from perflab.store import Store
from perflab.testing import serve

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (proc(5) 14, 15)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--interval", type=float, default=1.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "idle.db"
        with serve(store, "--interval", str(args.interval)) as hub:
            time.sleep(5)  # start-up (imports, first ticks) is not idle
            c0, t0 = cpu_seconds(hub.pid), time.monotonic()
            time.sleep(args.seconds)
            c1, t1 = cpu_seconds(hub.pid), time.monotonic()
        with Store.open(store) as s:
            run = s.runs(kind="serve")[0]
            samples = sum(s.sample_counts(run.id).values())
            series = len(s.series(run.id))
    pct = 100 * (c1 - c0) / (t1 - t0)
    print(f"perflab serve idle, recording {series} series every {args.interval:g} s: "
          f"{pct:.2f} % of one core over {t1 - t0:.0f} s (target <= 2 %); run {run.id} "
          f"ended {run.status} with {samples} samples")


if __name__ == "__main__":
    main()
