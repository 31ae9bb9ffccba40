"""Observability overhead on the demo's traced chain (frontend -> api -> store, each set up with
``perflab.otel.setup``): what tracing costs the service without tracing, at 10 % head sampling
(``ParentBased(TraceIdRatioBased(0.1))``) and at 100 % (target: 10 % costs <= 5 %).

The figure is the service's **CPU seconds per request**: the utime + stime of the chain's three
processes (their exporter threads included) over a load test, divided by the requests it served.
On a shared machine throughput moves with whatever else runs; the CPU a request costs the
service moves much less. The three configurations alternate, round after round, in a rotating
order (so drift touches them alike): each round starts the chain with the configuration's
``OTEL_*`` variables, warms it up, drives it with ``perflab load`` (closed model, fixed
connections) and reads the chain's CPU before the load and 5.5 s after it (so the export of
the last spans, every 5 s by default, is counted too; an idle chain costs nothing meanwhile).
Spans go to a real hub; its CPU is reported beside, not counted.

Printed: per configuration the median CPU per request and its range over the rounds, the
overhead as the median of the per-round ratios to "off" (each against the "off" of its own
round) with their range, and throughput and p99 as a reference.

``--before-src DIR`` adds a fourth configuration, 10 % with another tree's ``src/`` on
``PYTHONPATH`` (``git archive REV src | tar -x -C DIR``), in the same rounds: a change to
``perflab.otel`` or the demo measured before and after under the same load.

    python benchmarks/bench_trace_overhead.py [--rounds 5] [--seconds 6] [--connections 8]
                                              [--before-src DIR/src]
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
EXPORT_WAIT_S = 5.5  # the BatchSpanProcessor's default schedule delay is 5 s
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


def _cpu_s(pids: list[int]) -> float:
    """utime + stime of these processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _load(port: int, seconds: float, connections: int, store: Path
          ) -> tuple[float, float, int]:
    out = subprocess.run(
        [sys.executable, "-m", "perflab", "load", "run",
         f"http://127.0.0.1:{port}/checkout?order=1{{n}}", "--key-space", "19",
         "-c", str(connections), "-d", f"{seconds}s", "--workers", "1", "--json",
         "--store", str(store)],
        env={**os.environ, "PYTHONPATH": str(SRC)}, capture_output=True, text=True,
        check=True, timeout=120)
    doc = json.loads(out.stdout)
    summary = doc.get("summary", doc)
    p99 = summary["latency_ms"]["p99"]  # None when no request completed (a chain that failed)
    if p99 is None:
        sys.exit(f"no request completed in {seconds}s: {out.stderr.strip()[-500:]}")
    return float(summary["rps"]), float(p99), int(summary["requests"])


def _round(tmp: Path, env: dict[str, str], args: argparse.Namespace, hub_pid: int
           ) -> tuple[float, float, float, float]:
    """(CPU us per request of the chain, req/s, p99 ms, hub CPU us per request)."""
    procs, fport = _start_chain(tmp, env)
    try:
        _load(fport, 1.0, args.connections, tmp / "warmup.db")  # imports, caches, connections
        pids = [p.pid for p in procs]
        cpu0, hub0 = _cpu_s(pids), _cpu_s([hub_pid])
        rps, p99, requests = _load(fport, args.seconds, args.connections, tmp / "load.db")
        time.sleep(EXPORT_WAIT_S)  # the spans of the last requests exported, in the count
        cpu = _cpu_s(pids) - cpu0
        hub = _cpu_s([hub_pid]) - hub0
    finally:
        _stop(procs)
    return 1e6 * cpu / max(requests, 1), rps, p99, 1e6 * hub / max(requests, 1)


def _range(values: list[float]) -> str:
    return f"{min(values):.1f} .. {max(values):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--before-src", type=Path, default=None)
    args = parser.parse_args()
    configs = dict(CONFIGS)
    if args.before_src is not None:
        configs["10% before"] = {**CONFIGS["10%"], "PYTHONPATH": str(args.before_src.resolve())}
    names = list(configs)
    results: dict[str, list[tuple[float, float, float, float]]] = {k: [] for k in names}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        port = free_port()
        with serve(tmp / "hub.db", "--no-record", "--otlp-http", f"127.0.0.1:{port}",
                   "--no-otlp-grpc", "--no-zipkin") as hub:
            base = {**os.environ, "PYTHONPATH": str(SRC),
                    "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"}
            for r in range(args.rounds):
                k = r % len(names)
                order = names[k:] + names[:k]  # rotate which goes first
                for name in order:
                    results[name].append(_round(tmp, {**base, **configs[name]}, args, hub.pid))
                print(f"round {r + 1}: " + ", ".join(
                    f"{n} {results[n][-1][0]:.0f} us/req ({results[n][-1][1]:.0f} req/s)"
                    for n in names) + f"; load average {os.getloadavg()[0]:.1f}", flush=True)
    off = results["off"]
    off_rps = statistics.median(x[1] for x in off)
    off_p99 = statistics.median(x[2] for x in off)
    print(f"chain CPU per request, {args.rounds} alternating rounds of {args.seconds:g} s, "
          f"{args.connections} connections:")
    for name in names:
        cpu = [x[0] for x in results[name]]
        ratios = [100 * (x[0] / o[0] - 1) for x, o in zip(results[name], off, strict=True)]
        rps = statistics.median(x[1] for x in results[name])
        p99 = statistics.median(x[2] for x in results[name])
        hub = statistics.median(x[3] for x in results[name])
        print(f"{name:>10}: {statistics.median(cpu):6.0f} us/req (range {_range(cpu)}), "
              f"overhead {statistics.median(ratios):+.1f} % (per round {_range(ratios)} %); "
              f"{rps:.0f} req/s ({100 * (rps - off_rps) / off_rps:+.1f} %), "
              f"p99 {p99:.1f} ms ({100 * (p99 - off_p99) / off_p99:+.1f} %); "
              f"hub {hub:.0f} us/req")


if __name__ == "__main__":
    main()
