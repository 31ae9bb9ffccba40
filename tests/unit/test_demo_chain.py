"""The demo chain's services take a client's reset connection quietly."""

from __future__ import annotations

import select
import socket
import threading
from http.server import ThreadingHTTPServer
from typing import Any

from opentelemetry import trace

from perflab.demo import chain


class _Server(ThreadingHTTPServer):
    """The chain's server, noting the errors socketserver would print and each connection's
    end (after its error, if any, was handled)."""

    daemon_threads = True

    def __init__(self) -> None:
        handler = type("Handler", (chain._Handler,), {"role": "store",  # the demo's own handler
                                                      "tracer": trace.get_tracer("test")})
        super().__init__(("127.0.0.1", 0), handler)
        self.errors: list[str] = []
        self.ended = threading.Semaphore(0)

    def handle_error(self, request: Any, client_address: Any) -> None:  # socketserver's
        del request, client_address
        self.errors.append("handle_error")

    def shutdown_request(self, request: Any) -> None:  # socketserver's
        super().shutdown_request(request)
        self.ended.release()


def _get(sock: socket.socket) -> None:
    """Ask, and wait until the whole answer (its body written after its headers) is here."""
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    while not sock.recv(4096, socket.MSG_PEEK).endswith(b'{"status": "ok"}'):
        assert select.select([sock], [], [], 10)[0], "no answer"


def test_a_reset_connection_is_not_an_error():
    """A load test that ends resets its kept-alive connections; each printed socketserver's
    ConnectionResetError traceback in the demo's services."""
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as sock:
            _get(sock)
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
            _get(sock)  # an answer left unread: closing sends an RST, met in the next readline
        assert server.ended.acquire(timeout=30)
        assert server.errors == []
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
