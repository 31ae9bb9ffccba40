"""Accuracy of the response toxics through the fault proxy to a loopback HTTP service:

- ``http_corrupt`` at 5 % with 4 bytes flipped: the share of 10,000 keep-alive responses whose
  body differs (5 +- 1 %), each broken one with exactly 4 bytes changed and the same length,
  and every response framed right on the one keep-alive connection;
- ``http_slow_body`` at a rate: the time a 100 KB body takes at 50 KB/s (about 2 s; the head
  arrives at once), against the same body with no toxic.

    python benchmarks/bench_chaos_http_body.py [--requests 10000] [--percent 5]
"""

from __future__ import annotations

import argparse
import http.client
import time

import requests

from _chaos_http import QuietHandler, proxied_service

BODY = bytes(i % 251 for i in range(100_000))


class _Body(QuietHandler):
    def body(self, path: str) -> bytes:
        return BODY[:int(path.rsplit("/", 1)[1])]


def corrupt_share(port: int, n: int, flipped: int) -> tuple[float, bool]:
    """The share of ``n`` 1 KiB bodies that came back changed, and whether every changed one
    had exactly ``flipped`` bytes changed; all on one connection (framing intact)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    broken, exact = 0, True
    for _ in range(n):
        conn.request("GET", "/bytes/1024")
        response = conn.getresponse()
        body = response.read()
        if response.will_close or len(body) != 1024:
            raise SystemExit("the keep-alive connection lost its framing")
        diff = sum(a != b for a, b in zip(body, BODY, strict=False))
        if diff:
            broken += 1
            exact = exact and diff == flipped
    conn.close()
    return broken / n, exact


def fetch_s(port: int) -> tuple[float, float]:
    """(seconds to the head, seconds to the whole) of the 100 KB body."""
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/bytes/100000")
    response = conn.getresponse()
    head = time.monotonic() - start
    if response.read() != BODY:
        raise SystemExit("the slow body came back changed")
    conn.close()
    return head, time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--percent", type=int, default=5)
    args = parser.parse_args()
    with proxied_service(_Body) as (api, port):
        _, plain_s = fetch_s(port)
        requests.post(f"{api}/proxies/web/toxics", json={
            "type": "http_corrupt", "attributes": {"percent": args.percent, "bytes": 4}},
            timeout=10)
        share, exact = corrupt_share(port, args.requests, 4)
        requests.delete(f"{api}/proxies/web/toxics/http_corrupt_downstream", timeout=10)
        requests.post(f"{api}/proxies/web/toxics", json={
            "type": "http_slow_body", "attributes": {"rate": 50_000}}, timeout=10)
        head_s, slow_s = fetch_s(port)
    print(f"http_corrupt {args.percent} %: {share:.2%} of {args.requests:,} bodies changed "
          f"({'each' if exact else 'NOT each'} by exactly 4 bytes; one keep-alive connection)")
    print(f"http_slow_body 50 KB/s, 100 KB: head after {head_s * 1000:.1f} ms, whole body "
          f"{slow_s:.2f} s (no toxic: {plain_s * 1000:.1f} ms; expected about 2 s)")
    ok = abs(share * 100 - args.percent) <= 1 and exact
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
