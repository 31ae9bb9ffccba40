"""Many Prometheus targets in one process, for the scrape benchmark: ``--targets`` listening
sockets on loopback, each answering a node_exporter-sized page of ``--series`` series whose
values change on every scrape. asyncio + uvloop: serving is cheap next to scraping."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys


def page(target: int, series: int, tick: int) -> bytes:
    lines = []
    per_family = 50
    for f in range(series // per_family):
        name = f"node_family_{f}_total"
        lines.append(f"# HELP {name} A counter like node_exporter's.")
        lines.append(f"# TYPE {name} counter")
        lines.extend(f'{name}{{device="dev{i}",mode="m{i % 8}",target="{target}"}} '
                     f"{tick * (i + 1) + f}" for i in range(per_family))
    return ("\n".join(lines) + "\n").encode()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--series", type=int, default=1000)
    args = ap.parse_args()
    ticks: dict[int, int] = {}
    # pages rendered ahead, values moving from one to the next: serving costs nothing next
    # to scraping (the scraper adds each target's own instance label)
    pages = [page(0, args.series, k) for k in range(1, 9)]

    def handler(target: int):  # asyncio's callback shape
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    if not head:
                        break
                    ticks[target] = ticks.get(target, 0) + 1
                    body = pages[ticks[target] % len(pages)]
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4"
                                 b"\r\nContent-Length: " + str(len(body)).encode() +
                                 b"\r\n\r\n" + body)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()
        return serve

    ports = []
    for t in range(args.targets):
        server = await asyncio.start_server(handler(t), "127.0.0.1", 0, backlog=16)
        ports.append(server.sockets[0].getsockname()[1])
    sys.stdout.write(json.dumps(ports) + "\n")
    sys.stdout.flush()
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main())
