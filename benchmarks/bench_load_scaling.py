"""Does `perflab load --workers N` scale? The rate of N workers against N x one worker's rate.

Issue 12's goal: on N free cores, against a target that is not the bottleneck, N workers give
at least 0.9 x N x the rate of one. For each worker count (in alternating rounds) the script
runs `perflab load URL --workers N -c N*C -d D` and prints the median requests per second,
requests per CPU-second of the generator (user + system of all its processes), and

    2 workers: 1.62x the rate of 1 worker, 0.81 of linear (goal >= 0.9 where the target keeps up)

    python benchmarks/bench_load_scaling.py [--workers 1,2] [--duration 10] [--rounds 3]
        [--connections-per-worker 50] [--url URL] [--nginx static|fixed] [--cpus LIST]

On this 2-core machine nginx shares the cores with the generator and caps the rate, so the
figure says what 2 workers give against 1 here, not how far perflab scales. On a bigger
machine, keep the target off the generator's cores and make it wider than the generator:

    # nginx with `worker_processes 8;` pinned to cores 8-15, listening on 127.0.0.1:8080
    taskset -c 8-15 nginx -c /path/to/nginx.conf
    # the generator on cores 0-7 (taskset is inherited by its workers)
    python benchmarks/bench_load_scaling.py --workers 1,2,4,8 --url http://127.0.0.1:8080/ \\
        --cpus 0-7

`--cpus LIST` runs perflab under `taskset -c LIST`. Watch the target's CPU while it runs
(`perflab top`): when it is near its cores' capacity, the rate measures the target.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from _load_targets import ENV, children_cpu, nginx


def run(url: str, workers: int, connections: int, duration: int,
        cpus: str | None) -> tuple[float, float]:
    """(requests per second, requests per CPU-second of the generator)."""
    prefix: list[str] = []
    if cpus is not None:
        taskset = shutil.which("taskset")
        if taskset is None:
            raise SystemExit("taskset is not installed (apt-get install util-linux)")
        prefix = [taskset, "-c", cpus]
    with tempfile.TemporaryDirectory(prefix="perflab-bench-store-") as tmp:
        cpu0 = children_cpu()
        out = subprocess.run(
            [*prefix, sys.executable, "-m", "perflab", "load", url, "--workers", str(workers),
             "-c", str(connections), "-d", f"{duration}s", "--json", "--store", f"{tmp}/b.db"],
            capture_output=True, text=True, env=ENV, check=False)
        cpu = children_cpu() - cpu0
    if out.returncode != 0:
        raise SystemExit(f"perflab load failed ({out.returncode}): {out.stderr}")
    doc = json.loads(out.stdout)
    if doc["errors"]:
        raise SystemExit(f"perflab load met errors: {doc['errors']}")
    return doc["rps"], doc["requests"] / max(cpu, 1e-9)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections-per-worker", type=int, default=50)
    ap.add_argument("--url", default=None, help="the target (default: a private nginx)")
    ap.add_argument("--nginx", choices=("static", "fixed"), default="fixed",
                    help="the private nginx: a small file, or a fixed answer from memory")
    ap.add_argument("--cpus", default=None, help="run perflab under taskset -c CPUS")
    a = ap.parse_args()
    counts = [int(x) for x in a.workers.split(",")]
    results: dict[int, list[tuple[float, float]]] = {n: [] for n in counts}
    target = (contextlib.nullcontext((a.url, None)) if a.url
              else nginx(fixed=a.nginx == "fixed"))
    with target as (url, _pid):
        print(f"target {url}, workers {counts}, {a.connections_per_worker} connections per "
              f"worker, {a.rounds} rounds of {a.duration}s", flush=True)
        for r in range(a.rounds):
            for n in counts if r % 2 == 0 else counts[::-1]:
                t0 = time.monotonic()
                results[n].append(run(url, n, n * a.connections_per_worker, a.duration,
                                      a.cpus))
                rps, per_cpu = results[n][-1]
                print(f"round {r + 1}: {n} workers {rps:,.0f} req/s, {per_cpu:,.0f} "
                      f"req/CPU-s ({time.monotonic() - t0:.1f}s)", flush=True)
    med = {n: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v))
           for n, v in results.items()}
    base = med[counts[0]][0] / counts[0]
    for n, (rps, per_cpu) in med.items():
        print(f"{n} workers: {rps:,.0f} req/s, {per_cpu:,.0f} req/CPU-s; "
              f"{rps / (base * counts[0]):.2f}x the rate of {counts[0]} worker(s), "
              f"{rps / (base * n):.2f} of linear (goal >= 0.9 where the target keeps up)")


if __name__ == "__main__":
    main()
