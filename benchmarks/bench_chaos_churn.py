"""The fault proxy under connection churn, against direct connections in the same run: new
connections opened at a steady rate, each sends a 64-byte ping, reads the echo and closes.

- each connection's time, from when it was due (open model: a late start counts, as wrk2
  counts it) to its close: p50, p99 and max, direct and through the proxy, and the difference;
- connections that failed (refused, reset, timed out after 10 s);
- the proxy's CPU per connection (utime + stime over the churn): the proxy, the clients and
  the echo server share the machine, so its cost is read in CPU time, not in throughput;
- the API's answer time meanwhile: a latency toxic added and removed 50 times with reads
  between (the issue's figure: within 50 ms while 1,000 connections pass through);
- what the churn left behind: the proxy's open file descriptors and resident set size before
  and 2 s after (each closed connection must release both of its sockets).

Each of ``--rounds`` rounds churns directly, then through a fresh ``perflab chaos proxy``
process twice: alone (its latency and CPU), then while the API is called (the API's figures,
and the churn's latency meanwhile). Traffic stays on 127.0.0.1.

    python benchmarks/bench_chaos_churn.py [--rate 500] [--seconds 10] [--rounds 3]

The ephemeral ports bound the rate (``_ports_refusal``).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from bench_chaos_proxy import (
    PING,
    ApiFigures,
    loopback_servers,
    quantile,
    running_proxy,
    status_kib,
    toxic_calls,
)
from perflab.testing import free_port

CONNECT_TIMEOUT_S = 10.0


class Churn(NamedTuple):
    """One churn's connections: each one's time (s) from when it was due to its close."""

    times: list[float]
    failed: int
    errors: dict[str, int]

    def quantile(self, q: float) -> float:
        return quantile(self.times, q) if self.times else float("nan")

    def __str__(self) -> str:
        return (f"{len(self.times)} connections, p50 {self.quantile(0.5) * 1e3:.2f} ms, "
                f"p99 {self.quantile(0.99) * 1e3:.2f} ms, "
                f"max {max(self.times, default=float('nan')) * 1e3:.1f} ms, "
                f"{self.failed} failed{f' {self.errors}' if self.errors else ''}")


def _churn(port: int, rate: float, seconds: float,
           out: multiprocessing.Queue[Churn]) -> None:
    """Open ``rate`` connections a second to ``port`` for ``seconds``; put the Churn."""
    import uvloop  # noqa: PLC0415

    times: list[float] = []
    errors: dict[str, int] = {}

    async def one(due: float) -> None:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port), CONNECT_TIMEOUT_S)
            writer.write(PING)
            await asyncio.wait_for(reader.readexactly(len(PING)), CONNECT_TIMEOUT_S)
            writer.close()
            await writer.wait_closed()
            times.append(time.monotonic() - due)
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

    async def go() -> None:
        start = time.monotonic()
        pending: set[asyncio.Task[None]] = set()
        for i in range(int(rate * seconds)):
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            task = asyncio.create_task(one(due))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)

    uvloop.run(go())
    out.put(Churn(times, sum(errors.values()), errors))


def churn(port: int, rate: float, seconds: float) -> tuple[multiprocessing.Process,
                                                            multiprocessing.Queue[Churn]]:
    """A churn against ``port`` started in its own process; its Churn comes on the queue."""
    out: multiprocessing.Queue[Churn] = multiprocessing.Queue()
    proc = multiprocessing.Process(target=_churn, args=(port, rate, seconds, out), daemon=True)
    proc.start()
    return proc, out


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Round(NamedTuple):
    direct: Churn
    proxied: Churn             # nothing else asked of the proxy
    cpu_us_per_connection: float
    with_api: Churn            # while the API adds and removes a toxic
    api: ApiFigures
    fds: tuple[int, int]       # the proxy's, before the churns and 2 s after them
    rss_kib: tuple[int, int]


def _run(port: int, rate: float, seconds: float) -> Churn:
    proc, out = churn(port, rate, seconds)
    got = out.get(timeout=seconds + 60)
    proc.join(30)
    return got


def one_round(echo_port: int, rate: float, seconds: float) -> Round:
    """Direct churn, then through a fresh proxy: alone, then while the API is called."""
    direct = _run(echo_port, rate, seconds)
    with running_proxy(None, {"echo": echo_port}) as proxy:
        pid, port = proxy.proc.pid, proxy.made["echo"]
        before = open_fds(pid), status_kib(pid, "VmRSS")
        cpu0 = cpu_s(pid)
        proxied = _run(port, rate, seconds)
        cpu = cpu_s(pid) - cpu0
        proc, out = churn(port, rate, seconds)
        time.sleep(min(1.0, seconds / 4))  # the churn under way
        proxy.calls = toxic_calls(proxy.api)
        proxy.rss_kib = status_kib(pid, "VmRSS")
        with_api = out.get(timeout=seconds + 60)
        proc.join(30)
        time.sleep(2.0)  # the last closes reach the proxy
        after = open_fds(pid), status_kib(pid, "VmRSS")
    done = max(1, len(proxied.times) + proxied.failed)
    return Round(direct, proxied, cpu / done * 1e6, with_api, proxy.figures(),
                 (before[0], after[0]), (before[1], after[1]))


def _ports_refusal(rate: float) -> str | None:
    """Why ``rate`` would run out of ephemeral ports, or None. A proxied connection takes two
    (the client's, the proxy's upstream one); a closed one waits in TIME_WAIT for 60 s, unless
    ``net.ipv4.tcp_tw_reuse`` lets loopback connections reuse it after 1 s (2, the default)."""
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    reuse = int(Path("/proc/sys/net/ipv4/tcp_tw_reuse").read_text())
    held_s = 1 if reuse else 60
    needed = int(rate * 2 * held_s)
    if needed <= (high - low) // 2:
        return None
    return (f"{rate:g} connections/s would hold about {needed} ephemeral ports in TIME_WAIT "
            f"(tcp_tw_reuse={reuse}), more than half of {high - low + 1}; hint: lower --rate")


def _wait_listening(port: int) -> None:
    """Until the echo server accepts (a refused first connection would count as a failure)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
        else:
            return


