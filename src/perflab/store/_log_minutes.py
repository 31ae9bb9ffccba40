"""Per-minute line and byte counts of each log stream and level (``log_minutes``, schema 8).

Minute ``m`` holds the lines with a time in ((m - 1) min, m min]: closed at its end, as a range
function's window (t - range, t] is, so a window whose ends are whole minutes is exactly a run
of minutes. Written in the transaction that writes the lines, decremented in the one that
deletes them: always the count of the lines stored. Read by ``log_counts`` when a count needs
no line's text (no ``|=``, no run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from perflab.store._store import Store

MINUTE_NS = 60 * 10**9
# the minute of a time in SQL, as minute_of computes it (SQLite's division truncates)
MINUTE_SQL = (f"CASE WHEN ts_ns > 0 THEN (ts_ns - 1) / {MINUTE_NS} + 1"
              f" ELSE -((-ts_ns) / {MINUTE_NS}) END")
_ADD = ("INSERT INTO log_minutes (stream_id, minute, level, lines, bytes) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (stream_id, minute, level) DO UPDATE"
        " SET lines = lines + excluded.lines, bytes = bytes + excluded.bytes")


def minute_of(ts_ns: int) -> int:
    """The minute whose counts hold a line at ``ts_ns``: ceil(ts / 1 min)."""
    return -(-ts_ns // MINUTE_NS)


def line_bytes(line: str) -> int:
    """UTF-8 bytes of a line, as SQLite's ``length(CAST(line AS BLOB))`` counts them."""
    return len(line) if line.isascii() else len(line.encode("utf-8", "surrogatepass"))


def add_minutes(store: Store, rows: Sequence[tuple[Any, ...]]) -> None:
    """Count log rows (``LOG_COLUMNS`` order) into their minutes (in the caller's transaction)."""
    acc: dict[tuple[int, int, str], list[int]] = {}
    for row in rows:
        key = (row[2], -(-row[0] // MINUTE_NS), row[3] or "")
        got = acc.get(key)
        size = line_bytes(row[6])
        if got is None:
            acc[key] = [1, size]
        else:
            got[0] += 1
            got[1] += size
    store.conn.executemany(_ADD, [(*k, n, b) for k, (n, b) in acc.items()])


def remove_minutes(store: Store, where: str, args: Sequence[Any]) -> None:
    """Take the lines ``where`` selects out of their minutes, before they are deleted (in the
    caller's transaction); a minute left without lines goes."""
    conn = store.conn
    gone = conn.execute(f"SELECT stream_id, {MINUTE_SQL}, COALESCE(level, ''), -COUNT(*),"
                        f" -SUM(length(CAST(line AS BLOB))) FROM logs WHERE {where}"
                        " GROUP BY 1, 2, 3", args).fetchall()
    conn.executemany(_ADD, gone)
    conn.executemany("DELETE FROM log_minutes WHERE stream_id = ? AND minute = ? AND level = ?"
                     " AND lines <= 0", [r[:3] for r in gone])


def minute_counts(store: Store, streams: tuple[str, Sequence[Any]], origin_ns: int,
                  end_ns: int, width_ns: int) -> list[tuple[int, int, int, int]]:
    """(stream id, bucket, lines, bytes) of the lines in (origin_ns, end_ns], bucket k holding
    (origin + (k-1)·width, origin + k·width], from the minutes: origin, end and width are
    whole minutes. ``streams``: an SQL ``IN`` list and its arguments."""
    assert origin_ns % MINUTE_NS == 0, origin_ns
    assert end_ns % MINUTE_NS == 0, end_ns
    assert width_ns % MINUTE_NS == 0, width_ns
    streams_sql, stream_args = streams
    sql = (f"SELECT stream_id, (minute * {MINUTE_NS} - ? + ? - 1) / ?, SUM(lines), SUM(bytes)"
           f" FROM log_minutes WHERE stream_id IN {streams_sql} AND minute > ? AND minute <= ?"
           " GROUP BY 1, 2")
    args = [origin_ns, width_ns, width_ns, *stream_args, origin_ns // MINUTE_NS,
            end_ns // MINUTE_NS]
    return [(int(a), int(b), int(c), int(d)) for a, b, c, d in store.conn.execute(sql, args)
            if c]
