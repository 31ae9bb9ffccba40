"""Throughput of a lock-heavy Python service with and without lockwatch (the figure of issue 15:
overhead <= 5 %).

    PYTHONPATH=src python benchmarks/bench_lockwatch_overhead.py [--rounds 4] [--requests 3000]

The service (benchmarks/_lock_service.py) takes ten locks per request; the agent is on in both
cases, lockwatch only in one. Rounds alternate (off, on, off, on, ...) so drift on the shared
machine hits both alike; each round starts a fresh service and sends a fixed number of requests
over keep-alive connections from 4 client threads on loopback. Prints the median requests/s of
each and the overhead.
"""

from __future__ import annotations

import argparse
import http.client
import os
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


def one_round(*, watched: bool, requests: int, clients: int = 4) -> float:
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
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        if errors:
            raise SystemExit(f"errors: {errors[:5]}")
        return requests / elapsed
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--requests", type=int, default=3000)
    args = ap.parse_args()
    off, on = [], []
    for _ in range(args.rounds):
        off.append(one_round(watched=False, requests=args.requests))
        on.append(one_round(watched=True, requests=args.requests))
    m_off, m_on = statistics.median(off), statistics.median(on)
    print(f"without lockwatch: {m_off:.0f} req/s (rounds: {', '.join(f'{x:.0f}' for x in off)})")
    print(f"with lockwatch:    {m_on:.0f} req/s (rounds: {', '.join(f'{x:.0f}' for x in on)})")
    print(f"overhead: {100 * (1 - m_on / m_off):.1f} % of throughput (target <= 5 %)")
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
