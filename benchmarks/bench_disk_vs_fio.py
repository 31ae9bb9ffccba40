"""perflab bench disk against fio on the same job, in the same run: rounds alternate the two
(fio --ioengine=psync --numjobs=N --thread on one file; perflab's N threads of preadv/pwritev),
and the ratio of the median IOPS is the figure (goal: near 1; a ratio with a peer, never an
absolute speed).

    python benchmarks/bench_disk_vs_fio.py [DIR] [--rw randread] [--bs 4k] [--iodepth 4]
        [--size 256M] [--time 5] [--rounds 3] [--buffered]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests._fio import alternate, fio_or_exit  # noqa: E402

from perflab.bench import DiskJob  # noqa: E402
from perflab.units import format_duration_ns, parse_size  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", default=None)
    parser.add_argument("--rw", default="randread")
    parser.add_argument("--bs", default="4k")
    parser.add_argument("--iodepth", type=int, default=4)
    parser.add_argument("--size", default="256M")
    parser.add_argument("--time", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--buffered", action="store_true", help="without O_DIRECT")
    args = parser.parse_args()
    fio = fio_or_exit()
    with tempfile.TemporaryDirectory(dir=args.directory) as directory:
        job = DiskJob(Path(directory), rw=args.rw, bs=parse_size(args.bs),
                      iodepth=args.iodepth, size=parse_size(args.size), runtime_s=args.time,
                      direct=not args.buffered)
        theirs, ours = alternate(fio, job, args.rounds)
    print(f"{args.rw} bs={args.bs} iodepth={args.iodepth} size={args.size} "
          f"{'buffered' if args.buffered else 'O_DIRECT'}, {args.time:g} s x {args.rounds} rounds")
    for name, figures in (("fio (psync)", theirs), ("perflab bench disk", ours)):
        iops = statistics.median(f.iops for f in figures)
        p50 = statistics.median(f.p50_ns for f in figures)
        p99 = statistics.median(f.p99_ns for f in figures)
        print(f"{name + ':':20}{iops:10,.0f} IOPS  p50 {format_duration_ns(p50)}  "
              f"p99 {format_duration_ns(p99)}  (rounds: {[round(f.iops) for f in figures]})")
    ratio = statistics.median(f.iops for f in ours) / statistics.median(f.iops for f in theirs)
    print(f"ratio: {ratio:.2f}x IOPS of fio's")


if __name__ == "__main__":
    main()
