"""perflab's response toxics through the proxy to a loopback HTTP/1.1 server, seen by real
clients (requests, and a raw socket where the bytes on the wire matter): http_corrupt breaks a
share of the responses on a route and keeps keep-alive framing when only content changed;
http_slow_body sends the head at once and the body slowly (a client's read timeout fires)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
import requests
from tests.conftest import wait_for
from tests.unit.chaos.conftest import http_server

from perflab.chaos import ChaosServer


class _Bytes(BaseHTTPRequestHandler):
    """GET /N: N bytes of a known pattern (Content-Length); /chunked/N: the same, chunked."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        chunked = self.path.startswith("/chunked/")
        size = int(self.path.rsplit("/", 1)[1])
        body = pattern(size)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, size, 1000):
                piece = body[start:start + 1000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(size))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def pattern(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))


@pytest.fixture
def files() -> Iterator[str]:
    with http_server(_Bytes) as address:
        yield address


def proxied(server: ChaosServer, upstream: str, kind: str, attributes: dict[str, Any],
            **extra: Any) -> tuple[str, requests.Response]:
    api = f"http://127.0.0.1:{server.port}"
    listen = requests.post(f"{api}/proxies", json={"name": "web", "upstream": upstream},
                           timeout=10).json()["listen"]
    r = requests.post(f"{api}/proxies/web/toxics", json={
        "type": kind, "attributes": attributes, **extra}, timeout=10)
    return listen, r


def read_responses(sock: socket.socket, count: int) -> list[tuple[bytes, bytes]]:
    """``count`` (head, body) responses with a Content-Length, read off one connection."""
    buf, out = b"", list[tuple[bytes, bytes]]()
    while len(out) < count:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = buf[:end]
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            if len(buf) >= end + 4 + length:
                out.append((head, buf[end + 4:end + 4 + length]))
                buf = buf[end + 4 + length:]
                continue
        data = sock.recv(65536)
        assert data, f"the connection closed after {len(out)} responses"
        buf += data
    return out


def test_body_bytes_flipped_on_the_route_and_keep_alive_still_framed(
        chaos_server: ChaosServer, files: str) -> None:
    listen, r = proxied(chaos_server, files, "http_corrupt",
                        {"bytes": 3, "path_prefix": "/5"})
    assert r.status_code == 200, r.text
    assert r.json()["stream"] == "downstream"
    assert r.json()["attributes"] == {"percent": 100, "bytes": 3, "path_prefix": "/5",
                                      "target": "body", "header": "", "value": ""}
    host, port = listen.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        # pipelined on one connection: the corrupted answer, then two intact ones after it
        sock.sendall(b"GET /5000 HTTP/1.1\r\nHost: x\r\n\r\nGET /4000 HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /50 HTTP/1.1\r\nHost: x\r\n\r\n")
        (_, bad), (_, good), (_, other) = read_responses(sock, 3)
    assert len(bad) == 5000
    assert sum(a != b for a, b in zip(bad, pattern(5000), strict=True)) == 3
    assert good == pattern(4000)  # not on the route
    assert len(other) == 50
    assert sum(a != b for a, b in zip(other, pattern(50), strict=True)) == 3


def test_a_chunked_body_is_corrupted_inside_its_chunks(chaos_server: ChaosServer,
                                                       files: str) -> None:
    listen, _ = proxied(chaos_server, files, "http_corrupt", {"bytes": 2})
    with requests.Session() as s:
        body = s.get(f"http://{listen}/chunked/3000", timeout=10).content
        assert len(body) == 3000  # the chunk framing is intact: the client decodes it
        assert sum(a != b for a, b in zip(body, pattern(3000), strict=True)) == 2
        assert len(s.get(f"http://{listen}/10", timeout=10).content) == 10


def test_a_header_set_or_removed(chaos_server: ChaosServer, files: str) -> None:
    listen, r = proxied(chaos_server, files, "http_corrupt",
                        {"target": "header", "header": "Content-Type", "value": "text/html"})
    assert r.status_code == 200, r.text
    with requests.Session() as s:
        got = s.get(f"http://{listen}/10", timeout=10)
        assert got.headers["content-type"] == "text/html"
        assert got.content == pattern(10)
        requests.post(f"http://127.0.0.1:{chaos_server.port}/proxies/web/toxics/"
                      "http_corrupt_downstream", json={"attributes": {"value": ""}}, timeout=10)
        got = s.get(f"http://{listen}/10", timeout=10)
        assert "content-type" not in got.headers
        assert got.content == pattern(10)


def test_a_wrong_content_length_breaks_that_response_and_the_connection_closes(
        chaos_server: ChaosServer, files: str) -> None:
    listen, _ = proxied(chaos_server, files, "http_corrupt",
                        {"target": "header", "header": "content-length", "value": "9000"})
    with pytest.raises((requests.exceptions.ChunkedEncodingError,
                        requests.exceptions.ConnectionError)):
        requests.get(f"http://{listen}/100", timeout=10)


def test_a_garbled_status_line(chaos_server: ChaosServer, files: str) -> None:
    listen, _ = proxied(chaos_server, files, "http_corrupt", {"target": "status"})
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://{listen}/100", timeout=10)
    host, port = listen.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /10 HTTP/1.1\r\nHost: x\r\n\r\n")
        raw = b""
        while data := sock.recv(65536):  # the proxy closes after the response
            raw += data
    assert raw.startswith(b"HTTP/1.1 2\x7f0 garbled by perflab chaos\r\n")
    assert raw.endswith(pattern(10))


