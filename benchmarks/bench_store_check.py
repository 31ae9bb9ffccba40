"""What damage detection costs: opening a store (the cheap checks every open runs, and the whole
file check a writer runs on a store up to 64 MiB) against the full ``PRAGMA quick_check`` and
``integrity_check`` (``perflab store check``), on stores of growing size.

Times are wall-clock medians of ``--repeat`` runs with the file in the page cache (the usual
case: a store just written or read); the machine is shared, so read them as magnitudes.

    python benchmarks/bench_store_check.py [--sizes 8,64,256] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from perflab.store import BatchWriter, Store

T0 = 1_795_000_000_000_000_000
S = 1_000_000_000
SERIES = 200


def build(path: Path, mib: int) -> None:
    """A store of about ``mib`` MiB: one run, SERIES series written tick by tick, compacted."""
    with Store.open(path) as store:
        run = store.create_run("bench", "size")
        writer = BatchWriter(store, run.id, max_batch=200_000)
        ids = [writer.series("bench.value", {"i": str(i)}) for i in range(SERIES)]
        tick = 0
        while True:
            for _ in range(500):
                for sid in ids:
                    writer.add(sid, T0 + tick * S, float(tick % 97))
                tick += 1
            writer.flush()
            store.compact_samples()
            if path.stat().st_size >= mib * 2**20:
                break
        store.finish_run(run.id, "ok", rollup=False)


def timed(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def pragma(path: Path, sql: str) -> None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        conn.execute(sql).fetchall()
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="8,64,256", help="store sizes in MiB")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'MiB':>6} {'open (reader)':>14} {'open (writer)':>14} {'quick_check':>12} "
          f"{'integrity':>10}  MB/s (quick_check)")
    with tempfile.TemporaryDirectory() as tmp:
        for mib in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"s{mib}.db"
            build(path, mib)
            size = path.stat().st_size
            reader = timed(lambda p=path: Store.open(p, create=False).close(), args.repeat)
            writer = timed(lambda p=path: Store.open(p).close(), args.repeat)
            quick = timed(lambda p=path: pragma(p, "PRAGMA quick_check"), args.repeat)
            full = timed(lambda p=path: pragma(p, "PRAGMA integrity_check"), args.repeat)
            print(f"{size / 2**20:6.0f} {reader * 1e3:12.1f}ms {writer * 1e3:12.1f}ms "
                  f"{quick * 1e3:10.0f}ms {full * 1e3:8.0f}ms  {size / quick / 1e6:8.0f}")


if __name__ == "__main__":
    main()
