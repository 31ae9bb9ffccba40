"""Store throughput: ingest through BatchWriter (target >= 200,000 samples/s on one core) and
read-back of a one-hour, 1 s series (target <= 50 ms).

Ingest is timed in CPU seconds of this process (the machine is shared); read-back in wall time
of the query, median of several, on a fresh connection to a store holding many other series
written tick by tick, as a recorder writes them.

    python benchmarks/bench_store.py [--series 1000] [--ticks 300]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from perflab.store import BatchWriter, Store

T0 = 1_795_000_000_000_000_000
S = 1_000_000_000


def ingest(path: Path, n_series: int, ticks: int, *, flush_every_tick: bool) -> float:
    """Samples per CPU second, writing ``n_series`` values per tick for ``ticks`` ticks."""
    with Store.open(path) as store:
        run = store.create_run("bench", "ingest")
        writer = BatchWriter(store, run.id)
        ids = [writer.series("bench.value", {"i": str(i)}, "") for i in range(n_series)]
        start = time.process_time()
        for tick in range(ticks):
            ts = T0 + tick * S
            for sid in ids:
                writer.add(sid, ts, 1.5)
            if flush_every_tick:
                writer.flush()
            else:
                writer.maybe_flush()
        writer.flush()
        store.compact_samples()  # the move out of the head is part of the cost
        cpu = time.process_time() - start
        assert writer.samples_written == n_series * ticks
    return n_series * ticks / cpu


def read_back(path: Path, n_other: int) -> tuple[float, float, int]:
    """Median wall seconds to read one series of 3600 samples, among ``n_other`` others:
    all compacted, and with the last 30 s still in the head (a live recording)."""
    with Store.open(path) as store:
        run = store.create_run("record", "hour")
        writer = BatchWriter(store, run.id)
        ids = [writer.series("system.other", {"i": str(i)}, "") for i in range(n_other)]
        target = writer.series("system.cpu.pct", {"cpu": "all", "mode": "user"}, "%")
        for tick in range(3600 - 30):  # an hour at 1 s, committed as a recorder commits
            ts = T0 + tick * S
            writer.extend([(sid, ts, float(tick)) for sid in (*ids, target)])
            if tick % 10 == 9:  # commit every 10 ticks: keeps the set-up itself quick
                writer.flush()
        writer.flush()
        store.compact_samples()
        compacted = _median_read(path, target, 3600 - 30)
        for tick in range(3600 - 30, 3600):  # the last 30 s stay in the head
            ts = T0 + tick * S
            store.insert_samples([(sid, ts, float(tick)) for sid in (*ids, target)])
        live = _median_read(path, target, 3600)
        store.conn.execute("DELETE FROM samples_head")  # keep them there: no compaction at close
        store._head_rows = 0  # noqa: SLF001  # a benchmark peeking at the store's bookkeeping
    return compacted, live, 3600


def _median_read(path: Path, series_id: int, expected: int) -> float:
    times = []
    for _ in range(7):
        with Store.open(path) as store:
            t = time.perf_counter()
            samples = store.samples(series_id)
            times.append(time.perf_counter() - t)
        assert len(samples) == expected
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000, help="series written per tick")
    parser.add_argument("--ticks", type=int, default=300, help="ticks to ingest")
    parser.add_argument("--others", type=int, default=300,
                        help="other series in the store during read-back")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rate = ingest(Path(tmp) / "a.db", args.series, args.ticks, flush_every_tick=True)
        print(f"ingest, commit per tick of {args.series}: {rate:,.0f} samples/s per core "
              f"(target >= 200,000)")
        rate = ingest(Path(tmp) / "b.db", args.series, args.ticks, flush_every_tick=False)
        print(f"ingest, commit per second: {rate:,.0f} samples/s per core (target >= 200,000)")
        compacted, live, n = read_back(Path(tmp) / "c.db", args.others)
        print(f"read-back of a one-hour 1 s series ({n} samples, {args.others} other series "
              f"in the store): {compacted * 1e3:.1f} ms compacted, {live * 1e3:.1f} ms with "
              f"the last 30 s in the head (target <= 50 ms)")


if __name__ == "__main__":
    main()
