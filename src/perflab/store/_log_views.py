"""The questions the log pages and the live tail ask of ``logs`` (schema v7), beside the
LogQL reads of ``_logs.py``: lines that arrived after a given one (a tail follows arrival
order, the rowid, not time: a line pushed late with an old timestamp is still new to it), and
line counts by level over time (the volume histograms of the Logs and Run pages).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from perflab.store._logs import StoredLog, _in, _with_filters

if TYPE_CHECKING:
    from collections.abc import Sequence

    from perflab.store._store import Store


def last_log_id(store: Store) -> int:
    """The id of the line that arrived last (0 when there is none): a tail starts after it."""
    return int(store.conn.execute("SELECT COALESCE(MAX(id), 0) FROM logs").fetchone()[0])


def log_lines_after(store: Store, stream_ids: Sequence[int], after_id: int, *,
                    limit: int) -> list[StoredLog]:
    """Lines of these streams that arrived after line ``after_id``, in arrival order, at most
    ``limit``: one step of a live tail (a range scan of the rowid)."""
    if not stream_ids:
        return []
    streams, ids = _in(stream_ids)
    cur = store.conn.execute(
        "SELECT id, ts_ns, run_id, stream_id, level, trace_id, span_id, line, fields FROM logs"
        f" WHERE id > ? AND stream_id IN {streams} ORDER BY id LIMIT ?",
        [after_id, *ids, limit])
    return [StoredLog(*r) for r in cur]


def log_level_counts(store: Store, stream_ids: Sequence[int] | None, start_ns: int,
                     end_ns: int, width_ns: int, *, contains: Sequence[str] = (),
                     run_id: int | None = None) -> list[tuple[int, str | None, int]]:
    """(bucket, level, lines) of the lines in [start_ns, end_ns) of these streams (None: every
    stream) that contain every string of ``contains``, bucket k holding [start + k·width,
    start + (k+1)·width); counted by SQLite. ``level`` is None for lines without one."""
    if width_ns <= 0:
        msg = "the bucket width must be positive"
        raise ValueError(msg)
    sql = "SELECT (ts_ns - ?) / ?, level, COUNT(*) FROM {logs} WHERE ts_ns >= ? AND ts_ns < ?"
    args: list[Any] = [start_ns, width_ns, start_ns, end_ns]
    chosen: int | None = None  # every stream
    if stream_ids is not None:
        if not stream_ids:
            return []
        streams, ids = _in(stream_ids)
        sql += f" AND stream_id IN {streams}"
        args += ids
        chosen = len(stream_ids)
    sql, args = _with_filters(store, sql, args, contains, run_id, streams=chosen,
                              window=(start_ns, end_ns))
    sql += " GROUP BY 1, 2 ORDER BY 1, 2"
    return [(int(b), lvl, int(n)) for b, lvl, n in store.conn.execute(sql, args)]


def log_lines_at_levels(store: Store, levels: Sequence[str], start_ns: int, end_ns: int, *,
                        run_id: int, limit: int) -> list[StoredLog]:
    """A run's lines in [start_ns, end_ns) whose level is one of ``levels``, in arrival
    order, at most ``limit`` (through the time index: the run's window bounds the scan)."""
    if not levels:
        return []
    marks = ", ".join("?" * len(levels))
    cur = store.conn.execute(
        "SELECT id, ts_ns, run_id, stream_id, level, trace_id, span_id, line, fields FROM logs"
        f" WHERE ts_ns >= ? AND ts_ns < ? AND run_id = ? AND level IN ({marks})"
        " ORDER BY id LIMIT ?", [start_ns, end_ns, run_id, *levels, limit])
    return [StoredLog(*r) for r in cur]
