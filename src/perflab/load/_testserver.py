"""A small HTTP/1.1 server to aim load tests at, with faults on demand (loopback only).

    python -m perflab.load._testserver --port 8080 [--stall-every 5s --stall-for 1s]
        [--close-mid-response] [--close-after-response] [--garbage] [--tls CERT KEY]

Routes: ``/`` a short text; ``/items`` JSON ``{"items": [...]}``; ``/items/N`` JSON
``{"id": N}``; ``POST /login`` JSON
``{"token": ...}``; ``/me`` 200 with ``Authorization: Bearer <token>``, else 401; ``/status/N``
answers N. ``--stall-every 5s --stall-for 1s`` holds every response that falls in the last
second of each 5 s (a process pausing, as in wrk2's README demonstration).
``--close-mid-response`` promises 100 bytes, sends 10 and closes; ``--close-after-response``
answers whole, with ``Connection: close``, and closes (a connection per request);
``--garbage`` answers bytes that are not HTTP. ``--service-time 20ms --slots 4`` serves each
request in 20 ms on one of 4 slots (requests queue for a free slot): a service whose capacity
is known, slots / service time (200/s here), for ``perflab load capacity``.
Prints ``listening on HOST:PORT`` once ready.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import ssl
import time
from typing import Any

import httptools
import uvloop

from perflab.units import parse_duration

TOKEN = "t0k3n"  # noqa: S105  # a fixed test token, not a secret


class _Handler(asyncio.Protocol):
    def __init__(self, server: TestServer) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: Any = None
        self.url = b""
        self.headers: dict[bytes, bytes] = {}
        self.body = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url = url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        method = self.parser.get_method()
        url, headers, body = self.url, self.headers, self.body
        self.url, self.headers, self.body = b"", {}, b""
        data = self.server.respond(method, url, headers, body)
        if self.server.slots is not None:
            task = asyncio.get_running_loop().create_task(self._serve_in_slot(data))
            self.server.tasks.add(task)  # held: a task only weakly referenced may vanish
            task.add_done_callback(self.server.tasks.discard)
            return
        delay = self.server.stall_remaining()
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._write, data)
        else:
            self._write(data)

    async def _serve_in_slot(self, data: bytes) -> None:
        slots = self.server.slots
        assert slots is not None  # only called with --slots
        async with slots:
            await asyncio.sleep(self.server.service_time_s)
        self._write(data)

    def _write(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        srv = self.server
        if srv.garbage:
            self.transport.write(b"\x00\x01 this is not HTTP\r\n\r\n")
            self.transport.close()
            return
        if srv.close_mid_response:
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
            self.transport.close()
            return
        if srv.close_after_response:
            self.transport.write(data.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1))
            self.transport.close()
            return
        self.transport.write(data)


def _response(status: int, body: bytes, content_type: str = "text/plain") -> bytes:
    reason = {200: "OK", 401: "Unauthorized", 404: "Not Found"}.get(status, "Status")
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


class TestServer:
    def __init__(self, *, stall_every_s: float = 0.0, stall_for_s: float = 0.0,
                 close_mid_response: bool = False, close_after_response: bool = False,
                 garbage: bool = False, service_time_s: float = 0.0,
                 slots: int | None = None) -> None:
        self.stall_every_s = stall_every_s
        self.stall_for_s = stall_for_s
        self.close_mid_response = close_mid_response
        self.close_after_response = close_after_response
        self.garbage = garbage
        self.service_time_s = service_time_s
        # made here, inside the server's loop (asyncio primitives bind to the running loop)
        self.slots = asyncio.Semaphore(slots) if slots is not None else None
        self.tasks: set[asyncio.Task[None]] = set()
        self.t0 = time.monotonic()
        self.requests = 0

    def stall_remaining(self) -> float:
        """Seconds until the current stall ends (0 outside a stall)."""
        if not self.stall_every_s:
            return 0.0
        phase = (time.monotonic() - self.t0) % self.stall_every_s
        start = self.stall_every_s - self.stall_for_s
        return self.stall_every_s - phase if phase >= start else 0.0

    def respond(self, method: bytes, url: bytes, headers: dict[bytes, bytes],
                body: bytes) -> bytes:
        self.requests += 1
        path = url.split(b"?", 1)[0].decode("latin-1")
        if path == "/items":
            return _response(200, json.dumps({"items": [7, 8, 9]}).encode(),
                             "application/json")
        if path.startswith("/items/") and path.rsplit("/", 1)[1].isdigit():
            return _response(200, json.dumps({"id": int(path.rsplit("/", 1)[1])}).encode(),
                             "application/json")
        if path == "/login" and method == b"POST":
            try:
                user = json.loads(body or b"{}").get("user", "")
            except ValueError:
                return _response(400, b"bad json")
            return _response(200, json.dumps({"token": TOKEN, "user": user}).encode(),
                             "application/json")
        if path == "/me":
            ok = headers.get(b"authorization") == f"Bearer {TOKEN}".encode()
            return _response(200 if ok else 401, b"me" if ok else b"who?")
        if path.startswith("/status/"):
            return _response(int(path.rsplit("/", 1)[1]), b"status")
        if path == "/":
            return _response(200, b"hello from the perflab test server")
        return _response(404, b"not found")


async def serve(server: TestServer, host: str, port: int,
                tls: ssl.SSLContext | None = None) -> None:
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(lambda: _Handler(server), host, port, ssl=tls,
                                   reuse_address=True, backlog=4096)
    sock = srv.sockets[0].getsockname()
    print(f"listening on {sock[0]}:{sock[1]}", flush=True)
    stop = loop.create_future()

    def stop_now() -> None:
        if not stop.done():
            stop.set_result(None)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_now)
    await stop
    srv.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--stall-every", default="0s")
    ap.add_argument("--stall-for", default="0s")
    ap.add_argument("--close-mid-response", action="store_true")
    ap.add_argument("--close-after-response", action="store_true")
    ap.add_argument("--garbage", action="store_true")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--service-time", default="0s")
    ap.add_argument("--slots", type=int, default=None)
    a = ap.parse_args()
    tls = None
    if a.tls:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(a.tls[0], a.tls[1])
    async def main_async() -> None:  # the server is made in the loop: see TestServer.slots
        server = TestServer(stall_every_s=parse_duration(a.stall_every),
                            stall_for_s=parse_duration(a.stall_for),
                            close_mid_response=a.close_mid_response,
                            close_after_response=a.close_after_response, garbage=a.garbage,
                            service_time_s=parse_duration(a.service_time), slots=a.slots)
        await serve(server, a.host, a.port, tls)

    uvloop.run(main_async())


if __name__ == "__main__":
    main()
