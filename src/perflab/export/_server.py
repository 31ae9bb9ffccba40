"""A small HTTP server for ``/metrics``: stdlib ``ThreadingHTTPServer``, loopback by default.

It follows the rules of every port perflab opens (``perflab.serving``): loopback by default, a
token off loopback (``--token-file``; Prometheus sends it with ``authorization:
credentials_file``), and only the ``Host`` names it serves (421 otherwise: a web page rebinding
its name to 127.0.0.1 must not read which processes run here). The page tells whoever reads it
which processes run here, their PIDs and how busy the machine is, and each scrape costs CPU on
the machine being measured.
"""

from __future__ import annotations

import errno
import html
import json
import socket
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from perflab.errors import AccessDenied, InvalidValue, TargetError
from perflab.export._collector import Exposition
from perflab.serving import HostRule, bearer_matches, require_token_off_loopback

# The text format prometheus_client's generate_latest() writes (0.0.4), which every Prometheus
# version parses; newer clients advertise "version=1.0.0" for the same bytes.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

INDEX_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>perflab exporter</title></head>
<body><h1>perflab exporter</h1>
<p>Prometheus metrics of this machine, with node_exporter's names:
<a href="/metrics">/metrics</a></p>
<p>Add it to prometheus.yml: <code>- targets: ['{address}']</code></p>
</body></html>
"""


@dataclass(frozen=True, slots=True)
class ListenAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(text: str) -> ListenAddress:
    """``127.0.0.1:9100``, ``[::1]:9100``, ``localhost:9100``; ``:9100`` means every address."""
    host, sep, port_s = text.rpartition(":")
    if not sep or not port_s.isdigit() or int(port_s) > 65535:
        raise InvalidValue(f"invalid --listen address {text!r}",
                           hint="write it as HOST:PORT, e.g. 127.0.0.1:9100 or [::1]:9100")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return ListenAddress(host or "0.0.0.0", int(port_s))  # noqa: S104  # ":9100" means all


def check_exposure(addr: ListenAddress, *, token: str | None) -> None:
    """Loopback by default; another address needs a token (UsageError otherwise)."""
    require_token_off_loopback(addr.host, token, where=str(addr),
                               what="which processes run here and how busy the machine is")


class MetricsServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # a restart right after a stop must not fail on TIME-WAIT

    def __init__(self, addr: ListenAddress, exposition: Exposition, *,
                 token: str | None = None, allowed_hosts: tuple[str, ...] = ()) -> None:
        self.exposition = exposition
        self.token = None if token is None else token.encode()
        self.host_rule = HostRule.for_listen(addr.host, allowed_hosts)
        self.address_family = socket.AF_INET6 if ":" in addr.host else socket.AF_INET
        try:
            super().__init__((addr.host, addr.port), _Handler)
        except OSError as exc:
            raise _bind_error(addr, exc) from exc

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host_s = str(host)
        shown = f"[{host_s}]" if ":" in host_s else host_s
        return f"http://{shown}:{port}/metrics"


def _bind_error(addr: ListenAddress, exc: OSError) -> Exception:
    if exc.errno == errno.EADDRINUSE:
        return TargetError(
            f"cannot listen on {addr}: the port is already in use",
            hint="pick another port (--listen 127.0.0.1:9101), or see who holds it with "
                 f"`perflab net --listening` or `ss -ltnp 'sport = :{addr.port}'`")
    if exc.errno == errno.EACCES:
        return AccessDenied(f"cannot listen on {addr}: permission denied",
                            hint="ports below 1024 need root; use a port such as 9100")
    if exc.errno == errno.EADDRNOTAVAIL:
        return InvalidValue(f"cannot listen on {addr}: no such address on this machine",
                            hint="use 127.0.0.1 or an address shown by `ip addr`")
    return TargetError(f"cannot listen on {addr}: {exc.strerror or exc}")


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if not self._admitted():
            return
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            try:
                body = self.server.exposition.render()
            except Exception as exc:  # a scrape must answer, even when /proc reading fails
                self._send(500, f"perflab: collecting failed: {exc}\n".encode(),
                           "text/plain; charset=utf-8")
                return
            self._send(200, body, CONTENT_TYPE)
        elif path == "/":
            host = self.headers.get("Host") or "127.0.0.1"
            page = INDEX_HTML.replace("{address}", html.escape(host))
            self._send(200, page.encode(), "text/html; charset=utf-8")
        else:
            self._send(404, b"not found: try /metrics\n", "text/plain; charset=utf-8")

    def _admitted(self) -> bool:
        """The Host rule, then the token: answers 421 or 401 itself when it says no."""
        host = self.headers.get("Host")
        if not self.server.host_rule.allows(host):
            self._send_error(421, self.server.host_rule.refusal(host or ""))
            return False
        token = self.server.token
        if token is not None and not bearer_matches(self.headers.get("Authorization"), token):
            self._send_error(401, "this exporter needs its token: send 'Authorization: Bearer "
                                  "TOKEN' (Prometheus: authorization: credentials_file)",
                             {"WWW-Authenticate": 'Bearer realm="perflab"'})
            return False
        return True

    def _send_error(self, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        body = json.dumps({"error": message, "status": code}).encode()
        self._send(code, body, "application/json", headers)

    def _send(self, code: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  # stdlib's name
        """Quiet: a scrape per second would flood the terminal."""
