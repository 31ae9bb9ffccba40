"""Machine instructions a response costs a load worker's Python, counted by callgrind.

Times on a shared machine swing from run to run; instruction counts do not. The closed
model's connection (`ClosedConn`) is fed nginx's answer from memory, N times, with `take()`
(the per-second packing) every 100k responses, against a fake transport; the count of a run
with N = 0 is subtracted, so start-up does not count. A bare httptools loop (a parser whose
`on_message_complete` does nothing) is the floor: what any Python client of httptools pays.

    python benchmarks/bench_load_hot_path.py [--responses 200000] [--also OTHER/src]

prints

    floor (bare httptools loop)       4,977 instructions a response
    perflab (this checkout)           8,821 instructions a response (3,844 above the floor)

`--also OTHER/src` counts another perflab's engine the same way (an older commit, say). Needs
valgrind (apt-get install valgrind); a run takes about a minute.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _load_targets import SRC

RESPONSE = (b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Thu, 03 Dec 2026 09:40:00 GMT\r\n"
            b"Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")

ENGINE = f"""
import asyncio, sys
import uvloop
from perflab.load._config import LoadConfig, RequestSpec, parse_target
from perflab.load._engine import Engine

class Transport:
    def write(self, data): pass
    def is_closing(self): return False

def main(n):
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    cfg = LoadConfig(target=parse_target("http://127.0.0.1:8080/"),
                     request=RequestSpec("GET", (), b""), connections=1, duration_s=10)
    eng = Engine(cfg, 0, 1)
    eng.count_until_ns = 1 << 62
    conn = eng.conn_class(eng)
    conn.connection_made(Transport())
    eng.conns.add(conn)
    eng._send_closed(conn)
    feed, response = conn.data_received, {RESPONSE!r}
    for _ in range(n // 100_000):
        for _ in range(100_000):
            feed(response)
        eng.take()

main(int(sys.argv[1]))
"""

FLOOR = f"""
import sys, httptools

class Client:
    def __init__(self):
        self.parser = httptools.HttpResponseParser(self)
    def data_received(self, data):
        self.parser.feed_data(data)
    def on_message_complete(self):
        pass

def main(n):
    feed, response = Client().data_received, {RESPONSE!r}
    for _ in range(n):
        feed(response)

main(int(sys.argv[1]))
"""


def instructions(script: Path, n: int, src: str | None) -> int:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = src
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          sys.executable, str(script), str(n)],
                         capture_output=True, text=True, env=env, check=True)
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise SystemExit(f"callgrind gave no count: {out.stderr[-500:]}")
    return int(found.group(1))


def per_response(script: Path, n: int, src: str | None) -> float:
    return (instructions(script, n, src) - instructions(script, 0, src)) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--responses", type=int, default=200_000)
    ap.add_argument("--also", metavar="SRC", default=None,
                    help="another perflab's src directory, counted the same way")
    a = ap.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    n = a.responses - a.responses % 100_000 or 100_000
    with tempfile.TemporaryDirectory(prefix="perflab-bench-hot-") as tmp:
        engine, floor = Path(tmp, "engine.py"), Path(tmp, "floor.py")
        engine.write_text(ENGINE)
        floor.write_text(FLOOR)
        base = per_response(floor, n, None)
        print(f"floor (bare httptools loop)     {base:7,.0f} instructions a response")
        for label, src in (("perflab (this checkout)", SRC), ("other (--also)", a.also)):
            if src is None:
                continue
            ours = per_response(engine, n, src)
            print(f"{label:30s}  {ours:7,.0f} instructions a response "
                  f"({ours - base:,.0f} above the floor)")


if __name__ == "__main__":
    main()
