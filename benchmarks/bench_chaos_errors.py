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

import requests

from _chaos_http import QuietHandler, proxied_service


class _Ok(QuietHandler):
    def body(self, _path: str) -> bytes:
        return b"ok"


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
    with proxied_service(_Ok) as (api, port):
        requests.post(f"{api}/proxies/web/toxics", json={
            "type": "http_error", "stream": "upstream",
            "attributes": {"status": 503, "percent": args.percent}}, timeout=10)
        share = error_share(port, args.requests)
    ok = abs(share * 100 - args.percent) <= 1
    print(f"http_error {args.percent} %: {share:.2%} of {args.requests} requests answered 503 "
          f"(figure: {args.percent} +- 1 %: {'met' if ok else 'missed'})")


if __name__ == "__main__":
    main()
