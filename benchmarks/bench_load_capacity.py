"""Time to find the knee, and its error, on a test server of known capacity.

    python benchmarks/bench_load_capacity.py [--service-time 0.05] [--slots 10] [--step 3]
        [--rounds 1]

The server (perflab's test server, ``--service-time S --slots N``) serves each request in S on
one of N slots: its capacity is N / S by construction. ``perflab load capacity`` searches it
with ``p99 < 5 x S``; prints per round
    capacity: knee 203/s of 200/s (+1.6 %), 11 steps in 41 s, saturated: concurrency
Goal (issue 18): the knee within 5 %, found in 3 minutes or less.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

from _load_targets import ENV


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--service-time", type=float, default=0.05)
    ap.add_argument("--slots", type=int, default=10)
    ap.add_argument("--step", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=1)
    a = ap.parse_args()
    capacity = a.slots / a.service_time
    server = subprocess.Popen(
        [sys.executable, "-m", "perflab.load._testserver", "--service-time",
         f"{a.service_time}s", "--slots", str(a.slots)],
        stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert server.stdout is not None
        hostport = server.stdout.readline().split()[-1]
        for _ in range(a.rounds):
            with tempfile.TemporaryDirectory(prefix="perflab-bench-") as tmp:
                t0 = time.monotonic()
                out = subprocess.run(
                    [sys.executable, "-m", "perflab", "load", "capacity",
                     f"http://{hostport}/", "--threshold", f"p99<{5 * a.service_time}s",
                     "--threshold", "error_rate<0.1%", "--start-rate", f"{capacity / 8:g}",
                     "--step", f"{a.step}s", "--workers", "1", "--pid", str(server.pid),
                     "--store", f"{tmp}/s.db", "--json"],
                    capture_output=True, text=True, env=ENV, check=False)
                wall = time.monotonic() - t0
            if out.returncode != 0:
                print(out.stderr, end="")
                continue
            doc = json.loads(out.stdout)
            knee = doc["knee"]
            error = (knee["rate"] - capacity) / capacity
            print(f"capacity: knee {knee['rate']:.0f}/s of {capacity:.0f}/s ({error:+.1%}), "
                  f"{len(doc['curve'])} steps in {wall:.0f} s, saturated: {knee['resource']}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
