"""A fault proxy serving in a thread, the real Toxiproxy client pointed at it, and a loopback
echo server and HTTP server to send traffic through."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import toxiproxy
from tests.conftest import wait_for
from toxiproxy.api import APIConsumer

from perflab.chaos import ChaosServer, running_server
from perflab.serving import listening_socket


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        with contextlib.suppress(ConnectionError):  # reset_peer's tests reset it
            while data := sock.recv(65536):
                sock.sendall(data)


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def echo() -> Iterator[str]:
    """``127.0.0.1:PORT`` of a server that sends back what it receives."""
    server = EchoServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def chaos_server() -> Iterator[ChaosServer]:
    sock = listening_socket("127.0.0.1", 0)
    with running_server(sock) as server:
        yield server
    sock.close()


@pytest.fixture
def client(chaos_server: ChaosServer) -> Iterator[toxiproxy.Toxiproxy]:
    """toxiproxy-python's client, talking to our server (it keeps its address on a class)."""
    old = APIConsumer.host, APIConsumer.port
    tp = toxiproxy.Toxiproxy()
    tp.update_api_consumer("127.0.0.1", chaos_server.port)
    yield tp
    APIConsumer.host, APIConsumer.port = old


def wait_for_api(port: int, what: str) -> None:
    """Until the Toxiproxy API of a perflab process answers on ``port``."""
    def up() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/version", timeout=2).ok
        except requests.ConnectionError:
            return False

    wait_for(up, timeout_s=60, what=what)


def connect(listen: str) -> socket.socket:
    host, _, port = listen.rpartition(":")
    sock = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        data = sock.recv(n - len(out))
        if not data:
            break
        out += data
    return out


class _Web(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so one connection carries several requests

    def do_GET(self) -> None:
        self._answer(b"")

    def do_POST(self) -> None:
        self._answer(self.rfile.read(int(self.headers["Content-Length"])))

    def _answer(self, body: bytes) -> None:
        text = f"{self.path} {len(body)}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, *args: object) -> None:
        pass


class _SlowWeb(_Web):
    """``_Web`` answering each GET 100 ms late: a service time far above a busy machine's
    scheduling jitter, so a second's p99 is steady whatever runs beside the test."""

    def do_GET(self) -> None:
        time.sleep(0.1)
        self._answer(b"")


@contextlib.contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a loopback HTTP server with ``handler``, in a thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def web() -> Iterator[str]:
    """``127.0.0.1:PORT`` of an HTTP/1.1 server answering 200 ``PATH BODY-LENGTH``."""
    with http_server(_Web) as address:
        yield address


@pytest.fixture
def slow_web() -> Iterator[str]:
    """``web``, each GET answered 100 ms late."""
    with http_server(_SlowWeb) as address:
        yield address
