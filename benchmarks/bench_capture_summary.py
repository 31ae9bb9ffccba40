"""capture summary's reading speed against tshark's own TCP analysis, on the same file.

A capture of HTTP/1.1 traffic on loopback is made once (a local http.server, many small
requests through one urllib client per round, captured by `perflab capture`), then read
``--repeat`` times by `perflab capture summary --json` and by
``tshark -r FILE -q -z io,stat,0,tcp.analysis.retransmission`` (a pass with the TCP analysis
on). Both in subprocesses, the wall time best of ``--repeat``; counts compared once.

    python benchmarks/bench_capture_summary.py [--requests 3000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def _serve() -> http.server.ThreadingHTTPServer:
    class Quiet(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # http.server's name
            body = b"x" * 512
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _capture(path: Path, requests: int) -> None:
    server = _serve()
    port = server.server_address[1]
    cap = subprocess.Popen([sys.executable, "-m", "perflab", "capture", "--iface", "lo",
                            "--port", str(port), "-d", "600s", "-o", str(path)], env=ENV,
                           stdout=subprocess.DEVNULL)
    while not (path.exists() and path.stat().st_size >= 24):  # pcap header
        time.sleep(0.05)
    for i in range(requests):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/r{i % 20}") as r:
            r.read()
    time.sleep(0.5)
    cap.send_signal(2)
    cap.wait(30)
    server.shutdown()


def _best(argv: list[str], repeat: int) -> tuple[float, str]:
    best, out = float("inf"), ""
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = subprocess.run(argv, env=ENV, check=True, capture_output=True, text=True).stdout
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tshark = shutil.which("tshark")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "http.pcap"
        _capture(path, args.requests)
        ours, out = _best([sys.executable, "-m", "perflab", "capture", "summary", str(path),
                           "--json"], args.repeat)
        doc = json.loads(out)
        frames = doc["frames"]
        print(f"file: {frames} frames, {doc['totals']['flows']} flows, "
              f"{sum(r['count'] for r in doc['http'])} HTTP exchanges, "
              f"{path.stat().st_size / 1e6:.1f} MB")
        print(f"perflab capture summary: {ours:.2f} s ({frames / ours:,.0f} frames/s)")
        if tshark:
            theirs, _ = _best([tshark, "-r", str(path), "-q", "-z",
                               "io,stat,0,tcp.analysis.retransmission"], args.repeat)
            print(f"tshark (TCP analysis):   {theirs:.2f} s ({frames / theirs:,.0f} frames/s); "
                  f"perflab/tshark time {ours / theirs:.2f}x")


if __name__ == "__main__":
    main()
