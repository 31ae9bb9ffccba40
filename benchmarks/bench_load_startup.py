"""The seconds `perflab load` spends around its test: start-up (imports, workers) and the end
(the last results, storing the run), against nginx on loopback.

    python benchmarks/bench_load_startup.py [--repeat 5] [--duration 1] [--workers 1]
        [--no-bytecode] [--also OTHER/src]

prints the median of each figure:

    python -c pass                      18 ms
    imports of the command (parent)    140 ms   (python -X importtime, perflab load's modules)
    imports of a worker                 70 ms
    perflab load -d 1s: wall 1.32 s -> 0.32 s around the test; CPU 0.55 s

The command starts its workers before it imports the rest, so the two import times overlap.
As `bench_load_cpu_vs_wrk.py`, perflab runs with its bytecode (PYTHONPYCACHEPREFIX, one
unmeasured run first); `--no-bytecode` compiles every module at each start instead.

`--also OTHER/src` runs another perflab (a checkout of an older commit) alternately with this
one, round for round, and prints its wall times beside (on a shared machine, figures taken at
different times are not comparable):
    mkdir /tmp/old && git archive COMMIT | tar -x -C /tmp/old
    python benchmarks/bench_load_startup.py --duration 10 --also /tmp/old/src
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _load_targets import ENV, children_cpu, nginx, use_bytecode

WORKER_IMPORT = "import perflab.load._worker"
# what `perflab load` imports, before (the CLI, the checks, the store) and after its workers
# started (the runner's merging, numpy)
PARENT_IMPORT = ("import perflab.cli, perflab.cli.load, perflab.load._workers, perflab.load._run,"
                 " perflab.load._preflight, perflab.load._totals, perflab.load._hgrm")


def import_ms(argv: list[str], env: dict[str, str]) -> float:
    """Total of `python -X importtime`'s self times: what importing costs that command."""
    out = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True,
                         text=True, env=env, check=False)
    total = 0
    for line in out.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            total += int(line.split(":", 1)[1].split("|")[0])
    return total / 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--no-bytecode", action="store_true")
    ap.add_argument("--also", metavar="SRC", default=None,
                    help="another perflab's src directory, run alternately with this one")
    a = ap.parse_args()
    env = dict(ENV)
    use_bytecode(env, compile_each_start=a.no_bytecode)
    other = None
    if a.also:
        other = {**env, "PYTHONPATH": str(Path(a.also).resolve())}
        use_bytecode(other, compile_each_start=a.no_bytecode)  # its own bytecode cache
    with nginx(fixed=True) as (url, _pid), \
            tempfile.TemporaryDirectory(prefix="perflab-bench-store-") as tmp:
        load = ["-m", "perflab", "load", url, "-c", "10", "-d", f"{a.duration:g}s",
                "--workers", str(a.workers), "--store", f"{tmp}/b.db", "--json"]
        subprocess.run([sys.executable, *load], capture_output=True, env=env, check=True)
        if other is not None:
            subprocess.run([sys.executable, *load], capture_output=True, env=other, check=True)
        floor, parent, worker, walls, cpus, other_walls = [], [], [], [], [], []
        for _ in range(a.repeat):
            t0 = time.monotonic()
            subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
            floor.append(time.monotonic() - t0)
            parent.append(import_ms(["-c", PARENT_IMPORT], env))
            worker.append(import_ms(["-c", WORKER_IMPORT], env))
            cpu0, t0 = children_cpu(), time.monotonic()
            out = subprocess.run([sys.executable, *load], capture_output=True, text=True,
                                 env=env, check=True)
            walls.append(time.monotonic() - t0)
            cpus.append(children_cpu() - cpu0)
            json.loads(out.stdout)
            if other is not None:
                t0 = time.monotonic()
                subprocess.run([sys.executable, *load], capture_output=True, env=other,
                               check=True)
                other_walls.append(time.monotonic() - t0)
    wall = statistics.median(walls)
    print(f"python -c pass                   {1000 * statistics.median(floor):5.0f} ms")
    print(f"imports of the command (parent)  {statistics.median(parent):5.0f} ms   "
          "(python -X importtime; numpy's part after the workers have started)")
    print(f"imports of a worker              {statistics.median(worker):5.0f} ms")
    print(f"perflab load -d {a.duration:g}s: wall {wall:.2f} s -> {wall - a.duration:.2f} s "
          f"around the test; CPU {statistics.median(cpus):.2f} s "
          f"({'compiling its modules' if a.no_bytecode else 'with bytecode'})")
    for who, ws in (("this perflab", walls), ("--also", other_walls)):
        if ws:
            print(f"{who:<13} wall: median {statistics.median(ws):.2f} s, max {max(ws):.2f} s "
                  f"({' '.join(f'{w:.2f}' for w in ws)})")


if __name__ == "__main__":
    main()
