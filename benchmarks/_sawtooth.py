"""A process whose RSS is a GC-like sawtooth, with an optional steady leak underneath.

    python benchmarks/_sawtooth.py [--amplitude-mb 50] [--period 30] [--leak-mb-per-min 1]

Every second it maps and touches amplitude/period MB of anonymous memory; at the end of each
period it unmaps all of it (the pages go back to the kernel at once, as after a collection). The
leak touches the pages of one reserved mapping, leak-rate/60 MB more every second, and never
gives them back. Anonymous mmap, not malloc: RSS follows exactly what is asked, free of
allocator caching. Prints ``ready PID`` when it starts.
"""

from __future__ import annotations

import argparse
import mmap
import os
import sys
import time

MB = 1 << 20
PAGE = mmap.PAGESIZE


def touch(buf: mmap.mmap, start: int, end: int) -> None:
    for offset in range(start - start % PAGE, end, PAGE):
        buf[offset] = 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--amplitude-mb", type=float, default=50)
    parser.add_argument("--period", type=int, default=30)
    parser.add_argument("--leak-mb-per-min", type=float, default=0)
    parser.add_argument("--seconds", type=float, default=3600)
    args = parser.parse_args()
    step = int(args.amplitude_mb * MB / args.period)
    leak_step = int(args.leak_mb_per_min * MB / 60)
    leak = mmap.mmap(-1, max(PAGE, int(leak_step * args.seconds) + PAGE))
    leaked = 0
    chunks: list[mmap.mmap] = []
    sys.stdout.write(f"ready {os.getpid()}\n")
    sys.stdout.flush()
    start = time.monotonic()
    tick = 0
    while time.monotonic() - start < args.seconds:
        if tick % args.period == 0:
            for chunk in chunks:
                chunk.close()
            chunks = []
        chunk = mmap.mmap(-1, step)
        touch(chunk, 0, step)
        chunks.append(chunk)
        if leak_step:
            touch(leak, leaked, leaked + leak_step)
            leaked += leak_step
        tick += 1
        time.sleep(max(0.0, start + tick - time.monotonic()))


if __name__ == "__main__":
    main()
