"""What the open model's precise wake costs: CPU of the scheduler against its lateness.

The scheduler arms a timerfd some lead before each arrival and polls the event loop for the
rest: a fixed lead (``--spins 150``: 150 µs, what it did until issue 12) or the lead it
learns from its own wake-ups, at most half the time between arrivals (``auto``, what it does).
This runs the scheduler alone (arrivals started on nothing, so only its own cost is measured)
at a constant rate for each, alternating, and prints the CPU it takes (user + system, share
of one core), its lateness (started minus intended time) p50 / p99, and how many arrivals
were late by more than 1 ms:

    python benchmarks/bench_load_open_wake.py [--rate 1000] [--seconds 5] [--rounds 3]
        [--spins auto,150,50,0]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import time

import uvloop

from perflab.load._arrivals import Arrivals, OpenScheduler
from perflab.load._schedule import Schedule


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def measure(rate: float, seconds: float, spin_us: int | None
            ) -> tuple[float, list[int], int]:
    """(CPU share of one core, lateness of every arrival in ns, late arrivals)."""
    loop = uvloop.new_event_loop()
    try:
        start = time.monotonic_ns() + 50_000_000
        arrivals = Arrivals(Schedule.constant(rate, seconds), start, 0, 1)
        done = loop.create_future()
        sched = OpenScheduler(loop, arrivals, lambda _ns: True,
                              lambda: done.set_result(None),
                              spin_ns=None if spin_us is None else spin_us * 1000)
        lateness: list[int] = []
        late = 0

        async def run() -> None:
            nonlocal late
            await asyncio.sleep(0.04)
            sched.pump()
            while not done.done():  # take the lateness as a worker does, once a second
                await asyncio.wait([done], timeout=1.0)
                values, n = sched.take()
                lateness.extend(values)
                late += n

        cpu0, t0 = _cpu_s(), time.monotonic()
        loop.run_until_complete(run())
        share = (_cpu_s() - cpu0) / (time.monotonic() - t0)
        values, n = sched.take()
        lateness.extend(values)
        return share, lateness, late + n
    finally:
        loop.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--spins", default="auto,150,50,0",
                    help="µs, comma-separated; auto: the lead learnt from the wake-ups")
    a = ap.parse_args()
    spins = [None if x == "auto" else int(x) for x in a.spins.split(",")]
    rows: dict[int | None, list[tuple[float, float, float, int]]] = {s: [] for s in spins}
    for r in range(a.rounds):
        for spin in spins if r % 2 == 0 else spins[::-1]:
            share, lateness, late = measure(a.rate, a.seconds, spin)
            q = statistics.quantiles(lateness, n=100)
            rows[spin].append((share, q[49] / 1000, q[98] / 1000, late))
    print(f"open-model scheduler alone at {a.rate:g}/s for {a.seconds:g}s, median of "
          f"{a.rounds} alternating rounds")
    for spin, rs in rows.items():
        med = [statistics.median(x[i] for x in rs) for i in range(4)]
        label = "auto" if spin is None else f"{spin:4d}"
        print(f"spin {label} µs: CPU {100 * med[0]:5.1f}% of a core   lateness p50 "
              f"{med[1]:7.1f} µs  p99 {med[2]:8.1f} µs   late > 1 ms: {med[3]:.0f}")


if __name__ == "__main__":
    main()
