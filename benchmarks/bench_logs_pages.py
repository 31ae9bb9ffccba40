"""What the log pages cost: the Logs page's histogram (lines per bar by level, ``volume``) and
its first 100 lines over the last hour and the whole fill, in this process, best of 3; and the
live tail's delay on a real ``perflab serve`` (loopback): a line pushed one at a time, the
time until a websocket client (websocket-client) reads it, over ``--pushes`` lines.

    python benchmarks/bench_logs_pages.py [--lines 200000] [--hours 24] [--pushes 40]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import websocket

from bench_logs_query import best, fill
from perflab.logs import log_query
from perflab.logs._lines import query_lines, volume  # the pages' own reads, timed as such
from perflab.store import Store
from perflab.testing import serve

H = 3600 * 10**9


def pages(path: Path, lines: int, hours: int, now: int) -> None:
    with Store.open(path) as st:
        fill(st, lines, hours, now)
    with Store.open(path) as st:
        for text in ('{job="api"}', '{job=~".+"} |= "status=500"'):
            query = log_query(text)
            for name, start in (("last hour", now - H), (f"{hours} h", now - hours * H)):
                vol = best(lambda s=start, q=query: volume(st, q, s, now, points=120))
                rows = best(lambda s=start, q=query: query_lines(st, q, s, now, limit=100))
                print(f"{text}, {name}: histogram by level {vol * 1000:.1f} ms, first 100 "
                      f"lines {rows * 1000:.1f} ms")


def tail_delay(pushes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp) / "s.db", "--no-record") as hub:
        ws_url = (hub.url.replace("http://", "ws://") + "/loki/api/v1/tail?" +
                  urllib.parse.urlencode({"query": '{job="bench"}'}))
        ws = websocket.create_connection(ws_url, timeout=30)
        delays = []
        try:
            for k in range(pushes):
                sent = time.perf_counter()
                body = json.dumps({"streams": [{"stream": {"job": "bench"}, "values": [
                    [str(time.time_ns()), f"line {k}"]]}]}).encode()
                req = urllib.request.Request(hub.url + "/loki/api/v1/push", data=body,
                                             headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=30):
                    pass
                while f"line {k}" not in ws.recv():
                    pass
                delays.append(time.perf_counter() - sent)
        finally:
            ws.close()
    delays.sort()
    print(f"live tail, push to websocket read ({pushes} lines, one at a time): median "
          f"{statistics.median(delays) * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms "
          "(the tail is woken by the ingest queue's commit)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--pushes", type=int, default=40)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pages(Path(tmp) / "s.db", args.lines, args.hours, time.time_ns())
    tail_delay(args.pushes)


if __name__ == "__main__":
    main()
