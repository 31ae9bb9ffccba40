"""Log ingest through the Loki push API (target: >= 50,000 lines per CPU-second of the hub,
full-text index included), in batches like Promtail's: snappy protobuf PushRequests of
``--batch`` lines over a few streams, logfmt lines of about 120 bytes with levels and trace
ids, sent back to back by one client.

A real ``perflab serve --no-record`` runs on loopback; figures:

- lines/s the hub took, wall clock from the first push to the last line in the store;
- lines per CPU second of the hub process (utime + stime, from psutil), what one core ingests
  whatever else the shared machine does; split into the request side and the writer thread is
  not possible from outside, so the figure is the whole process.

    python benchmarks/bench_logs_ingest.py [--batches 100] [--batch 1000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import cramjam
import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit" / "logs"))

from _pushdata import push_request  # the tests' PushRequest encoder

from perflab.store import Store, log_stats
from perflab.testing import serve

LEVELS = ["info"] * 7 + ["warn"] * 2 + ["error"]


def batches(n: int, size: int, t0: int) -> list[bytes]:
    rnd = random.Random(1)
    out = []
    k = 0
    for _ in range(n):
        streams: dict[str, list[tuple[int, str, list[tuple[str, str]]]]] = {}
        for _ in range(size):
            app = rnd.choice(("api", "web", "worker", "db", "cache"))
            labels = f'{{job="{app}", env="prod", host="node-{rnd.randrange(3)}"}}'
            status = rnd.choice((200, 200, 404, 500))
            line = (f'ts={k} level={rnd.choice(LEVELS)} msg="handled request {k}" '
                    f"path=/v1/items/{rnd.randrange(10_000)} status={status} "
                    f"duration={rnd.randrange(1, 900)}ms trace_id={rnd.getrandbits(128):032x}")
            streams.setdefault(labels, []).append((t0 + k, line, []))
            k += 1
        out.append(bytes(cramjam.snappy.compress_raw(push_request(list(streams.items())))))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--batch", type=int, default=1000)
    args = ap.parse_args()
    total = args.batches * args.batch
    bodies = batches(args.batches, args.batch, time.time_ns() - 3600 * 10**9)
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "s.db"
        with serve(store, "--no-record") as served, httpx.Client(timeout=60) as client:
            proc = psutil.Process(served.pid)
            cpu0 = sum(proc.cpu_times()[:2])
            t0 = time.perf_counter()
            refused = 0
            for body in bodies:
                while True:
                    r = client.post(served.url + "/loki/api/v1/push", content=body,
                                    headers={"Content-Type": "application/x-protobuf"})
                    if r.status_code != 429:
                        break
                    refused += 1
                    time.sleep(0.05)
                r.raise_for_status()
            with Store.open(store) as st:
                while log_stats(st)[0] < total:
                    time.sleep(0.02)
            wall = time.perf_counter() - t0
            cpu = sum(proc.cpu_times()[:2]) - cpu0
    print(f"lines: {total:,} in batches of {args.batch} ({refused} pushes answered 429, "
          "retried)")
    print(f"wall: {wall:.2f} s -> {total / wall:,.0f} lines/s")
    print(f"hub CPU: {cpu:.2f} s -> {total / cpu:,.0f} lines per CPU-second")


if __name__ == "__main__":
    main()
