"""The fault proxy's cost and accuracy, against a direct connection in the same run:

- added p50 latency per request at 1,000 req/s (64-byte ping-pong on one connection, paced;
  the issue's figure: <= 100 us, Toxiproxy's README says < 100 us);
- throughput on one connection (a server sends --mib MiB, the client reads to the end;
  the issue's figure: >= 1 GB/s, Toxiproxy's ~1 GB/s on 4 cores);
- accuracy of a 100 ms latency toxic: measured added p50 (figure: within 2 ms);
- the API's answer time while --connections connections ping-pong through a proxy whose
  toxic is added and removed meanwhile (figure: within 50 ms; Toxiproxy's API hangs): the
  changes (POST, DELETE of the toxic) and the reads between them (GET its toxics, GET the
  proxy), each their p50, p90 and max.

With the API's figures go the proxy's cyclic collector passes that overlapped its calls (count
and longest per generation, their sum, the share of the slowest tenth of the calls' time spent
under one) and its resident set size under load, from a ``gc.callbacks`` probe that runs the
proxy (``_gc_probe.py``).

The proxy runs as `perflab chaos proxy` in its own process (a fresh store each time), the
servers in another.

    python benchmarks/bench_chaos_proxy.py [--requests 3000] [--mib 512] [--connections 1000]
                                           [--api-only]
                                           [--base OTHER/src [--variant SRC]... [--rounds 5]]

``--base`` compares the API's figures with another checkout's proxy (and ``--variant``'s): each
in turn, --rounds times, then per figure the median of the rounds' ratios (this / base) and its
bootstrap 95 % interval.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import requests

from perflab.testing import free_port

PING = b"p" * 64
PROBE = Path(__file__).with_name("_gc_probe.py")  # the proxy's collector passes, timed


class Call(NamedTuple):
    """One API call, on the monotonic clock (shared with the proxy's process)."""

    kind: str  # "changes" or "reads"
    start: float
    end: float


class Pass(NamedTuple):
    """One pass of the proxy's cyclic collector."""

    generation: int
    start: float
    end: float


def quantile(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile of ``values`` (not empty)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


@dataclasses.dataclass
class ApiFigures:
    """The API's calls under load, the collector's passes meanwhile, the proxy's memory."""

    calls: list[Call]
    passes: list[Pass]  # those that overlap the calls
    rss_kib: int  # under load, the connections open
    peak_kib: int

    def ms(self, kind: str) -> list[float]:
        return [(c.end - c.start) * 1e3 for c in self.calls if c.kind == kind]

    def pauses_ms(self, generation: int | None = None) -> list[float]:
        return [(p.end - p.start) * 1e3 for p in self.passes
                if generation is None or p.generation == generation]

    def gc_share_of_slowest(self) -> float:
        """The share of the slowest tenth of the calls' time spent under a collector pass."""
        tenth = max(1, len(self.calls) // 10)
        slowest = sorted(self.calls, key=lambda c: c.end - c.start)[-tenth:]
        under = sum(max(0.0, min(c.end, p.end) - max(c.start, p.start))
                    for c in slowest for p in self.passes)
        return under / sum(c.end - c.start for c in slowest)

    def __str__(self) -> str:
        spread = "; ".join(f"{kind} p50 {statistics.median(self.ms(kind)):.1f} ms, "
                           f"p90 {quantile(self.ms(kind), 0.9):.1f} ms, "
                           f"max {max(self.ms(kind)):.1f} ms" for kind in ("changes", "reads"))
        gens = ", ".join(f"gen{g} {len(pauses)} (max {max(pauses, default=0):.1f} ms)"
                         for g in range(3) for pauses in [self.pauses_ms(g)])
        return (f"{spread}; collector passes during the calls: {gens}, "
                f"{sum(self.pauses_ms()):.0f} ms in all, "
                f"{self.gc_share_of_slowest():.0%} of the slowest tenth's time; "
                f"RSS {self.rss_kib / 1024:.0f} MiB under load "
                f"(peak {self.peak_kib / 1024:.0f} MiB)")


# what the comparison reports, each as this/base per round
RATIO_FIGURES: dict[str, Callable[[ApiFigures], float]] = {
    "changes p50 (ms)": lambda f: statistics.median(f.ms("changes")),
    "changes p90 (ms)": lambda f: quantile(f.ms("changes"), 0.9),
    "changes max (ms)": lambda f: max(f.ms("changes")),
    "reads p50 (ms)": lambda f: statistics.median(f.ms("reads")),
    "reads p90 (ms)": lambda f: quantile(f.ms("reads"), 0.9),
    "reads max (ms)": lambda f: max(f.ms("reads")),
    "gen2 pause max (ms)": lambda f: max(f.pauses_ms(2), default=0.0),
    "collector pauses in all (ms)": lambda f: sum(f.pauses_ms()),
    "RSS under load (MiB)": lambda f: f.rss_kib / 1024,
}


def median_interval(values: list[float], *, resamples: int = 4000,
                    seed: int = 17) -> tuple[float, float, float]:
    """The median and a bootstrap 95 % interval of it."""
    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(values, k=len(values)))
                  for _ in range(resamples))
    return statistics.median(values), meds[int(0.025 * resamples)], meds[int(0.975 * resamples)]


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def loopback_servers(echo_port: int, source_port: int, mib: int) -> None:
    """An echo server and a source of ``mib`` MiB, on loopback, until terminated."""
    import uvloop  # noqa: PLC0415

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    async def source(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        block = b"s" * (1 << 20)
        for _ in range(mib):
            writer.write(block)
            await writer.drain()
        writer.close()

    async def main() -> None:
        a = await asyncio.start_server(echo, "127.0.0.1", echo_port)
        b = await asyncio.start_server(source, "127.0.0.1", source_port)
        async with a, b:
            await asyncio.Event().wait()

    uvloop.run(main())


def _traffic(port: int, connections: int, seconds: float) -> None:
    """``connections`` connections each sending a ping and awaiting its echo, for a while."""
    import uvloop  # noqa: PLC0415

    async def one(deadline: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.monotonic() < deadline:
            writer.write(PING)
            await reader.readexactly(len(PING))
        writer.close()

    async def main() -> None:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(one(deadline) for _ in range(connections)),
                             return_exceptions=True)

    uvloop.run(main())


def api_under_load(api: str, port: int, connections: int,
                   proxy_pid: int) -> tuple[list[Call], int]:
    """The toxic add/remove calls ("changes") and the reads between them, each with its start
    and end on the monotonic clock, while the traffic runs; and the proxy's resident set size
    (KiB) then, its connections still open."""
    traffic = multiprocessing.Process(target=_traffic, args=(port, connections, 15.0),
                                      daemon=True)
    traffic.start()
    time.sleep(3)  # the connections are open and busy
    calls = toxic_calls(api)
    rss_kib = status_kib(proxy_pid, "VmRSS")
    traffic.join(30)
    return calls, rss_kib


def toxic_calls(api: str, rounds: int = 50) -> list[Call]:
    """``rounds`` times: add a latency toxic to proxy "echo", read its toxics, remove the toxic,
    read the proxy; each call timed on the monotonic clock."""
    calls: list[Call] = []
    toxics = f"{api}/proxies/echo/toxics"
    for _ in range(rounds):
        for kind, call in (
                ("changes", lambda: requests.post(toxics, json={"type": "latency", "attributes":
                                                                {"latency": 1}}, timeout=30)),
                ("reads", lambda: requests.get(toxics, timeout=30)),
                ("changes", lambda: requests.delete(f"{toxics}/latency_downstream", timeout=30)),
                ("reads", lambda: requests.get(f"{api}/proxies/echo", timeout=30))):
            t0 = time.monotonic()
            call().raise_for_status()
            calls.append(Call(kind, t0, time.monotonic()))
    return calls


class RunningProxy:
    """``perflab chaos proxy`` in its own process (under ``_gc_probe``), with proxies made."""

    def __init__(self, proc: subprocess.Popen[bytes], api: str) -> None:
        self.proc = proc
        self.api = api
        self.made: dict[str, int] = {}  # proxy name -> its port
        self.calls: list[Call] = []
        self.rss_kib = 0
        self.passes: list[Pass] = []
        self.peak_kib = 0

    def create(self, upstreams: dict[str, int]) -> None:
        for _ in range(300):
            try:
                requests.get(f"{self.api}/version", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        for name, port in upstreams.items():
            doc = requests.post(f"{self.api}/proxies", json={"name": name,
                                                             "upstream": f"127.0.0.1:{port}"},
                                timeout=10).json()
            self.made[name] = int(doc["listen"].rpartition(":")[2])

    def measure_api(self, connections: int) -> None:
        self.calls, self.rss_kib = api_under_load(self.api, self.made["echo"], connections,
                                                  self.proc.pid)

    def read_probe(self, path: Path) -> None:
        """What the probe wrote at the proxy's exit."""
        doc = json.loads(path.read_text(encoding="utf-8"))
        self.passes = [Pass(int(p[0]), p[1], p[2]) for p in doc["passes"]]
        self.peak_kib = int(doc["vm_hwm_kib"])

    def figures(self) -> ApiFigures:
        """Once the proxy has stopped: the passes that overlapped the calls."""
        first, last = self.calls[0].start, self.calls[-1].end
        during = [p for p in self.passes if p.end > first and p.start < last]
        return ApiFigures(self.calls, during, self.rss_kib, self.peak_kib)


@contextlib.contextmanager
def running_proxy(src: str | None, upstreams: dict[str, int]) -> Iterator[RunningProxy]:
    """A proxy from ``src`` (None: this process's path) with a fresh store, in front of
    ``upstreams`` (name -> port)."""
    with tempfile.TemporaryDirectory(prefix="bench-chaos-") as tmp:
        env = {**os.environ, "PERFLAB_STORE": f"{tmp}/store.db"}
        if src is not None:
            env["PYTHONPATH"] = src
        api_port = free_port()
        probe_file = Path(tmp) / "gc.json"
        proc = subprocess.Popen([sys.executable, str(PROBE), str(probe_file), "chaos", "proxy",
                                 "--listen", f"127.0.0.1:{api_port}"],
                                stdout=subprocess.DEVNULL, env=env)
        proxy = RunningProxy(proc, f"http://127.0.0.1:{api_port}")
        try:
            proxy.create(upstreams)
            yield proxy
        finally:
            proc.terminate()
            proc.wait(30)
        proxy.read_probe(probe_file)


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def ping_p50(port: int, n: int, rate: float) -> float:
    """p50 round trip (s) of n paced pings on one connection."""
    rtts = []
    with connect(port) as sock:
        start = time.perf_counter()
        for i in range(n):
            due = start + i / rate
            while (now := time.perf_counter()) < due:
                time.sleep(max(0.0, due - now - 0.0002))
            t0 = time.perf_counter()
            sock.sendall(PING)
            got = 0
            while got < len(PING):
                got += len(sock.recv(65536))
            rtts.append(time.perf_counter() - t0)
    return statistics.median(rtts)


def read_all(port: int) -> float:
    """Bytes per second reading a source connection to its end."""
    buf = bytearray(1 << 20)
    total = 0
    with connect(port) as sock:
        t0 = time.perf_counter()
        while n := sock.recv_into(buf):
            total += n
        return total / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--api-only", action="store_true",
                        help="Only the API's answer time under --connections connections.")
    parser.add_argument("--base", metavar="SRC",
                        help="Another checkout's src: its proxy and this one's in turn, "
                             "--rounds times, on the API's figures only.")
    parser.add_argument("--variant", metavar="SRC", action="append", default=[],
                        help="With --base: one more checkout's src in the turns (repeatable).")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    echo_port, source_port = free_port(), free_port()
    servers = multiprocessing.Process(target=loopback_servers,
                                      args=(echo_port, source_port, args.mib), daemon=True)
    servers.start()
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    try:
        if args.base:
            settings = {"base": args.base, **{f"variant {i + 1}": src
                                              for i, src in enumerate(args.variant)},
                        "this": None}
            compare(settings, echo_port, args.connections, args.rounds)
        else:
            with running_proxy(None, {"echo": echo_port, "source": source_port}) as proxy:
                if not args.api_only:
                    proxy_figures(args, proxy.api, echo_port, source_port, proxy.made)
                proxy.measure_api(args.connections)
            print(f"API while {args.connections} connections pass and a toxic comes and goes: "
                  f"{proxy.figures()} (figure: p50 <= 50 ms)")
    finally:
        servers.terminate()
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


def compare(settings: dict[str, str | None], echo_port: int, connections: int,
            rounds: int) -> None:
    """Each setting's proxy (name -> its src; None: this checkout's) in turn, ``rounds`` times;
    each round's figures, then per figure and setting the median of the rounds' ratios to
    base's with a bootstrap 95 % interval."""
    for name, src in settings.items():
        print(f"{name}: {src or 'this checkout'}")
    got: dict[str, list[ApiFigures]] = {name: [] for name in settings}
    for i in range(rounds):
        for name, src in settings.items():
            with running_proxy(src, {"echo": echo_port}) as proxy:
                proxy.measure_api(connections)
            got[name].append(figures := proxy.figures())
            print(f"round {i + 1} {name}: {figures}", flush=True)
    for figure, of in RATIO_FIGURES.items():
        medians = ", ".join(f"{name} {statistics.median(map(of, runs)):.1f}"
                            for name, runs in got.items())
        print(f"{figure}: medians {medians}")
        for name, runs in got.items():
            ratios = [of(one) / of(base) for one, base in zip(runs, got["base"], strict=True)
                      if of(base) > 0]
            if name != "base" and ratios:
                med, lo, hi = median_interval(ratios)
                print(f"    {name}/base {med:.2f} (95 % interval {lo:.2f} .. {hi:.2f}, "
                      f"{len(ratios)} rounds)")


def proxy_figures(args: argparse.Namespace, api: str, echo_port: int, source_port: int,
                  made: dict[str, int]) -> None:
    """Added latency, one connection's throughput, the latency toxic's accuracy."""
    direct = ping_p50(echo_port, args.requests, 1000.0)
    proxied = ping_p50(made["echo"], args.requests, 1000.0)
    print(f"p50 round trip at 1,000 req/s: direct {direct * 1e6:.0f} us, through the proxy "
          f"{proxied * 1e6:.0f} us: added {(proxied - direct) * 1e6:.0f} us "
          "(figure: <= 100 us)")

    direct_bps = read_all(source_port)
    proxied_bps = read_all(made["source"])
    print(f"one connection, {args.mib} MiB: direct {direct_bps / 1e9:.2f} GB/s, through the "
          f"proxy {proxied_bps / 1e9:.2f} GB/s ({proxied_bps / direct_bps:.0%} of direct; "
          "figure: >= 1 GB/s)")

    requests.post(f"{api}/proxies/echo/toxics",
                  json={"type": "latency", "attributes": {"latency": 100}}, timeout=10)
    delayed = ping_p50(made["echo"], 200, 9.0)
    print(f"latency toxic 100 ms: added p50 {(delayed - direct) * 1e3:.2f} ms "
          "(figure: 100 +- 2 ms)")
    requests.delete(f"{api}/proxies/echo/toxics/latency_downstream", timeout=10)


if __name__ == "__main__":
    main()
