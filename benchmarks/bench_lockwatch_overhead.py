"""The cost of lockwatch on a lock-heavy Python service, end to end (the figure of issue 15:
overhead <= 5 %).

    PYTHONPATH=src python benchmarks/bench_lockwatch_overhead.py [--rounds 12] [--requests 8000]
        [--base OTHER/src]

The service (benchmarks/_lock_service.py) takes ten locks per request; the agent is on in every
setting, lockwatch only in some. Rounds alternate (off, on, off, on, ...) so drift on the shared
machine hits every setting alike; each round starts a fresh service and sends a fixed number of
requests over keep-alive connections from 4 client threads on loopback. ``--base`` adds a third
setting to every round: lockwatch as another checkout has it (its ``src`` first on the service's
PYTHONPATH), to compare two versions of lockwatch under the same load; the order of the settings
turns round by round.

The figure is the service's CPU time per request (user + system of all its threads, from
/proc/PID/stat, over the measured requests only): on a machine shared with other work, the CPU a
request costs is steadier than requests per second, which moves with whatever else runs. The
overhead is the median of the rounds' ratios (on / off) with a bootstrap 95 % interval; the
throughput of each setting is printed beside it. Last, the cost of one uncontended ``with lock:``
on a plain and on a watched lock (CPU time of the timing thread, best of 15).
"""

from __future__ import annotations

import argparse
import http.client
import json
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


def _env(*, watched: bool, src: str | None) -> dict[str, str]:
    env = {**os.environ, "PERFLAB_DEBUG": "1", "LOCKWATCH": "1" if watched else "0"}
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return env


def one_round(*, watched: bool, requests: int, clients: int = 4,
              src: str | None = None) -> tuple[float, float]:
    """(CPU seconds of the service per request, requests per second) of one fresh service."""
    proc = subprocess.Popen([sys.executable, str(SERVICE)], stdout=subprocess.PIPE, text=True,
                            env=_env(watched=watched, src=src))
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
    ap.add_argument("--base", help="another checkout's src: its lockwatch as a third setting")
    ap.add_argument("--per-acquire-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.per_acquire_only:  # in a child whose PYTHONPATH picks the lockwatch measured
        print(json.dumps(per_acquire()))
        return
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    settings: dict[str, dict[str, object]] = {
        "without lockwatch": {"watched": False}, "with lockwatch": {"watched": True}}
    if args.base:
        settings["with base's lockwatch"] = {"watched": True, "src": args.base}
    rounds: dict[str, list[tuple[float, float]]] = {name: [] for name in settings}
    names = list(settings)
    for i in range(args.rounds):
        for name in names[i % len(names):] + names[:i % len(names)]:
            rounds[name].append(one_round(requests=args.requests, **settings[name]))  # type: ignore[arg-type]
    width = max(map(len, names))
    for name in names:
        us = [c * 1e6 for c, _ in rounds[name]]
        print(f"{name:{width}}: {statistics.median(us):.0f} us CPU/request "
              f"(rounds {min(us):.0f}-{max(us):.0f}), "
              f"{statistics.median(r for _, r in rounds[name]):.0f} req/s")
    off = rounds[names[0]]
    for name in names[1:]:
        ratios = [(b[0] / a[0] - 1) * 100 for a, b in zip(off, rounds[name], strict=True)]
        med, lo, hi = median_interval(ratios)
        tput = [(1 - b[1] / a[1]) * 100 for a, b in zip(off, rounds[name], strict=True)]
        t_med, t_lo, t_hi = median_interval(tput)
        print(f"CPU per request {name}: {med:+.1f} % (95 % interval {lo:+.1f} .. {hi:+.1f} %, "
              f"{len(ratios)} rounds; target <= 5 %); throughput lost (median of rounds): "
              f"{t_med:.1f} % (95 % interval {t_lo:.1f} .. {t_hi:.1f} %)")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    srcs = {"": None} | ({" (base)": args.base} if args.base else {})
    for label, src in srcs.items():
        out = subprocess.run([sys.executable, __file__, "--per-acquire-only"], check=True,
                             capture_output=True, text=True, env=_env(watched=True, src=src))
        plain, watched = json.loads(out.stdout)
        print(f"one uncontended `with lock:` (acquire + release){label}: {plain:.0f} ns plain, "
              f"{watched:.0f} ns watched (+{watched - plain:.0f} ns)")


def per_acquire(n: int = 100_000) -> tuple[float, float]:
    """ns of CPU per `with lock:` on a plain and on a watched lock (lockwatch on in this
    process), the best of 15 alternating repeats each."""
    import timeit  # noqa: PLC0415

    from perflab.debug import lockwatch  # noqa: PLC0415

    plain = threading.Lock()
    lockwatch(report=None)
    watched = threading.Lock()
    best = {"plain": float("inf"), "watched": float("inf")}
    for _ in range(15):
        for name, lock in (("plain", plain), ("watched", watched)):
            t = timeit.timeit("with lock: pass", globals={"lock": lock}, number=n,
                              timer=time.thread_time)
            best[name] = min(best[name], t / n * 1e9)
    return best["plain"], best["watched"]


if __name__ == "__main__":
    main()
