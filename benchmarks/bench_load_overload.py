"""An overloaded generator ends on time with bounded memory: --rate 10M for 3 s against nginx.

    python benchmarks/bench_load_overload.py [--rate 10000000] [--duration 3] [--drain 1]
prints the summary perflab printed, then
    overload: wall 5.1 s (duration 3 s + drain 1 s + start-up), peak RSS parent 46 MiB,
    worker 60 MiB, exit 1, asyncio warnings 0
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time

from _load_targets import ENV, nginx


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", default="10000000")
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--drain", type=float, default=1.0)
    a = ap.parse_args()
    with nginx(fixed=True) as (url, _pid), \
            tempfile.TemporaryDirectory(prefix="perflab-bench-") as tmp:
        t0 = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-m", "perflab", "load", url, "--rate", a.rate, "-d",
             f"{a.duration}s", "--drain", f"{a.drain}s", "--workers", "1", "--store",
             f"{tmp}/s.db"], capture_output=True, text=True, env=ENV, check=False)
        wall = time.monotonic() - t0
    # the largest of the descendants (parent or worker), in KiB on Linux
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(out.stdout, end="")
    print(out.stderr, end="")
    warnings = out.stderr.count("Task was destroyed")
    print(f"overload: wall {wall:.1f} s (duration {a.duration:g} s + drain {a.drain:g} s + "
          f"start-up), peak RSS of the largest process {peak:.0f} MiB, exit "
          f"{out.returncode}, asyncio warnings {warnings}")


if __name__ == "__main__":
    main()
