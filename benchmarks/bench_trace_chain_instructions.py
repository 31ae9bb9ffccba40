"""Machine instructions a checkout costs the demo's real traced chain, off and at 10 % head
sampling, counted by callgrind in the three running services.

``bench_trace_overhead.py`` measures the chain's CPU time per request, which on a shared
machine moves by ±10 % a round; ``bench_trace_instrumentation.py`` counts instructions of the
tracing alone, in one process without the services around it. This counts what the issue's
figure is about, the real chain (``perflab.demo.chain``: http.server, urllib, the store's
lookups, each service set up with ``perflab.otel.setup`` and exporting to a real hub), with an
instruction count that the machine's load does not move.

Each configuration starts the three services under ``valgrind --tool=callgrind`` twice (the hub
runs natively): once for ``--warmup`` checkouts, once for the warm-up and ``--checkouts`` more,
one after another; then the services are stopped, which exports what they hold. The
difference of the two runs' instructions, summed over the three services and divided by
``--checkouts``, is the figure: start-up, warm-up and the stop cancel. The spans the hub stored
are counted once its count stops changing.
Order numbers count up and every 25th checkout has the expired coupon, so the planted slow call
(one order in ten) and error path take their usual share. At 10 % about a tenth of the
checkouts are sampled, a binomial draw: the spans printed say how many were.

    python benchmarks/bench_trace_chain_instructions.py [--checkouts 300] [--warmup 30]
                                                        [--configs off,0%,10%,100%]

``0%`` is every span unsampled (the unsampled path alone), ``100%`` every span recorded. Needs
valgrind; five to ten minutes a configuration (each service runs some 50 times slower under
callgrind). Counts do not depend on the machine's load: it can run beside other work.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench_trace_overhead import CHAIN_ROLES, UNSAMPLED, start_chain
from bench_trace_overhead import CONFIGS as OVERHEAD_CONFIGS
from perflab.store import Store, span_stats
from perflab.testing import free_port, serve

SRC = Path(__file__).resolve().parents[1] / "src"
# after the last checkout: a batch export it set off finishes before the services are stopped
EXPORT_WAIT_S = 8.0
SETTLE_S = 2.0  # the hub's span count unchanged this long: every export is written
# The BatchSpanProcessor exports every 5 s of wall time. Under callgrind a checkout takes some
# 50 times longer, so a 5 s schedule would send a request for every few checkouts instead of for
# every few hundred, and each export's fixed cost (an HTTP request through `requests`) would
# count 50 times over: the first run counted +403,582 instructions a checkout at 10 % that way.
# With the schedule out of reach the spans go in batches of 512 and at the stop, about the batch
# sizes of the real chain at 100 requests a second.
SCHEDULE_DELAY_MS = "600000"
CONFIGS = {**OVERHEAD_CONFIGS, "0%": UNSAMPLED}  # the overhead benchmark's, and 0 %


def _checkouts(port: int, start: int, n: int) -> int:
    """``n`` checkouts, one at a time; how many failed (the planted expired coupon's 502)."""
    failed = 0
    for i in range(start, start + n):
        coupon = "&coupon=EXPIRED" if i % 25 == 0 else ""
        try:
            with urllib.request.urlopen(  # loopback, our own service
                    f"http://127.0.0.1:{port}/checkout?order={i}{coupon}", timeout=120) as r:
                r.read()
        except urllib.error.HTTPError:
            failed += 1
    return failed


def _run(env: dict[str, str], args: argparse.Namespace, checkouts: int, hub_store: Path,
         tmp: Path) -> tuple[int, int, int]:
    """One chain under callgrind: the warm-up, ``checkouts`` more, the exporter's wait, then
    stopped. Its instructions summed over the three services, the failed checkouts and the
    spans that reached the hub."""
    tmp.mkdir()
    spans_before = _spans(hub_store)
    procs, port = start_chain(
        tmp, env, start_limit_s=300,
        wrap=lambda role: ["valgrind", "--tool=callgrind", f"--log-file={tmp}/{role}.%p.log",
                           f"--callgrind-out-file={tmp}/{role}.%p.cg"])
    try:
        _checkouts(port, 0, args.warmup)
        failed = _checkouts(port, args.warmup, checkouts)
        time.sleep(EXPORT_WAIT_S)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(300)
    total = 0
    for role, p in zip(CHAIN_ROLES, procs, strict=True):
        text = (tmp / f"{role}.{p.pid}.cg").read_text()
        found = re.search(r"^(?:summary|totals):\s+(\d+)", text, re.MULTILINE)
        if found is None:
            raise RuntimeError(f"no count in {role}'s callgrind output")
        total += int(found.group(1))
    return total, failed, _settled_spans(hub_store) - spans_before


def _measure(name: str, env: dict[str, str], args: argparse.Namespace, hub_store: Path,
             tmp: Path) -> float:
    """(I(warm-up + N) - I(warm-up)) / N: start-up, warm-up and the stop cancel out."""
    base, _, base_spans = _run(env, args, 0, hub_store, tmp / "base")
    total, failed, spans = _run(env, args, args.checkouts, hub_store, tmp / "counted")
    per = (total - base) / int(args.checkouts)
    print(f"{name:>4}: {per:>12,.0f} instructions a checkout ({args.checkouts} checkouts, "
          f"{failed} failed as planted; {spans - base_spans} more spans reached the hub, "
          "nine a sampled checkout)",
          flush=True)
    return per


def _settled_spans(store_path: Path) -> int:
    """The hub's span count once it has stopped changing: the services' last exports, sent as
    they stopped, are written a moment later."""
    count = _spans(store_path)
    while True:
        time.sleep(SETTLE_S)
        now = _spans(store_path)
        if now == count:
            return count
        count = now


def _spans(store_path: Path) -> int:
    with Store.open(store_path) as store:
        count, _, _ = span_stats(store)
    return count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkouts", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--configs", default="off,0%,10%,100%",
                        help="which of off, 0%%, 10%%, 100%% (comma-separated; off always)")
    args = parser.parse_args()
    names = ["off", *(n for n in args.configs.split(",") if n in CONFIGS and n != "off")]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        port = free_port()
        with serve(tmp / "hub.db", "--no-record", "--otlp-http", f"127.0.0.1:{port}",
                   "--no-otlp-grpc", "--no-zipkin"):
            base = {**os.environ, "PYTHONPATH": str(SRC),
                    "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
                    "OTEL_BSP_SCHEDULE_DELAY": SCHEDULE_DELAY_MS}
            counts = {}
            for i, name in enumerate(names):
                run = tmp / f"run{i}"
                run.mkdir()
                counts[name] = _measure(name, {**base, **CONFIGS[name]}, args, tmp / "hub.db",
                                        run)
    for name in names[1:]:
        print(f"{name:>4} against off: {100 * (counts[name] / counts['off'] - 1):+.2f} % "
              f"instructions a checkout ({counts[name] - counts['off']:+,.0f})")


if __name__ == "__main__":
    main()
