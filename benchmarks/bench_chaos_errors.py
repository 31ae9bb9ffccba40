"""Accuracy of the http_error toxic: a 5 % error toxic in front of a loopback HTTP service gives
5 +- 1 % errors over 10,000 requests (the issue's figure).

The proxy runs in a thread of this process (``perflab.chaos.running_server``), the service in
another; requests go over keep-alive connections, a new one after each injected error (the toxic
answers it with ``Connection: close``).

    python benchmarks/bench_chaos_errors.py [--requests 10000] [--percent 5]
"""

from __future__ import annotations

import argparse
import http.client
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from perflab.chaos import running_server
from perflab.serving import listening_socket


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # head and body leave in two writes: without this, Nagle and delayed ACKs add 40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def error_share(port: int, n: int) -> float:
    """The share of ``n`` GETs answered with a status other than 200."""
    errors = 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(n):
        conn.request("GET", "/api/items")
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            errors += 1
        if response.will_close:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.close()
    return errors / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--percent", type=int, default=5)
    args = parser.parse_args()
    service = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    service.daemon_threads = True
    threading.Thread(target=service.serve_forever, daemon=True).start()
    sock = listening_socket("127.0.0.1", 0)
    with running_server(sock) as server:
        api = f"http://127.0.0.1:{server.port}"
        listen = requests.post(f"{api}/proxies", json={
            "name": "web", "upstream": f"127.0.0.1:{service.server_address[1]}"},
            timeout=10).json()["listen"]
        requests.post(f"{api}/proxies/web/toxics", json={
            "type": "http_error", "stream": "upstream",
            "attributes": {"status": 503, "percent": args.percent}}, timeout=10)
        share = error_share(int(listen.rsplit(":", 1)[1]), args.requests)
    sock.close()
    service.shutdown()
    ok = abs(share * 100 - args.percent) <= 1
    print(f"http_error {args.percent} %: {share:.2%} of {args.requests} requests answered 503 "
          f"(figure: {args.percent} +- 1 %: {'met' if ok else 'missed'})")


if __name__ == "__main__":
    main()
