"""Remote-write ingest rate of the hub, per core: samples stored per CPU-second of the
``perflab serve`` process while clients push snappy ``WriteRequest``s as fast as it takes them.

Requests are what Prometheus 2.42 sends by default (``max_samples_per_send: 500``... here 2,000
samples: 500 series x 4 samples, realistic label sets). Client processes on loopback push for
``--seconds``; the hub's CPU time (user + system, from /proc) and the samples it wrote (its
store, counted afterwards) give samples per CPU-second. The issue's figure: >= 200,000.

    python benchmarks/bench_remote_write.py [--seconds 20] [--clients 2] [--series 500]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
import urllib.request
from pathlib import Path

from perflab.metrics._remote_write import encode_write_request
from perflab.store import Store
from perflab.testing import serve

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def bodies(client: int, series: int, per_series: int, n: int) -> list[bytes]:
    now_ms = time.time_ns() // 1_000_000
    out = []
    for k in range(n):
        batch = []
        for s in range(series):
            labels = [("__name__", "http_requests_total"), ("client", str(client)),
                      ("instance", f"10.0.{s // 250}.{s % 250}:8080"), ("job", "api"),
                      ("method", "GET"), ("code", ("200", "500", "404")[s % 3]),
                      ("path", f"/v1/items/{s % 40}")]
            base = now_ms + k * per_series * 1000
            batch.append((labels, [(base + i * 1000, float(k * per_series + i))
                                   for i in range(per_series)]))
        out.append(encode_write_request(batch))
    return out


def push(url: str, client: int, series: int, per_series: int, seconds: float,  # noqa: PLR0917
         sent: multiprocessing.Value) -> None:  # type: ignore[valid-type]
    payloads = bodies(client, series, per_series, 400)
    deadline = time.monotonic() + seconds
    count = 0
    i = 0
    while time.monotonic() < deadline and i < len(payloads):
        req = urllib.request.Request(url, data=payloads[i], method="POST", headers={
            "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:  # loopback
                resp.read()
            count += series * per_series
            i += 1
        except urllib.error.HTTPError as exc:
            if exc.code != 429:
                raise
            time.sleep(0.05)  # the hub says: later
    with sent.get_lock():
        sent.value += count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--series", type=int, default=500)
    ap.add_argument("--per-series", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="perflab-bench-") as tmp:
        store = Path(tmp) / "perflab.db"
        with serve(store, "--no-record", "--no-default-rules") as hub:
            url = hub.url + "/api/v1/write"
            sent = multiprocessing.Value("q", 0)
            procs = [multiprocessing.Process(target=push, args=(
                url, c, args.series, args.per_series, args.seconds, sent))
                for c in range(args.clients)]
            time.sleep(1)
            cpu0 = cpu_seconds(hub.pid)
            t0 = time.monotonic()
            for p in procs:
                p.start()
            for p in procs:
                p.join()
            # let the ingest queue write what it accepted
            time.sleep(2)
            cpu1 = cpu_seconds(hub.pid)
            wall = time.monotonic() - t0
        with Store.open(store, create=False) as st:
            written = st.conn.execute(  # a benchmark counts rows
                "SELECT (SELECT COUNT(*) FROM samples) + (SELECT COUNT(*) FROM samples_head)"
            ).fetchone()[0]
    cpu = cpu1 - cpu0
    print(f"pushed {sent.value:,} samples in {wall:.1f} s; stored {written:,}")
    print(f"hub CPU {cpu:.1f} s ({cpu / wall * 100:.0f} % of one core on average)")
    print(f"ingest: {written / cpu:,.0f} samples per CPU-second (target: 200,000), "
          f"{written / wall:,.0f} samples/s wall")


if __name__ == "__main__":
    main()
