"""The cost of lockwatch on a lock-heavy Python service, end to end (the figure of issue 15:
overhead <= 5 %).

    PYTHONPATH=src python benchmarks/bench_lockwatch_overhead.py [--rounds 12] [--requests 8000]

The service (benchmarks/_lock_service.py) takes ten locks per request; the agent is on in both
cases, lockwatch only in one. Rounds alternate in pairs (off, on, off, on, ...) so drift on the
shared machine hits both alike; each round starts a fresh service and sends a fixed number of
requests over keep-alive connections from 4 client threads on loopback.

The figure is the service's CPU time per request (user + system of all its threads, from
/proc/PID/stat, over the measured requests only): on a machine shared with other work, the CPU a
request costs is steadier than requests per second, which moves with whatever else runs. The
overhead is the median of the pairs' ratios (on / off) with a bootstrap 95 % interval; the
throughput of each setting is printed beside it.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

SERVICE = Path(__file__).parent / "_lock_service.py"


def _client(port: int, n: int, errors: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for i in range(n):
            conn.request("GET", f"/item/{i % 50}")
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                errors.append(str(resp.status))
    finally:
        conn.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the whole process (its ended threads included), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_round(*, watched: bool, requests: int, clients: int = 4) -> tuple[float, float]:
    """(CPU seconds of the service per request, requests per second) of one fresh service."""
    env = {**os.environ, "PERFLAB_DEBUG": "1", "LOCKWATCH": "1" if watched else "0"}
    proc = subprocess.Popen([sys.executable, str(SERVICE)], stdout=subprocess.PIPE, text=True,
                            env=env)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        _client(port, 50, [])  # warm-up
        errors: list[str] = []
        threads = [threading.Thread(target=_client, args=(port, requests // clients, errors))
                   for _ in range(clients)]
        cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        cpu = cpu_seconds(proc.pid) - cpu0
        if errors:
            raise SystemExit(f"errors: {errors[:5]}")
        return cpu / requests, requests / elapsed
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def median_interval(values: list[float], *, resamples: int = 4000,
                    seed: int = 15) -> tuple[float, float, float]:
    """The median and a bootstrap 95 % interval of it."""
    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(values, k=len(values)))
                  for _ in range(resamples))
    return statistics.median(values), meds[int(0.025 * resamples)], meds[int(0.975 * resamples)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--requests", type=int, default=8000)
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    off: list[tuple[float, float]] = []
    on: list[tuple[float, float]] = []
    for _ in range(args.rounds):
        off.append(one_round(watched=False, requests=args.requests))
        on.append(one_round(watched=True, requests=args.requests))
    for name, rounds in (("without lockwatch", off), ("with lockwatch   ", on)):
        us = [c * 1e6 for c, _ in rounds]
        print(f"{name}: {statistics.median(us):.0f} us CPU/request "
              f"(rounds {min(us):.0f}-{max(us):.0f}), "
              f"{statistics.median(r for _, r in rounds):.0f} req/s")
    ratios = [(b[0] / a[0] - 1) * 100 for a, b in zip(off, on, strict=True)]
    med, lo, hi = median_interval(ratios)
    print(f"CPU per request with lockwatch: {med:+.1f} % (95 % interval {lo:+.1f} .. {hi:+.1f} %, "
          f"{len(ratios)} alternating pairs; target <= 5 %)")
    tput = [(1 - b[1] / a[1]) * 100 for a, b in zip(off, on, strict=True)]
    print(f"throughput lost (median of pairs): {statistics.median(tput):.1f} %")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    plain, watched = per_acquire()
    print(f"one uncontended `with lock:` (acquire + release): {plain:.0f} ns plain, "
          f"{watched:.0f} ns watched")


def per_acquire(n: int = 200_000) -> tuple[float, float]:
    """ns per `with lock:` on a plain and on a watched lock (lockwatch on in this process)."""
    import timeit  # noqa: PLC0415

    from perflab.debug import lockwatch  # noqa: PLC0415

    plain = threading.Lock()
    lockwatch(report=None)
    watched = threading.Lock()
    stmt = "with lock: pass"
    t_plain = min(timeit.repeat(stmt, globals={"lock": plain}, number=n, repeat=5))
    t_watched = min(timeit.repeat(stmt, globals={"lock": watched}, number=n, repeat=5))
    return t_plain / n * 1e9, t_watched / n * 1e9


if __name__ == "__main__":
    main()
