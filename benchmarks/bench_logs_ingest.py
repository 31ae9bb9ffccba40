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
    python benchmarks/bench_logs_ingest.py --batches 200 --against ../base/src --rounds 5

``--against SRC``: the same run, alternately with the perflab of another tree (its ``src``, a
``git worktree`` of the base commit) and with this one, ``--rounds`` times, in child
processes; then each round's lines per CPU-second and the medians. On a shared machine only
such pairs, taken under the same load, compare.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
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


def alternate(args: argparse.Namespace) -> None:
    """Rounds of (the other tree, this tree), each run in a child with that tree's perflab."""
    here = str(Path(__file__).resolve().parents[1] / "src")
    trees = (("base", str(Path(args.against).resolve())), ("this", here))
    got: dict[str, list[float]] = {"base": [], "this": []}
    for r in range(args.rounds):
        for name, src in trees:
            out = subprocess.run([sys.executable, __file__, "--batches", str(args.batches),
                                  "--batch", str(args.batch)], capture_output=True, text=True,
                                 check=True, env={**os.environ, "PYTHONPATH": src})
            line = next(x for x in out.stdout.splitlines() if x.startswith("hub CPU"))
            got[name].append(float(line.split("-> ")[1].split()[0].replace(",", "")))
        print(f"round {r + 1}: base {got['base'][-1]:,.0f}, this {got['this'][-1]:,.0f} lines "
              f"per CPU-second ({got['this'][-1] / got['base'][-1]:.2f}x)", flush=True)
    ratios = [b / a for a, b in zip(got["base"], got["this"], strict=True)]
    print(f"median: base {statistics.median(got['base']):,.0f}, this "
          f"{statistics.median(got['this']):,.0f} lines per CPU-second; this / base median "
          f"{statistics.median(ratios):.2f} (from {min(ratios):.2f} to {max(ratios):.2f})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--against", metavar="SRC", default=None,
                    help="The src directory of another tree: alternate with it.")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if args.against is not None:
        alternate(args)
        return
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
