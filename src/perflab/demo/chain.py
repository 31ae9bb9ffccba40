"""The demo's chain of services, frontend -> api -> store, each traced with ``perflab.otel``.

Run one with ``python -m perflab.demo.chain --role ROLE --port 0 --port-file F [--next URL]``:
it binds loopback, writes its port to ``--port-file`` once it accepts connections, and stops on
SIGTERM or SIGINT. Its spans go where ``OTEL_EXPORTER_OTLP_ENDPOINT`` says (the demo's hub).

``GET /checkout?order=N[&coupon=C]`` on the frontend calls the api's ``GET /cart``, which asks the
store three things: ``SELECT items``, ``SELECT prices`` and, with a coupon, ``SELECT coupons``.
Two problems are planted, to be found from the traces alone:

- **a slow call**: one order in ``SLOW_EVERY`` misses the store's price cache and its ``SELECT
  prices`` sleeps ``SLOW_MS``: those checkouts are the slowest, and the critical path says why;
- **an error path**: the coupon ``EXPIRED`` fails in the store (``SELECT coupons`` raises), the
  api answers 502 and the frontend 502: the error spans lead from the checkout down to the store.

The HTTP calls carry W3C ``traceparent`` headers (OpenTelemetry's propagator), so the three
services' spans make one trace per checkout.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

ROLES = ("frontend", "api", "store")
# one order in this many misses the price cache: twice the slowest 5 % the finding compares, so
# a busy machine's own slow checkouts (scheduling delays) do not crowd the planted ones out
SLOW_EVERY = 10
SLOW_MS = 300  # well above what a busy machine adds to a checkout's hops (~100 ms at load 10)
EXPIRED = "EXPIRED"
_TIMEOUT_S = 10.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    role: ClassVar[str] = "frontend"
    next_url: ClassVar[str] = ""
    tracer: ClassVar[Any] = None

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  # http.server's API
        del format, args  # quiet: the spans are the log

    def handle(self) -> None:  # http.server's API
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):
            # a client that resets a kept-alive connection (a load test ending) is not an error:
            # socketserver would print its traceback
            self.close_connection = True

    def do_GET(self) -> None:  # http.server's API
        from opentelemetry import propagate, trace  # noqa: PLC0415

        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        ctx = propagate.extract({k.lower(): v for k, v in self.headers.items()})
        name = f"GET {url.path}"
        with self.tracer.start_as_current_span(name, context=ctx,
                                               kind=trace.SpanKind.SERVER) as span:
            # a span not recorded (nine in ten at 10 % sampling) is given nothing to drop
            recording = span.is_recording()
            if recording:
                span.set_attributes({"http.request.method": "GET", "url.path": url.path,
                                     "http.route": url.path})
            try:
                status, body = self._handle(url.path, q)
            except Exception as exc:  # the demo's error path: recorded, answered 502/500
                span.record_exception(exc)
                span.set_status(trace.Status(trace.StatusCode.ERROR, str(exc)))
                status, body = (500 if self.role == "store" else 502), {"error": str(exc)}
            if recording:
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(trace.Status(trace.StatusCode.ERROR, f"HTTP {status}"))
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client left (a load test that ended)

    def _handle(self, path: str, q: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if path == "/healthz":
            return 200, {"status": "ok"}
        if self.role == "frontend" and path == "/checkout":
            status, cart = self._call("/cart", q)
            if status != 200:
                raise RuntimeError(f"the api answered {status}: {cart.get('error', '')}")
            return 200, {"order": q.get("order"), "total": cart["total"]}
        if self.role == "api" and path == "/cart":
            _, items = self._call("/query", {"table": "items", **q})
            _, prices = self._call("/query", {"table": "prices", **q})
            discount = 0
            if q.get("coupon"):
                status, coupon = self._call("/query", {"table": "coupons", **q})
                if status != 200:
                    raise RuntimeError(f"the store answered {status}: {coupon.get('error')}")
                discount = coupon["rows"]
            return 200, {"total": items["rows"] * prices["rows"] - discount}
        if self.role == "store" and path == "/query":
            return 200, {"rows": self._query(q)}
        return 404, {"error": f"no {path} here"}

    def _query(self, q: dict[str, str]) -> int:
        from opentelemetry import trace  # noqa: PLC0415

        table = q.get("table", "")
        with self.tracer.start_as_current_span(f"SELECT {table}",
                                               kind=trace.SpanKind.CLIENT) as span:
            recording = span.is_recording()
            if recording:
                span.set_attributes({"db.system": "sqlite", "db.collection.name": table})
            if table == "coupons" and q.get("coupon") == EXPIRED:
                raise ValueError(f"coupon {EXPIRED} has expired")
            order = int(q.get("order", "0") or 0)
            if table == "prices" and order % SLOW_EVERY == 0:
                if recording:
                    span.set_attribute("cache.hit", value=False)
                time.sleep(SLOW_MS / 1000)  # the planted slow call: a price-cache miss
            else:
                time.sleep(0.002)
            return 3

    def _call(self, path: str, q: dict[str, str]) -> tuple[int, dict[str, Any]]:
        from urllib.parse import urlencode  # noqa: PLC0415

        from opentelemetry import propagate, trace  # noqa: PLC0415

        url = f"{self.next_url}{path}?{urlencode(q)}"
        with self.tracer.start_as_current_span(f"GET {path}", kind=trace.SpanKind.CLIENT) \
                as span:
            recording = span.is_recording()
            if recording:
                span.set_attribute("url.full", url)
            headers: dict[str, str] = {}
            propagate.inject(headers)
            req = urllib.request.Request(url, headers=headers)  # noqa: S310  # loopback
            try:
                with urllib.request.urlopen(req, timeout=_TIMEOUT_S) as resp:  # noqa: S310
                    status, body = int(resp.status), json.load(resp)
            except urllib.error.HTTPError as exc:
                status, body = exc.code, json.loads(exc.read() or b"{}")
            if recording:
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(trace.Status(trace.StatusCode.ERROR, f"HTTP {status}"))
            return status, body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="perflab.demo.chain")
    parser.add_argument("--role", choices=ROLES, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path, default=None)
    parser.add_argument("--next", dest="next_url", default="")
    args = parser.parse_args(argv)
    import perflab.otel  # noqa: PLC0415

    provider = perflab.otel.setup(service_name=args.role)
    from opentelemetry import trace  # noqa: PLC0415

    handler = type("Handler", (_Handler,), {"role": args.role, "next_url": args.next_url,
                                            "tracer": trace.get_tracer("perflab.demo.chain")})
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    server.daemon_threads = True

    def stop(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.port_file is not None:
        args.port_file.write_text(str(server.server_address[1]))
    sys.stdout.write(f"{args.role} listening on 127.0.0.1:{server.server_address[1]}\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if provider is not None:
            _flush_briefly(provider)
    return 0


# How long a stopping service waits for its last spans to reach the hub: on loopback a batch
# takes milliseconds. Without a bound, a hub that is already gone (the demo killed, its children
# told to stop at once) holds the service for the exporter's whole timeout (10 s by default),
# retrying a refused connection.
FLUSH_S = 2.0


def _flush_briefly(provider: Any) -> None:
    """Shut the provider down (its last spans exported), waiting at most FLUSH_S: after that
    the process exits and the export, on a daemon thread, with it."""
    flush = threading.Thread(target=provider.shutdown, name="flush", daemon=True)
    flush.start()
    flush.join(FLUSH_S)


if __name__ == "__main__":
    sys.exit(main())
