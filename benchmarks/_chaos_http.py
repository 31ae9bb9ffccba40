"""The chaos benchmarks' loopback HTTP service behind the fault proxy: a handler base that
answers a body in one place, and ``proxied_service`` (the service in a thread, the proxy in
another, one proxy ``web`` in front of it)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from perflab.chaos import running_server
from perflab.serving import listening_socket


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, TCP_NODELAY (head and body leave in two writes: without it, Nagle
    and delayed ACKs add 40 ms), no log lines; a GET is answered 200 with ``body(path)``."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def body(self, path: str) -> bytes:
        raise NotImplementedError

    def do_GET(self) -> None:
        body = self.body(self.path)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def proxied_service(handler: type[BaseHTTPRequestHandler]) -> Iterator[tuple[str, int]]:
    """(the fault proxy's API URL, the port of proxy ``web`` in front of the service)."""
    service = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    service.daemon_threads = True
    threading.Thread(target=service.serve_forever, daemon=True).start()
    sock = listening_socket("127.0.0.1", 0)
    try:
        with running_server(sock) as server:
            api = f"http://127.0.0.1:{server.port}"
            listen = requests.post(f"{api}/proxies", json={
                "name": "web", "upstream": f"127.0.0.1:{service.server_address[1]}"},
                timeout=10).json()["listen"]
            yield api, int(listen.rsplit(":", 1)[1])
    finally:
        sock.close()
        service.shutdown()
