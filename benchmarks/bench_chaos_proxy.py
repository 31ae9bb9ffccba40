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

The proxy runs as `perflab chaos proxy` in its own process, the servers in another.

    python benchmarks/bench_chaos_proxy.py [--requests 3000] [--mib 512] [--connections 1000]
                                           [--api-only]

The proxy's own store is ``$PERFLAB_STORE`` (its toxics' bands go there). To compare with a
base commit under load, alternate the two source trees in one loop, a fresh store each time:

    for round in 1 2 3; do for src in /tmp/base/src src; do rm -f /tmp/s.db*
      PERFLAB_STORE=/tmp/s.db PYTHONPATH=$src python benchmarks/bench_chaos_proxy.py --api-only
    done; done
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import statistics
import subprocess
import sys
import time

import requests

from perflab.testing import free_port

PING = b"p" * 64


def _servers(echo_port: int, source_port: int, mib: int) -> None:
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


def api_under_load(api: str, port: int, connections: int) -> dict[str, list[float]]:
    """Seconds of toxic add/remove calls ("changes") and of the reads between them, while
    the traffic runs."""
    traffic = multiprocessing.Process(target=_traffic, args=(port, connections, 15.0),
                                      daemon=True)
    traffic.start()
    time.sleep(3)  # the connections are open and busy
    times: dict[str, list[float]] = {"changes": [], "reads": []}
    toxics = f"{api}/proxies/echo/toxics"
    for _ in range(50):
        for kind, call in (
                ("changes", lambda: requests.post(toxics, json={"type": "latency", "attributes":
                                                                {"latency": 1}}, timeout=30)),
                ("reads", lambda: requests.get(toxics, timeout=30)),
                ("changes", lambda: requests.delete(f"{toxics}/latency_downstream", timeout=30)),
                ("reads", lambda: requests.get(f"{api}/proxies/echo", timeout=30))):
            t0 = time.perf_counter()
            call().raise_for_status()
            times[kind].append(time.perf_counter() - t0)
    traffic.join(30)
    return times


def _spread(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return (f"p50 {statistics.median(ordered) * 1e3:.1f} ms, p90 {p90 * 1e3:.1f} ms, "
            f"max {ordered[-1] * 1e3:.1f} ms")


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
    args = parser.parse_args()

    echo_port, source_port, api_port = free_port(), free_port(), free_port()
    servers = multiprocessing.Process(target=_servers, args=(echo_port, source_port, args.mib),
                                      daemon=True)
    servers.start()
    proxy = subprocess.Popen([sys.executable, "-m", "perflab", "chaos", "proxy", "--listen",
                              f"127.0.0.1:{api_port}"], stdout=subprocess.DEVNULL)
    api = f"http://127.0.0.1:{api_port}"
    try:
        for _ in range(300):
            try:
                requests.get(f"{api}/version", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        made = {}
        for name, port in (("echo", echo_port), ("source", source_port)):
            doc = requests.post(f"{api}/proxies", json={"name": name,
                                                        "upstream": f"127.0.0.1:{port}"},
                                timeout=10).json()
            made[name] = int(doc["listen"].rpartition(":")[2])

        if not args.api_only:
            proxy_figures(args, api, echo_port, source_port, made)
        times = api_under_load(api, made["echo"], args.connections)
        print(f"API while {args.connections} connections pass and a toxic comes and goes: "
              f"changes {_spread(times['changes'])}; reads {_spread(times['reads'])} "
              "(figure: p50 <= 50 ms)")
    finally:
        proxy.terminate()
        proxy.wait(30)
        servers.terminate()


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