def test_percent_toxicity_and_duration(chaos_server: ChaosServer, files: str) -> None:
    listen, _ = proxied(chaos_server, files, "http_corrupt", {"percent": 0})
    assert requests.get(f"http://{listen}/300", timeout=10).content == pattern(300)
    api = f"http://127.0.0.1:{chaos_server.port}/proxies/web/toxics"
    requests.delete(f"{api}/http_corrupt_downstream", timeout=10)
    requests.post(api, json={"type": "http_corrupt", "toxicity": 0}, timeout=10)
    assert requests.get(f"http://{listen}/300", timeout=10).content == pattern(300)
    requests.delete(f"{api}/http_corrupt_downstream", timeout=10)
    r = requests.post(api, json={"type": "http_corrupt", "duration": "300ms"}, timeout=10)
    assert r.json()["duration"] == "300ms"
    wait_for(lambda: requests.get(api, timeout=10).json() == [], timeout_s=30,
             what="the toxic's expiry")
    assert requests.get(f"http://{listen}/300", timeout=10).content == pattern(300)


def test_slow_body_sends_the_head_at_once_and_the_body_late(chaos_server: ChaosServer,
                                                           files: str) -> None:
    listen, r = proxied(chaos_server, files, "http_slow_body",
                        {"chunk": 1, "delay": 3000, "path_prefix": "/2"})
    assert r.status_code == 200, r.text
    host, port = listen.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /20 HTTP/1.1\r\nHost: x\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(65536)
        assert head.endswith(b"\r\n\r\n")  # the head alone: the body waits
        sock.settimeout(0.5)  # the first body byte comes 3 s after the head, never sooner
        with pytest.raises(TimeoutError):
            sock.recv(65536)
    with pytest.raises((requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError)):
        requests.get(f"http://{listen}/20", timeout=(10, 0.5))  # a client's read timeout
    assert requests.get(f"http://{listen}/30", timeout=10).content == pattern(30)  # off route


def test_slow_body_at_a_rate_arrives_whole(chaos_server: ChaosServer, files: str) -> None:
    listen, _ = proxied(chaos_server, files, "http_slow_body", {"rate": 10_000})
    start = time.monotonic()
    with requests.Session() as s:
        assert s.get(f"http://{listen}/3000", timeout=30).content == pattern(3000)
        assert time.monotonic() - start >= 0.3  # 3,000 bytes at 10,000 B/s: never sooner
        assert s.get(f"http://{listen}/chunked/2500", timeout=30).content == pattern(2500)


@pytest.mark.parametrize(("body", "message"), [
    ({"type": "http_corrupt", "attributes": {"target": "trailer"}},
     "attribute 'target' must be body, header or status, not 'trailer'"),
    ({"type": "http_corrupt", "attributes": {"target": "header"}},
     "target header needs attribute 'header'"),
    ({"type": "http_corrupt", "attributes": {"target": "header", "header": "a b"}},
     "target header needs attribute 'header'"),
    ({"type": "http_corrupt", "attributes": {"header": "x", "value": "a\r\nb"}},
     "attribute 'value' must be one line"),
    ({"type": "http_corrupt", "attributes": {"bytes": 0}},
     "attribute 'bytes' must be at least 1"),
    ({"type": "http_corrupt", "attributes": {"percent": 101}},
     "attribute 'percent' must be from 0 to 100"),
    ({"type": "http_corrupt", "stream": "upstream"},
     "an http_corrupt toxic acts on responses: its stream is downstream"),
    ({"type": "http_slow_body"},
     "an http_slow_body toxic needs 'rate' (bytes/s), or 'chunk' (bytes) and 'delay' (ms)"),
    ({"type": "http_slow_body", "attributes": {"rate": -5}}, "attribute 'rate' must not be"),
    ({"type": "http_slow_body", "attributes": {"rate": 5, "speed": 1}},
     "unknown attribute 'speed' for a http_slow_body toxic"),
])
def test_bad_attributes_are_refused_as_toxiproxy_refuses_a_body(
        chaos_server: ChaosServer, files: str, body: dict[str, Any], message: str) -> None:
    api = f"http://127.0.0.1:{chaos_server.port}"
    requests.post(f"{api}/proxies", json={"name": "web", "upstream": files}, timeout=10)
    r = requests.post(f"{api}/proxies/web/toxics", json=body, timeout=10)
    assert r.status_code == 400
    assert r.json()["error"].startswith("bad request body: ")
    assert message in r.json()["error"]
    assert requests.get(f"{api}/proxies/web/toxics", timeout=10).json() == []


def test_an_update_is_checked_too(chaos_server: ChaosServer, files: str) -> None:
    _, r = proxied(chaos_server, files, "http_slow_body", {"rate": 100})
    assert r.status_code == 200
    url = f"http://127.0.0.1:{chaos_server.port}/proxies/web/toxics/http_slow_body_downstream"
    r = requests.post(url, json={"attributes": {"rate": 0}}, timeout=10)
    assert r.status_code == 400
    assert requests.get(url, timeout=10).json()["attributes"]["rate"] == 100