def api_ms(r: Round, kind: str, of: Callable[[list[float]], float]) -> float:
    """``of`` the round's API calls of ``kind`` (their times in ms), in seconds."""
    return of(r.api.ms(kind)) / 1e3


def summary(rounds: list[Round]) -> str:
    """The rounds' figures, each as the range over the rounds."""
    def span(values: list[float], unit: str = "ms", scale: float = 1e3, digits: int = 2) -> str:
        return f"{min(values) * scale:.{digits}f} to {max(values) * scale:.{digits}f} {unit}"
    added = [r.proxied.quantile(0.5) - r.direct.quantile(0.5) for r in rounds]
    added99 = [r.proxied.quantile(0.99) - r.direct.quantile(0.99) for r in rounds]
    failed = sum(r.proxied.failed + r.with_api.failed for r in rounds)
    return (f"over {len(rounds)} rounds: added p50 {span(added)}, p99 {span(added99)}; "
            f"proxy CPU {span([r.cpu_us_per_connection for r in rounds], 'us', 1, 0)} a "
            f"connection; failed {failed} proxied, {sum(r.direct.failed for r in rounds)} "
            f"direct; API changes p50 "
            f"{span([api_ms(r, 'changes', statistics.median) for r in rounds])}, "
            f"max {span([api_ms(r, 'changes', max) for r in rounds])}; reads max "
            f"{span([api_ms(r, 'reads', max) for r in rounds])} (figure: within 50 ms); "
            f"proxy fds after the churns minus before: "
            f"{', '.join(str(r.fds[1] - r.fds[0]) for r in rounds)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0, help="New connections a second.")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if refusal := _ports_refusal(args.rate):
        sys.exit(f"bench_chaos_churn: {refusal}")
    echo_port = free_port()
    servers = multiprocessing.Process(target=loopback_servers, args=(echo_port, free_port(), 1),
                                      daemon=True)
    servers.start()
    _wait_listening(echo_port)
    print(f"load average at start: {os.getloadavg()[0]:.1f}; {args.rate:g} new connections/s "
          f"for {args.seconds:g} s, {args.rounds} rounds")
    rounds: list[Round] = []
    try:
        for i in range(args.rounds):
            r = one_round(echo_port, args.rate, args.seconds)
            rounds.append(r)
            p50, p99 = (r.proxied.quantile(q) - r.direct.quantile(q) for q in (0.5, 0.99))
            print(f"round {i + 1}: direct   {r.direct}\n"
                  f"         proxy    {r.proxied}\n"
                  f"         proxy+API {r.with_api}\n"
                  f"         added p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms; "
                  f"proxy CPU {r.cpu_us_per_connection:.0f} us a connection; "
                  f"fds {r.fds[0]} -> {r.fds[1]}, RSS {r.rss_kib[0] / 1024:.0f} -> "
                  f"{r.rss_kib[1] / 1024:.0f} MiB\n"
                  f"         API: {r.api}", flush=True)
    finally:
        servers.terminate()
    print(summary(rounds))
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
