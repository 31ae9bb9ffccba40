"""Where a `perflab load` run's CPU goes: the worker per request, and the rest (the command's
process, the worker's start) per run. Against nginx on loopback, `-c 50 --workers 1`.

`bench_load_cpu_vs_wrk.py` divides all the CPU by all the requests. On a loaded machine a
10 s run completes few requests, and the fixed part (interpreters, imports, the store) then
weighs more than the engine; this script separates the two. The worker's CPU is read from
`/proc/PID/stat` every 50 ms while it runs (its last 50 ms are missed: a share of a percent);
the rest is the run's CPU (`RUSAGE_CHILDREN`) minus the worker's.

    python benchmarks/bench_load_cpu_split.py [--rounds 5] [--duration 10] [--also OTHER/src]

prints each round and, per engine, the medians:

    perflab: 67,359 req/CPU-s; worker 13.58 us a request; the rest 0.27 s a run; wall 11.20 s

`--also OTHER/src` runs another perflab (an older commit) in alternating rounds. Bytecode is
kept in a private directory per engine and made by one unmeasured run each.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _load_targets import ENV, SRC, nginx

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    requests: int
    cpu_s: float
    worker_s: float
    wall_s: float

    @property
    def rest_s(self) -> float:
        return self.cpu_s - self.worker_s


def _cpu_s(pid: str) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK


def run_once(url: str, duration: int, src: str, pycache: str) -> Run:
    env = dict(ENV, PYTHONPATH=src, PYTHONPYCACHEPREFIX=pycache)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory(prefix="perflab-bench-store-") as tmp:
        r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "perflab", "load", url, "--workers", "1", "-c", "50",
             "-d", f"{duration}s", "--json", "--store", f"{tmp}/b.db"],
            env=env, stdout=subprocess.PIPE, text=True)
        workers: dict[str, float] = {}
        while proc.poll() is None:
            try:
                kids = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            except OSError:
                kids = []
            for kid in kids:
                cpu = _cpu_s(kid)
                if cpu is not None:
                    workers[kid] = cpu
            time.sleep(0.05)
        assert proc.stdout is not None
        doc = json.loads(proc.stdout.read())
        wall = time.monotonic() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    return Run(int(doc["requests"]), cpu, sum(workers.values()), wall)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--also", metavar="SRC", default=None)
    a = ap.parse_args()
    engines = {"perflab": SRC, **({"other": a.also} if a.also else {})}
    caches = {who: tempfile.TemporaryDirectory(prefix="perflab-bench-pyc-") for who in engines}
    runs: dict[str, list[Run]] = {who: [] for who in engines}
    with nginx() as (url, _pid):
        for who, src in engines.items():  # bytecode; not measured
            run_once(url, 1, src, caches[who].name)
        for r in range(a.rounds):
            order = list(engines) if r % 2 == 0 else list(engines)[::-1]
            for who in order:
                runs[who].append(run_once(url, a.duration, engines[who], caches[who].name))
            print(f"round {r + 1}: " + " | ".join(
                f"{who} {m.requests:,} req, CPU {m.cpu_s:.2f} s (worker {m.worker_s:.2f}, "
                f"rest {m.rest_s:.2f}), worker {m.worker_s / m.requests * 1e6:.2f} us/req, "
                f"wall {m.wall_s:.2f} s" for who, ms in runs.items() for m in ms[-1:]),
                flush=True)
    for who, ms in runs.items():
        print(f"{who}: {statistics.median(m.requests / m.cpu_s for m in ms):,.0f} req/CPU-s; "
              f"worker {statistics.median(m.worker_s / m.requests * 1e6 for m in ms):.2f} us "
              f"a request; the rest {statistics.median(m.rest_s for m in ms):.2f} s a run; "
              f"wall {statistics.median(m.wall_s for m in ms):.2f} s "
              f"(max {max(m.wall_s for m in ms):.2f} s)")


if __name__ == "__main__":
    main()
