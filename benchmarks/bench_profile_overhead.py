"""Profiling overhead: a CPU-bound target's own work rate with and without a ~100 Hz profiler
(issue 6: <= 5 % slower). Python target with py-spy; Go target with perf.

    PYTHONPATH=src python benchmarks/bench_profile_overhead.py [--seconds 4] [--pairs 3]

Runs are interleaved (without, with, without, with ...) so that load from other work on the
machine hits both sides alike; each figure is the median over the pairs of with/without.
Two rates per run: work per wall-clock second (what "slows" means: py-spy pauses the target
while it reads it) and work per CPU-second of the target (insensitive to other load).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

SPIN_PY = textwrap.dedent("""
    import sys, time
    def inner(n):
        s = 0
        for i in range(n):
            s += i * i
        return s
    end = time.monotonic() + float(sys.argv[1])
    rounds = 0
    while time.monotonic() < end:
        inner(2000)
        rounds += 1
    print(rounds)
""")
GO_MAIN = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "go" / "workload"


def run(argv: list[str], profiler: list[str] | None) -> tuple[float, float]:
    """(work per wall second, work per CPU second) of one run of the target."""
    t0 = time.monotonic()
    target = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    prof = None
    if profiler is not None:
        prof = subprocess.Popen([*profiler, str(target.pid)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    assert target.stdout is not None
    out = target.stdout.read()
    target.stdout.close()
    _, _status, usage = os.wait4(target.pid, 0)
    target.returncode = 0
    wall = time.monotonic() - t0
    if prof is not None:
        prof.wait(timeout=120)
    rounds = int(out.split()[-1])
    return rounds / wall, rounds / (usage.ru_utime + usage.ru_stime)


def measure(name: str, argv: list[str], profiler: list[str], pairs: int) -> None:
    wall_ratios, cpu_ratios = [], []
    for _ in range(pairs):
        base = run(argv, None)
        with_p = run(argv, profiler)
        wall_ratios.append(with_p[0] / base[0])
        cpu_ratios.append(with_p[1] / base[1])
    wall = statistics.median(wall_ratios)
    cpu = statistics.median(cpu_ratios)
    print(f"{name}: slowdown at 99 Hz = {100 * (1 - cpu):+.1f}% (work per CPU-second of the "
          f"target, with/without = {cpu:.3f}; limit 5%); wall-clock ratio {wall:.3f} "
          f"(pairs {[round(r, 3) for r in wall_ratios]}: the profiler shares the machine's "
          f"cores with the target, so this one carries other load too)")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--pairs", type=int, default=3)
    args = ap.parse_args()
    secs = str(args.seconds)
    perflab = [sys.executable, "-m", "perflab", "profile", "--rate", "99", "--top", "0",
               "-d", f"{args.seconds + 5}s"]
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "spin.py"
        script.write_text(SPIN_PY)
        measure("python+py-spy", [sys.executable, str(script), secs],
                [*perflab, "--backend", "py-spy", "-o", f"{tmp}/py.pb.gz"], args.pairs)
        go = shutil.which("go")
        if go is None:
            print("go: not installed, Go target skipped")
            return 0
        env = {**os.environ, "GOCACHE": f"{tmp}/cache", "GOPATH": f"{tmp}/gopath", "GOFLAGS": ""}
        shutil.copytree(GO_MAIN, f"{tmp}/src")
        subprocess.run([go, "build", "-o", f"{tmp}/workload", "."], cwd=f"{tmp}/src", env=env,
                       check=True)
        measure("go+perf", [f"{tmp}/workload", "spin", secs],
                [*perflab, "--backend", "perf", "-o", f"{tmp}/go.pb.gz"], args.pairs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
