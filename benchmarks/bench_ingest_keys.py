"""What schema 10's keys save on the ingest's SQLite work, measured in one process, batch by
batch alternating, so both sides see the same load on a shared machine (the hub benchmarks,
bench_trace_ingest.py and bench_logs_ingest.py, give the whole figure).

- spans: v9's unique index on the random (trace_id, span_id) against v10's (trace_seq, span_id)
  with ``span_traces`` (``store.insert_spans``); rows from the real SDK's batches of 512
  (4-span traces), committed 4 batches a transaction;
- log lines: v9's B-tree on trace_id and its rows bound with None and bytes, against v10's
  trace ids in the word index and rows bound with '' and bytearray (``store.insert_logs``);
  the lines of bench_logs_ingest.py, 1,000 a transaction.

Thread CPU time (user + system) a span / a line, the row, its indexes and the commit included.
The random keys cost more as the store grows: on a store of a few thousand spans v10's
``span_traces`` costs more than v9's small random index saves (8.2 against 9.8 us a span at
5,000 spans; 11.1 against 9.7 at 100,000).

    python benchmarks/bench_ingest_keys.py [--batches 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from bench_logs_ingest import batches as log_batches
from bench_trace_ingest import _spans
from perflab.logs import decode_push
from perflab.logs._sink import log_rows
from perflab.store import LOG_COLUMNS, SPAN_COLUMNS, Store, insert_logs, insert_spans
from perflab.store._log_minutes import add_minutes
from perflab.trace._otlp import decode_protobuf
from perflab.trace._write import span_rows

_V9_SPAN = (f"INSERT OR IGNORE INTO spans ({', '.join(SPAN_COLUMNS)}) VALUES "
            "(?, ?, NULLIF(?, ''), ?, ?, ?, ?, ?, ?, ?, NULLIF(?, ''), ?, NULLIF(?, ''),"
            " NULLIF(?, ''), NULLIF(?, ''))")
_V9_LOG_INDEX = "CREATE INDEX logs_trace ON logs (trace_id) WHERE trace_id IS NOT NULL"
_V9_LOG = f"INSERT INTO logs ({', '.join(LOG_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


def _v9_spans(store: Store, rows: list[tuple[Any, ...]], catalog: Any) -> None:
    insert_spans(store, [], catalog)  # the names, as v9 wrote them
    store.conn.executemany(_V9_SPAN, rows)


def _v9_logs(store: Store, rows: list[tuple[Any, ...]], streams: dict[int, str]) -> None:
    conn = store.conn
    conn.executemany("INSERT OR IGNORE INTO log_streams (id, labels) VALUES (?, ?)",
                     list(streams.items()))
    first = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM logs").fetchone()[0]) + 1
    # v9's rows: None for NULL and bytes ids, bound through sqlite3's adapter lookup
    conn.executemany(_V9_LOG, [(r[0], r[1] or None, r[2], r[3] or None,
                                bytes(r[4]) if r[4] else None, bytes(r[5]) if r[5] else None,
                                r[6], r[7] or None) for r in rows])
    conn.execute("INSERT INTO logs_words (rowid, line) SELECT id, line FROM logs WHERE id >= ?",
                 (first,))
    add_minutes(store, rows)


def _alternate(tmp: Path, name: str, work: list[Any], *, v9_setup: list[str], v9: Any,
               v10: Any, per: int) -> dict[str, float]:
    stores = {"v9": Store.open(tmp / f"{name}9.db"), "v10": Store.open(tmp / f"{name}10.db")}
    for sql in v9_setup:
        stores["v9"].conn.execute(sql)
    spent = dict.fromkeys(stores, 0.0)
    for i in range(0, len(work), per):
        for key, fn in (("v9", v9), ("v10", v10)):
            t0 = time.thread_time()
            with stores[key].transaction():
                for args in work[i:i + per]:
                    fn(stores[key], *args)
            spent[key] += time.thread_time() - t0
    for st in stores.values():
        st.close()
    return spent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=200, help="of 512 spans, and of 1,000 lines")
    args = ap.parse_args()
    bodies = [encode_spans(b).SerializeToString() for b in _spans(args.batches, 1)]
    spans = [span_rows(decode_protobuf(b).spans) for b in bodies]
    n_spans = sum(len(r) for r, _ in spans)
    pushes = log_batches(args.batches, 1000, time.time_ns() - 3600 * 10**9)
    logs = [log_rows(decode_push(b, "application/x-protobuf", ""), None) for b in pushes]
    n_lines = sum(len(r) for r, _ in logs)
    with tempfile.TemporaryDirectory() as tmp:
        s = _alternate(Path(tmp), "spans", spans,
                       v9_setup=["DROP INDEX spans_trace",
                                 "CREATE UNIQUE INDEX spans_trace9 ON spans (trace_id, span_id)"],
                       v9=_v9_spans, v10=insert_spans, per=4)
        lg = _alternate(Path(tmp), "logs", logs,
                        v9_setup=[_V9_LOG_INDEX],
                        v9=_v9_logs, v10=insert_logs, per=1)
    print(f"spans ({n_spans:,}, 2,048 a transaction): v9 {s['v9'] / n_spans * 1e6:.2f} us,"
          f" v10 {s['v10'] / n_spans * 1e6:.2f} us a span")
    print(f"log lines ({n_lines:,}, 1,000 a transaction): v9 {lg['v9'] / n_lines * 1e6:.2f} us,"
          f" v10 {lg['v10'] / n_lines * 1e6:.2f} us a line")


if __name__ == "__main__":
    main()
