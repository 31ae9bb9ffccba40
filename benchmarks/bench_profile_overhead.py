"""Profiling overhead: a CPU-bound target's own work rate with and without a ~100 Hz profiler
(issue 6: <= 5 %; issue 12: <= 2 %), and what py-spy's modes cost in accuracy. Python target
with py-spy, blocking (py-spy's default: it pauses the target to read each sample) and
``--nonblocking`` (it reads the target's memory while it runs); Go target with perf.

    PYTHONPATH=src python benchmarks/bench_profile_overhead.py [--seconds 4] [--pairs 3]
        [--modes blocking,nonblocking] [--no-go]

Each pair runs two copies of the target at the same time, one of them profiled (which one
alternates), so that load from other work on the machine hits both alike (one run after the
other, as until issue 12, the pairs' ratios spread over +-20 % on 2 shared cores); each figure
is the median over the pairs of profiled/unprofiled. Two rates per target: work per wall-clock
second (what "slows" means: py-spy's default pauses the target while it reads it) and work
per CPU-second of the target (insensitive to the other work on the machine).

Accuracy (py-spy): the Python target spends a known share of its CPU time in ``hot`` (3/4 of
the work) and the rest in ``cold``, measured by the target itself with its CPU clock (which
stops while py-spy pauses it). For each mode: ``hot``'s share of the samples in ``hot`` or
``cold`` against that truth (in percentage points), the samples taken a second (the profiler
starts ~0.5 s after the target: at most ~87 of 99), and the share of samples whose stack is
not one the program can have (``<module>`` then ``hot`` or ``cold``, or ``<module>`` alone):
a stack read while the target ran on, torn.
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

from perflab.profile import read_profile

SPIN_PY = textwrap.dedent("""
    import sys, time
    def hot(n):
        s = 0
        for i in range(n):
            s += i * i
        return s
    def cold(n):
        s = 0
        for i in range(n):
            s += i * i
        return s
    end = time.monotonic() + float(sys.argv[1])
    clock = time.process_time
    rounds = 0
    t_hot = t_cold = 0.0
    while time.monotonic() < end:
        t0 = clock()
        hot(3000)
        t1 = clock()
        cold(1000)
        t2 = clock()
        t_hot += t1 - t0
        t_cold += t2 - t1
        rounds += 1
    print(t_hot / (t_hot + t_cold), rounds)
""")
GO_MAIN = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "go" / "workload"


def run_pair(argv: list[str], profiler: list[str], profiled: int
             ) -> list[tuple[float, float, str]]:
    """Two copies of the target at once, copy ``profiled`` (0 or 1) under the profiler: for
    each, (work per wall second, work per CPU second, its output)."""
    t0 = time.monotonic()
    targets = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    prof = subprocess.Popen([*profiler, str(targets[profiled].pid)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = []
    for target in targets:
        assert target.stdout is not None
        out = target.stdout.read()
        target.stdout.close()
        _, _status, usage = os.wait4(target.pid, 0)
        target.returncode = 0
        rounds = int(out.split()[-1])
        results.append((rounds / (time.monotonic() - t0),
                        rounds / (usage.ru_utime + usage.ru_stime), out))
    prof.wait(timeout=120)
    return results


def accuracy(path: str, truth: float, seconds: float) -> tuple[float, float, float]:
    """(hot's share of the hot or cold samples minus the truth in pp, samples per second,
    torn share)."""
    prof = read_profile(path)
    valid = {("<module>",), ("<module>", "hot"), ("<module>", "cold")}
    counts = {"hot": 0, "cold": 0, "all": 0, "torn": 0}
    for sample in prof.samples:
        stack = tuple(prof.frames[i].function for i in reversed(sample.stack))
        n = sample.values[0]
        counts["all"] += n
        if stack in valid and len(stack) == 2:
            counts[stack[1]] += n
        elif stack not in valid:
            counts["torn"] += n
    timed = max(counts["hot"] + counts["cold"], 1)
    return (100 * (counts["hot"] / timed - truth), counts["all"] / seconds,
            100 * counts["torn"] / max(counts["all"], 1))


def measure(name: str, argv: list[str], profiler: list[str], pairs: int, *,
            out: str | None = None, seconds: float = 0.0) -> None:
    wall_ratios, cpu_ratios, acc = [], [], []
    for i in range(pairs):
        profiled = i % 2
        runs = run_pair(argv, profiler, profiled)
        with_p, base = runs[profiled], runs[1 - profiled]
        wall_ratios.append(with_p[0] / base[0])
        cpu_ratios.append(with_p[1] / base[1])
        if out is not None:
            acc.append(accuracy(out, float(with_p[2].split()[0]), seconds))
    wall = statistics.median(wall_ratios)
    cpu = statistics.median(cpu_ratios)
    print(f"{name}: slowdown at 99 Hz = {100 * (1 - cpu):+.1f}% (work per CPU-second of the "
          f"target, with/without = {cpu:.3f}; pairs {[round(r, 3) for r in cpu_ratios]}; "
          f"goal 2%); wall-clock ratio {wall:.3f} (pairs {[round(r, 3) for r in wall_ratios]})")
    if acc:
        err, rate, torn = (statistics.median(a[i] for a in acc) for i in range(3))
        print(f"{name}: accuracy: share of `hot` {err:+.1f} pp from the truth (pairs "
              f"{[round(a[0], 1) for a in acc]}), {rate:.0f} samples/s of the target's run, "
              f"{torn:.2f}% torn stacks")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--modes", default="blocking,nonblocking",
                    help="py-spy modes to measure, comma-separated")
    ap.add_argument("--no-go", action="store_true", help="skip the Go target with perf")
    args = ap.parse_args()
    secs = str(args.seconds)
    perflab = [sys.executable, "-m", "perflab", "profile", "--rate", "99", "--top", "0",
               "-d", f"{args.seconds + 5}s"]
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "spin.py"
        script.write_text(SPIN_PY)
        for mode in args.modes.split(","):
            flag = ["--nonblocking"] if mode == "nonblocking" else ["--blocking"]
            measure(f"python+py-spy {mode}", [sys.executable, str(script), secs],
                    [*perflab, "--backend", "py-spy", *flag, "-o", f"{tmp}/py.pb.gz"],
                    args.pairs, out=f"{tmp}/py.pb.gz", seconds=args.seconds)
        go = shutil.which("go")
        if args.no_go:
            return 0
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
