"""Observability overhead on the demo's traced chain (frontend -> api -> store, each set up with
``perflab.otel.setup``): throughput and p99 of ``GET /checkout`` without tracing, at 10 % head
sampling (``ParentBased(TraceIdRatioBased(0.1))``) and at 100 % (target: 10 % costs <= 5 %).

The three configurations alternate, round after round (so drift of the shared machine touches
them alike): each round starts the chain with the configuration's ``OTEL_*`` variables, drives it
with ``perflab load`` (closed model, fixed connections) for a few seconds, and stops it. Spans
go to a real hub (its CPU is part of the cost, as a local collector's would be). The figures are
medians over the rounds; the overhead is relative to "off".

    python benchmarks/bench_trace_overhead.py [--rounds 5] [--seconds 6] [--connections 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from perflab.testing import free_port, serve

SRC = Path(__file__).resolve().parents[1] / "src"
CONFIGS = {
    "off": {"OTEL_SDK_DISABLED": "true"},
    "10%": {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
    "100%": {"OTEL_TRACES_SAMPLER": "parentbased_always_on"},
}


def _start_chain(tmp: Path, env: dict[str, str]) -> tuple[list[subprocess.Popen], int]:
    procs, next_url = [], ""
    for role in ("store", "api", "frontend"):
        port_file = tmp / f"{role}.port"
        port_file.unlink(missing_ok=True)
        args = [sys.executable, "-m", "perflab.demo.chain", "--role", role, "--port", "0",
                "--port-file", str(port_file)]
        if next_url:
            args += ["--next", next_url]
        procs.append(subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL))
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{role} did not start")
            time.sleep(0.05)
        next_url = f"http://127.0.0.1:{int(port_file.read_text())}"
    return procs, int((tmp / "frontend.port").read_text())


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in reversed(procs):
        p.terminate()
    for p in procs:
        p.wait(30)


def _load(port: int, seconds: float, connections: int, store: Path) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-m", "perflab", "load", "run",
         f"http://127.0.0.1:{port}/checkout?order=1{{n}}", "--key-space", "19",
         "-c", str(connections), "-d", f"{seconds}s", "--workers", "1", "--json",
         "--store", str(store)],
        env={**os.environ, "PYTHONPATH": str(SRC)}, capture_output=True, text=True,
        check=True, timeout=120)
    doc = json.loads(out.stdout)
    summary = doc.get("summary", doc)
    return float(summary["rps"]), float(summary["latency_ms"]["p99"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in CONFIGS}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        port = free_port()
        with serve(tmp / "hub.db", "--no-record", "--otlp-http", f"127.0.0.1:{port}",
                   "--no-otlp-grpc", "--no-zipkin"):
            base = {**os.environ, "PYTHONPATH": str(SRC),
                    "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"}
            names = list(CONFIGS)
            for r in range(args.rounds):
                order = names[r % 3:] + names[:r % 3]  # rotate which goes first
                for name in order:
                    procs, fport = _start_chain(tmp, {**base, **CONFIGS[name]})
                    try:
                        results[name].append(_load(fport, args.seconds, args.connections,
                                                   tmp / "load.db"))
                    finally:
                        _stop(procs)
                print(f"round {r + 1}: " + ", ".join(
                    f"{n} {results[n][-1][0]:.0f} req/s p99 {results[n][-1][1]:.1f} ms"
                    for n in names), flush=True)
    off_rps = statistics.median(r for r, _ in results["off"])
    off_p99 = statistics.median(p for _, p in results["off"])
    for name in CONFIGS:
        rps = statistics.median(r for r, _ in results[name])
        p99 = statistics.median(p for _, p in results[name])
        print(f"{name:>5}: {rps:7.0f} req/s ({100 * (off_rps - rps) / off_rps:+.1f} % cost), "
              f"p99 {p99:6.1f} ms ({100 * (p99 - off_p99) / off_p99:+.1f} %)")


if __name__ == "__main__":
    main()
