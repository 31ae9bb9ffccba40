"""Memory is bounded by design, not by the number of requests: 1 M vs 5 M requests.

Runs ``perflab load -n 1000000`` and ``-n 5000000`` (closed model, 50 connections, one worker)
against nginx on loopback and compares the peak resident memory of the worker (reported by
the worker itself, ru_maxrss) and of the parent process (measured here, from outside).

    python benchmarks/bench_load_memory.py [--small 1000000] [--large 5000000]
prints
    worker peak RSS growth 1M -> 5M requests: 0.4 MB (goal <= 20 MB)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _load_targets import ENV, nginx


def peak_rss_of(proc: subprocess.Popen[str]) -> int:
    """Poll VmHWM (peak RSS) of a running process until it exits; bytes."""
    peak = 0
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) * 1024)
        except OSError:
            break
        time.sleep(0.5)
    return peak


def run(url: str, n: int) -> tuple[dict, int]:
    with tempfile.TemporaryDirectory(prefix="perflab-bench-mem-") as tmp:
        proc = subprocess.Popen(
            [sys.executable, "-m", "perflab", "load", url, "-n", str(n), "-c", "50",
             "--workers", "1", "--json", "--store", f"{tmp}/m.db"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
        parent_peak = peak_rss_of(proc)
        out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"perflab load failed: {err}")
    return json.loads(out), parent_peak


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=1_000_000)
    ap.add_argument("--large", type=int, default=5_000_000)
    a = ap.parse_args()
    with nginx() as (url, _pid):
        small, parent_small = run(url, a.small)
        large, parent_large = run(url, a.large)
    mb = 1024 * 1024
    for label, doc, parent in (("small", small, parent_small), ("large", large, parent_large)):
        print(f"{label}: {doc['requests']:,} requests in {doc['duration_s']:.1f}s, worker peak "
              f"{doc['worker_max_rss_bytes'] / mb:.1f} MB, parent peak {parent / mb:.1f} MB")
    growth = (large["worker_max_rss_bytes"] - small["worker_max_rss_bytes"]) / mb
    print(f"parent peak RSS growth: {(parent_large - parent_small) / mb:.1f} MB")
    print(f"worker peak RSS growth {a.small / 1e6:g}M -> {a.large / 1e6:g}M requests: "
          f"{growth:.1f} MB (goal <= 20 MB)")


if __name__ == "__main__":
    main()
