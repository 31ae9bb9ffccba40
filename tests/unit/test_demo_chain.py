"""The demo chain's services take a client's reset connection quietly, and stop promptly."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry import trace
from tests.conftest import wait_for

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


def _traced_store(tracer: trace.Tracer) -> ThreadingHTTPServer:
    handler = type("Handler", (chain._Handler,), {"role": "store", "tracer": tracer})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    return server


def _query(port: int, flags: str) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /query?table=items&order=1 HTTP/1.1\r\nHost: x\r\nConnection: close"
                     b"\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-"
                     + flags.encode() + b"\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def test_spans_that_record_get_their_attributes_and_the_others_nothing(monkeypatch):
    """Sampled: the server and query spans carry their attributes. Not sampled (nine requests in
    ten at 10 %): nothing is built for a span that drops it."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: PLC0415
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: PLC0415
        InMemorySpanExporter,
    )
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased  # noqa: PLC0415

    from perflab.otel._tracer import SkippingTracerProvider  # noqa: PLC0415

    calls: list[str] = []
    for name in ("set_attribute", "set_attributes", "set_status"):
        monkeypatch.setattr(trace.NonRecordingSpan, name,
                            lambda _self, *_a, _n=name, **_k: calls.append(_n))
    provider = SkippingTracerProvider(sampler=ParentBased(TraceIdRatioBased(0.1)))
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    server = _traced_store(provider.get_tracer("test"))
    try:
        _query(server.server_port, "00")
        assert calls == []
        assert exporter.get_finished_spans() == ()
        _query(server.server_port, "01")
        attrs = {s.name: dict(s.attributes or {}) for s in exporter.get_finished_spans()}
        assert attrs["GET /query"]["http.route"] == "/query"
        assert attrs["GET /query"]["http.response.status_code"] == 200
        assert attrs["SELECT items"] == {"db.system": "sqlite", "db.collection.name": "items"}
    finally:
        server.shutdown()
        server.server_close()


def test_a_stopping_service_does_not_wait_for_a_hub_that_is_gone(tmp_path):
    """Killed with the demo, a chain service is told to stop when the hub may be gone already:
    its last export must not hold it for the exporter's retries (a refused connection is
    retried for the exporter's whole timeout, 7.5 s here before): it exits after FLUSH_S, the
    export abandoned, without the exporter giving up first."""
    port_file = tmp_path / "store.port"
    src = str(Path(chain.__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": src, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
           "OTEL_BSP_SCHEDULE_DELAY": "600000"}  # the spans wait for the final flush
    proc = subprocess.Popen([sys.executable, "-m", "perflab.demo.chain", "--role", "store",
                             "--port", "0", "--port-file", str(port_file)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: port_file.exists() and port_file.read_text(), timeout_s=60,
                 what="the store's port")
        url = f"http://127.0.0.1:{port_file.read_text()}/query?q=items"
        with urllib.request.urlopen(url, timeout=30) as answer:
            answer.read()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "retrying" in err  # there were spans, and the hub was not there
    assert "Failed to export" not in err  # the process did not wait for the exporter to give up
