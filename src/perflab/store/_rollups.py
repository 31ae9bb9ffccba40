"""Per-minute rollups of the series of finished runs (table ``rollups``, schema v3).

A finished run never changes, so its rollup is built once: when the run finishes
(``Store.finish_run``), or by the first reader of a run finished by an older perflab. A rollup
row holds the min, max, sum and count of one series over one minute, so a day-long chart reads
1,440 rows instead of 86,400 samples, with every peak and trough intact.

One statement per series: each is atomic (readers see a series' rollup whole or not at all)
and holds the write lock only briefly, so another recorder writing meanwhile is never stalled
for the length of a whole run's rollup.
"""

from __future__ import annotations

import sqlite3

ROLLUP_NS = 60 * 10**9

_MIN_TS = -(2**63)
_MAX_TS = 2**63 - 1

# Samples of one series from both tables (see the schema, v2): new samples wait in
# samples_head, ordered by time, before they move to samples in bulk.
_BOTH_TABLES = (
    "SELECT ts_ns, value FROM samples WHERE series_id = ? AND ts_ns >= ? AND ts_ns <= ?"
    " UNION ALL"
    " SELECT ts_ns, value FROM samples_head WHERE series_id = ? AND ts_ns >= ? AND ts_ns <= ?"
)

_BUILD = (
    "INSERT OR IGNORE INTO rollups"
    " (series_id, width_ns, bucket_ns, first_ns, last_ns, vmin, vmax, vsum, n)"
    " SELECT ?, ?, (ts_ns / ?) * ?, MIN(ts_ns), MAX(ts_ns), MIN(value),"
    " MAX(value), SUM(value), COUNT(*) FROM (" + _BOTH_TABLES + ")"
    " GROUP BY ts_ns / ?"
)


def rollup_exists(conn: sqlite3.Connection, series_id: int) -> bool:
    return conn.execute("SELECT 1 FROM rollups WHERE series_id = ? AND width_ns = ? LIMIT 1",
                        (series_id, ROLLUP_NS)).fetchone() is not None


def build_series_rollup(conn: sqlite3.Connection, series_id: int) -> bool:
    """Roll one series up; True when rows were written (False: no samples, or a racing
    reader wrote them first). Raises sqlite3.OperationalError on a read-only store."""
    cur = conn.execute(_BUILD, (series_id, ROLLUP_NS, ROLLUP_NS, ROLLUP_NS,
                                series_id, _MIN_TS, _MAX_TS, series_id, _MIN_TS, _MAX_TS,
                                ROLLUP_NS))
    return cur.rowcount > 0


def build_run_rollups(conn: sqlite3.Connection, run_id: int) -> int:
    """Roll up every series of a run that has none yet; returns how many were built."""
    ids = [int(r[0]) for r in conn.execute(
        "SELECT id FROM series s WHERE run_id = ?"
        " AND NOT EXISTS (SELECT 1 FROM rollups WHERE series_id = s.id AND width_ns = ?)"
        " ORDER BY id", (run_id, ROLLUP_NS))]
    return sum(build_series_rollup(conn, sid) for sid in ids)
