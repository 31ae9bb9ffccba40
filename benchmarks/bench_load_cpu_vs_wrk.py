"""Requests per CPU-second of the generator: `perflab load` vs `wrk -t1 -c50`, against nginx.

Issue 12's figures. Both generators hit the same nginx on loopback in the same run, in
alternating rounds (the order flips each round, so drift on a shared machine hits both alike).
For each run: the requests it completed, the CPU it spent (user + system of ALL its processes:
`resource.getrusage(RUSAGE_CHILDREN)` around the run, which counts perflab's CLI process and its
workers, reaped by it, as well as wrk), and its wall time from the command to its exit (start-up,
the run, storing the result). Prints each round, the medians and

    perflab/wrk requests per CPU-second: median of per-round ratios 0.93 (goal >= 0.9)
    perflab wall time of a 10s run: median 10.21s, max 10.28s (goal <= 10.5s)

    python benchmarks/bench_load_cpu_vs_wrk.py [--rounds 5] [--duration 10]
        [--nginx static|fixed] [--url URL] [--connections 50] [--also OTHER/src]

`--also OTHER/src` measures another perflab (a checkout of an older commit, say) in the same
rounds, so that an engine change is judged against the same wrk runs:
    mkdir /tmp/old && git archive COMMIT | tar -x -C /tmp/old
    python benchmarks/bench_load_cpu_vs_wrk.py --also /tmp/old/src

Throughput (req/s) is printed too, but on a shared 2-core machine where nginx caps it, it swings
from run to run; CPU per request is the stable comparison. `--url` points both at another
loopback target instead of the private nginx.

perflab runs as installed: with its modules' bytecode (pip compiles it at install time). A
checkout run with PYTHONDONTWRITEBYTECODE=1 would compile every module of perflab at each
start; the script keeps bytecode in a private directory (PYTHONPYCACHEPREFIX) and makes it
with one unmeasured run first. `--no-bytecode` measures the compiling case instead.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _load_targets import ENV, children_cpu, nginx, use_bytecode


@dataclass
class Measured:
    requests: float
    cpu_s: float
    wall_s: float

    @property
    def per_cpu_s(self) -> float:
        return self.requests / max(self.cpu_s, 1e-9)

    @property
    def rps(self) -> float:
        return self.requests / max(self.wall_s, 1e-9)


_env = dict(ENV)


def _measured(argv: list[str]) -> tuple[subprocess.CompletedProcess[str], float, float]:
    cpu0, t0 = children_cpu(), time.monotonic()
    out = subprocess.run(argv, capture_output=True, text=True, env=_env, check=False)
    return out, children_cpu() - cpu0, time.monotonic() - t0


def run_wrk(url: str, duration: int, connections: int) -> Measured:
    exe = shutil.which("wrk")
    if exe is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    out, cpu, wall = _measured([exe, "-t1", f"-c{connections}", f"-d{duration}s", url])
    found = re.search(r"(\d+) requests in", out.stdout)
    if out.returncode != 0 or found is None:
        raise SystemExit(f"wrk failed: {out.stdout}{out.stderr}")
    # wrk's request count is of the test window; its wall time includes nothing else to speak of
    return Measured(float(found.group(1)), cpu, wall)


def run_perflab(url: str, duration: int, connections: int, src: str | None = None) -> Measured:
    """``perflab load`` as a user runs it; ``src``: another perflab source tree's ``src``."""
    env = dict(_env)
    if src is not None:
        env["PYTHONPATH"] = src
        if "PYTHONPYCACHEPREFIX" in env:  # its own bytecode, beside ours
            env["PYTHONPYCACHEPREFIX"] = str(Path(env["PYTHONPYCACHEPREFIX"]) / "other")
    with tempfile.TemporaryDirectory(prefix="perflab-bench-store-") as tmp:
        cpu0, t0 = children_cpu(), time.monotonic()
        out = subprocess.run([
            sys.executable, "-m", "perflab", "load", url, "--workers", "1",
            "-c", str(connections), "-d", f"{duration}s", "--json", "--store", f"{tmp}/b.db"],
            capture_output=True, text=True, env=env, check=False)
        cpu, wall = children_cpu() - cpu0, time.monotonic() - t0
    if out.returncode != 0:
        raise SystemExit(f"perflab load failed ({out.returncode}): {out.stderr}")
    doc = json.loads(out.stdout)
    if doc["errors"]:
        raise SystemExit(f"perflab load met errors: {doc['errors']}")
    return Measured(float(doc["requests"]), cpu, wall)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--nginx", choices=("static", "fixed"), default="static",
                    help="static: a small file (the default); fixed: return 200 from memory")
    ap.add_argument("--url", default=None, help="another loopback target instead of nginx")
    ap.add_argument("--no-bytecode", action="store_true",
                    help="compile perflab's modules at each start (no .pyc), as a checkout "
                         "with PYTHONDONTWRITEBYTECODE=1 does")
    ap.add_argument("--also", metavar="SRC", default=None,
                    help="another perflab's src directory (a checkout of an older commit), "
                         "measured in the same rounds as `other`")
    a = ap.parse_args()
    use_bytecode(_env, compile_each_start=a.no_bytecode)
    engines = {"perflab": None, **({"other": a.also} if a.also else {})}
    runs: dict[str, list[Measured]] = {"wrk": [], **{who: [] for who in engines}}
    target = (contextlib.nullcontext((a.url, None)) if a.url
              else nginx(fixed=a.nginx == "fixed"))
    with target as (url, _pid):
        print(f"target {url} ({'given' if a.url else 'nginx ' + a.nginx}), "
              f"{a.rounds} rounds of {a.duration}s, -c {a.connections}, perflab "
              f"{'compiling its modules' if a.no_bytecode else 'with bytecode'}", flush=True)
        if not a.no_bytecode:
            for src in engines.values():  # writes the bytecode; not measured
                run_perflab(url, 1, a.connections, src)
        for r in range(a.rounds):
            order = list(runs) if r % 2 == 0 else list(runs)[::-1]
            for who in order:
                runs[who].append(run_wrk(url, a.duration, a.connections) if who == "wrk" else
                                 run_perflab(url, a.duration, a.connections, engines[who]))
            wrk = runs["wrk"][-1].per_cpu_s
            print(f"round {r + 1}: " + "   ".join(
                f"{who} {ms[-1].requests:,.0f} req, {ms[-1].cpu_s:.2f} CPU-s -> "
                f"{ms[-1].per_cpu_s:,.0f} req/CPU-s ({ms[-1].per_cpu_s / wrk:.3f} of wrk), "
                f"wall {ms[-1].wall_s:.2f}s" for who, ms in runs.items()), flush=True)
    for who, ms in runs.items():
        print(f"{who:8s} median: {statistics.median(m.per_cpu_s for m in ms):,.0f} req/CPU-s, "
              f"{statistics.median(m.rps for m in ms):,.0f} req/s of wall time "
              f"(range {min(m.per_cpu_s for m in ms):,.0f} - {max(m.per_cpu_s for m in ms):,.0f}"
              " req/CPU-s)")
    for who in engines:
        ratios = [m.per_cpu_s / w.per_cpu_s for m, w in zip(runs[who], runs["wrk"], strict=True)]
        walls = [m.wall_s for m in runs[who]]
        print(f"{who}/wrk requests per CPU-second: median of per-round ratios "
              f"{statistics.median(ratios):.3f} (goal >= 0.9; rounds "
              f"{[round(x, 3) for x in ratios]})")
        print(f"{who} wall time of a {a.duration}s run: median {statistics.median(walls):.2f}s, "
              f"max {max(walls):.2f}s (goal <= {a.duration + 0.5:g}s)")


if __name__ == "__main__":
    main()
