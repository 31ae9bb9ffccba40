"""`perflab capture --live` keeping up with HTTP/1.1 traffic on loopback.

A local http.server (a subprocess) answers ``--requests`` GETs, each on its own connection,
while `perflab capture --live -o FILE --json` runs; then Ctrl-C. Reported: the request rate,
the frames the live mode read and tcpdump's kernel drops, how long the live process took from
Ctrl-C to its summary, whether that summary equals `capture summary FILE` (it must), and what
one interval's table costs at the end (``Summary.document`` over every flow seen, the work each
tick does under the reader's lock; best of 5).

    python benchmarks/bench_capture_live.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
sys.path.insert(0, str(ROOT / "src"))

from perflab.netcap._pcap import open_capture  # noqa: E402  # after the path above
from perflab.netcap._summary import Summary  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _until(ready: object, what: str) -> None:
    assert callable(ready)
    deadline = time.monotonic() + 60
    while not ready():
        if time.monotonic() > deadline:
            raise SystemExit(f"never: {what}")
        time.sleep(0.05)


def _tick_cost(path: Path) -> tuple[int, float]:
    summary = Summary()
    capture = open_capture(str(path))
    try:
        for packet in capture.packets():
            summary.add(packet)
    finally:
        capture.stream.close()
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        summary.document(capture)
        best = min(best, time.perf_counter() - t0)
    return len(summary.analyzer.flows), best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "page").write_bytes(b"x" * 512)
        port = _free_port()
        web = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                                "127.0.0.1", "-d", tmp], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        out = Path(tmp) / "live.pcap"
        live = subprocess.Popen([sys.executable, "-m", "perflab", "capture", "--live",
                                 "--iface", "lo", "--port", str(port), "-d", "600s",
                                 "-o", str(out), "--json"], env=ENV, stdout=subprocess.PIPE)
        try:
            _until(lambda: out.exists() and out.stat().st_size >= 24, "the live capture")
            _until(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, "the server")
            t0 = time.perf_counter()
            for _ in range(args.requests):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/page") as r:
                    r.read()
            traffic_s = time.perf_counter() - t0
            time.sleep(1.0)  # the last packets through tcpdump's pipe
            t1 = time.perf_counter()
            live.send_signal(signal.SIGINT)
            stdout, _ = live.communicate(timeout=120)
            stop_s = time.perf_counter() - t1
        finally:
            for proc in (live, web):
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        doc = json.loads(stdout)
        saved = json.loads(subprocess.run(
            [sys.executable, "-m", "perflab", "capture", "summary", str(out), "--json"],
            env=ENV, check=True, capture_output=True, text=True).stdout)
        flows, tick_s = _tick_cost(out)
    print(f"{args.requests} requests in {traffic_s:.2f} s ({args.requests / traffic_s:.0f}/s), "
          f"{doc['frames']} frames read live, {doc['totals']['flows']} flows (one per request "
          "when the kernel dropped none)")
    print(f"Ctrl-C to summary: {stop_s:.2f} s; live summary == capture summary of -o: "
          f"{doc == saved}")
    print(f"one interval's table at {flows} flows: {tick_s * 1000:.1f} ms")


if __name__ == "__main__":
    main()
