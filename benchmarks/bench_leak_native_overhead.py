"""What `perflab leak PID` costs a native process: its CPU time per request with and without the
bpftrace uprobes on libc's malloc/calloc/realloc/free (docs/debug.md, "A native process").

    PYTHONPATH=src python benchmarks/bench_leak_native_overhead.py [--rounds 6] [--requests 5000]

Needs root, bpftrace and gcc. The program is the tests' tests/fixtures/debug/cleak.c with
``--bench N``: about 80 allocator calls per request (malloc, calloc, realloc, free), no pause; it
measures its own CPU time (getrusage) over the N requests, which start only once the probes are
attached. Rounds alternate without/with; prints the medians, the
spread, and the CPU added per allocator call.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from perflab.debug._leak_native import NativeSource

SOURCE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "debug" / "cleak.c"
CALLS_PER_REQUEST = 2 + 20 * 5  # remember_request: a malloc, and a free of the ring; 20 x (malloc,
                                # calloc, realloc, 2 frees) in handle_request


def one_round(binary: Path, requests: int, *, watched: bool) -> float:
    """CPU seconds per request of one fresh process."""
    proc = subprocess.Popen([str(binary), "--bench", str(requests)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdout.readline()
    source = None
    try:
        if watched:
            source = NativeSource(proc.pid, duration_s=300, interval_s=1)
            deadline = time.monotonic() + 120
            while not source.attached.wait(0.2) and source.failure is None:
                if time.monotonic() > deadline:
                    raise SystemExit("bpftrace did not attach within 120 s")
            if source.failure:
                raise SystemExit(source.failure)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        cpu = float(proc.stdout.readline().split()[0])
    finally:
        if source is not None:
            source.close()
        proc.kill()
        proc.communicate(timeout=30)
    return cpu / requests


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--requests", type=int, default=5000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        binary = Path(tmp) / "cleak"
        subprocess.run(["gcc", "-O2", "-g", "-fno-omit-frame-pointer", "-o", str(binary),
                        str(SOURCE)], check=True)
        off, on = [], []
        for _ in range(args.rounds):
            off.append(one_round(binary, args.requests, watched=False))
            on.append(one_round(binary, args.requests, watched=True))
    for name, rounds in (("without the uprobes", off), ("with the uprobes   ", on)):
        us = [x * 1e6 for x in rounds]
        print(f"{name}: {statistics.median(us):.0f} us CPU/request "
              f"(rounds {min(us):.0f}-{max(us):.0f})")
    added = (statistics.median(on) - statistics.median(off)) * 1e6
    print(f"added: {added:.0f} us per request, {added / CALLS_PER_REQUEST * 1000:.0f} ns per "
          f"allocator call ({CALLS_PER_REQUEST} calls per request); "
          f"x{statistics.median(on) / statistics.median(off):.1f}")


if __name__ == "__main__":
    sys.exit(main())
