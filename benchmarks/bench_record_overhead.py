"""CPU cost of `perflab record --interval 1s --all-processes`, as % of one core (target <= 1 %).

Runs the real command in a subprocess and reads its CPU time from /proc/PID/stat over the
steady state (after start-up and the first ticks), once with the processes this machine has and
once with 300 extra idle processes (`sleep`).

    python benchmarks/bench_record_overhead.py [--seconds 60] [--extra 300]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

USER_HZ = os.sysconf("SC_CLK_TCK")
WARMUP_S = 5.0  # imports, store creation and the first ticks (series creation) are excluded


def cpu_seconds(pid: int) -> float:
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / USER_HZ  # utime + stime


def run_seconds(pid: int) -> float:
    """CPU time from /proc/PID/schedstat: nanosecond-exact, where stat's ticks are sampled."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


def process_count() -> int:
    return sum(1 for n in os.listdir("/proc") if n.isdigit())


def measure(seconds: float, store: Path) -> tuple[float, float, float, int]:
    """% of one core: steady state (stat), steady state (schedstat), with start-up; processes."""
    cmd = [sys.executable, "-m", "perflab", "record", "--interval", "1s", "--all-processes",
           "--duration", f"{seconds + WARMUP_S + 1}s", "--store", str(store), "--json"]
    t_start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(WARMUP_S)
        c0, r0, t0 = cpu_seconds(proc.pid), run_seconds(proc.pid), time.monotonic()
        n = process_count()
        time.sleep(seconds)
        c1, r1, t1 = cpu_seconds(proc.pid), run_seconds(proc.pid), time.monotonic()
        total_pct = 100.0 * c1 / (t1 - t_start)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    wall = t1 - t0
    return 100.0 * (c1 - c0) / wall, 100.0 * (r1 - r0) / wall, total_pct, n


def report(seconds: float, store: Path) -> None:
    pct, exact, total, n = measure(seconds, store)
    print(f"record overhead, {n} processes: {pct:.2f}% of one core in steady state "
          f"(schedstat: {exact:.2f}%; {total:.2f}% with start-up) over {seconds:.0f}s "
          f"(target <= 1%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="steady-state window")
    parser.add_argument("--extra", type=int, default=300, help="idle processes to add")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report(args.seconds, Path(tmp) / "a.db")
        sleepers = [subprocess.Popen(["sleep", "3600"]) for _ in range(args.extra)]
        try:
            report(args.seconds, Path(tmp) / "b.db")
        finally:
            for s in sleepers:
                s.kill()
            for s in sleepers:
                s.wait()


if __name__ == "__main__":
    main()
