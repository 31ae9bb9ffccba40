"""Log lines in the store (schema 7, 8): writing a batch, the questions LogQL asks, retention.

A stream is a label set, keyed by ``name_id`` of its canonical JSON, so a receiver writes a
batch without reading first. Lines are kept in arrival order (rowid). A line filter's substring
is checked on each line (a ``GLOB``, case-sensitive: ``substring_glob``), after ``logs_words``
(an FTS5 word index, ``ascii`` tokenizer: runs of ASCII letters and digits, or of any
non-ASCII characters, ASCII case folded) has narrowed the lines to those holding its words
(``_word_query``), when that pays (``_with_filters``). The index also holds each line's trace
id (``LOG_WORDS``), which is how a trace's lines are found. Counts of
whole minutes come from ``log_minutes`` (``_log_minutes.py``). The rest of a query's pipeline
is the caller's (``perflab.logs``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perflab.store._log_minutes import (
    MINUTE_NS,
    add_minutes,
    minute_counts,
    minute_of,
    remove_minutes,
)
from perflab.store._spans import name_id, rowid_stats

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from perflab.store._store import Store

# the columns of a log row, in the order insert_logs takes them
LOG_COLUMNS = ("ts_ns", "run_id", "stream_id", "level", "trace_id", "span_id", "line", "fields")
# the nullable columns take '' for NULL, and ids may be bytearray: python's sqlite3 binds None
# and bytes through its adapter lookup (an AttributeError formatted each time, 2 us of a line's
# four such values), str, int and bytearray directly (as store.insert_spans does)
_NULLABLE = frozenset({"run_id", "level", "trace_id", "span_id", "fields"})
_INSERT = (f"INSERT INTO logs ({', '.join(LOG_COLUMNS)}) VALUES ("
           + ", ".join("NULLIF(?, '')" if c in _NULLABLE else "?" for c in LOG_COLUMNS) + ")")
# a word of the ``ascii`` tokenizer: a run of ASCII letters and digits or non-ASCII characters
_WORD = re.compile(r"[A-Za-z0-9\u0080-\U0010FFFF]+")
_PREFIX_MIN = 3  # a shorter last word as a prefix query would read most of the index
_PREFIX_SURE = 5  # ... and one this long is looked up even over a window that can be read whole
# what logs_words indexes of a line (schema 10): its text, then its trace id's hex as a word
# (an index on logs.trace_id, with its random keys, cost a sixth of a line's ingest); the same
# text must be given to delete a line from the index. Extra words only widen the pre-filter
# of ``|=``, whose substring is checked on the line itself
LOG_WORDS = "CASE WHEN trace_id IS NULL THEN line ELSE line || ' ' || hex(trace_id) END"


def log_stream_id(labels_json: str) -> int:
    """The id of a stream: a hash of its canonical labels JSON, the same everywhere."""
    return name_id("log-stream", labels_json)


@dataclass(frozen=True, slots=True)
class StoredLog:
    """One row of ``logs``; ``fields`` is still JSON text (or None)."""

    id: int
    ts_ns: int
    run_id: int | None
    stream_id: int
    level: str | None
    trace_id: bytes | None
    span_id: bytes | None
    line: str
    fields: str | None


def insert_logs(store: Store, rows: Sequence[tuple[Any, ...]], streams: dict[int, str]) -> int:
    """Write log rows (``LOG_COLUMNS`` order) and the streams they use (id -> labels JSON), and
    index their lines and count them into their minutes, in one transaction (joining the
    caller's). Returns the rows written.

    NULL may be ``None`` or ``''`` and ids ``bytes`` or ``bytearray``; ``''`` and ``bytearray``
    are what the ingest path passes, as they bind without sqlite3's adapter lookup."""
    conn = store.conn
    with store.transaction():
        conn.executemany("INSERT OR IGNORE INTO log_streams (id, labels) VALUES (?, ?)",
                         list(streams.items()))
        first = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM logs").fetchone()[0]) + 1
        conn.executemany(_INSERT, rows)
        # rowids are assigned in order after the current maximum: index exactly those lines
        conn.execute(f"INSERT INTO logs_words (rowid, line) SELECT id, {LOG_WORDS} FROM logs"
                     " WHERE id >= ?", (first,))
        add_minutes(store, rows)
    return len(rows)


def log_streams(store: Store) -> list[tuple[int, str]]:
    """(id, labels JSON) of every stream stored."""
    return [(int(a), str(b)) for a, b in store.conn.execute(
        "SELECT id, labels FROM log_streams ORDER BY labels")]


def log_streams_in(store: Store, start_ns: int, end_ns: int) -> list[int]:
    """Ids of the streams with a line in [start_ns, end_ns)."""
    return [int(r[0]) for r in store.conn.execute(
        "SELECT id FROM log_streams s WHERE EXISTS (SELECT 1 FROM logs INDEXED BY logs_stream"
        " WHERE stream_id = s.id AND ts_ns >= ? AND ts_ns < ?)", (start_ns, end_ns))]


def _word_query(text: str, *, prefix_min: int = _PREFIX_MIN) -> str | None:
    """An FTS5 query that every line containing ``text`` matches (None: no word of it can be
    looked up). A word in the middle of ``text`` is a whole word of the line; the first may be
    the end of a longer one (left out), the last the start of one (a prefix query, when it has
    ``prefix_min`` characters), a text of one word may be inside one (no query). The index
    folds ASCII case: the line is checked."""
    terms = []
    for m in _WORD.finditer(text):
        at_start, at_end = m.start() == 0, m.end() == len(text)
        word = m.group()
        if at_start:
            continue
        if not at_end:
            terms.append(f'"{word}"')
        elif len(word) >= prefix_min:
            terms.append(f'"{word}" *')
    return " AND ".join(terms) if terms else None


def log_lines(store: Store, stream_ids: Sequence[int], start_ns: int, end_ns: int, *,
              contains: Sequence[str] = (), run_id: int | None = None,
              backward: bool = True) -> Iterator[StoredLog]:
    """Lines of these streams in [start_ns, end_ns), newest first (``backward``) or oldest
    first, that contain every string of ``contains`` (a case-sensitive substring, as LogQL's
    ``|=``). The caller stops reading when it has enough."""
    if not stream_ids:
        return
    streams, ids = _in(stream_ids)
    sql = ("SELECT id, ts_ns, run_id, stream_id, level, trace_id, span_id, line, fields"
           " FROM {logs}"
           f" WHERE stream_id IN {streams} AND ts_ns >= ? AND ts_ns < ?")
    sql, args = _with_filters(store, sql, [*ids, start_ns, end_ns], contains, run_id,
                              streams=len(stream_ids), window=(start_ns, end_ns))
    sql += " ORDER BY ts_ns DESC, id DESC" if backward else " ORDER BY ts_ns, id"
    cur = store.conn.execute(sql, args)
    try:
        for r in cur:
            yield StoredLog(*r)
    finally:
        cur.close()


def log_counts(store: Store, stream_ids: Sequence[int], origin_ns: int, end_ns: int,
               width_ns: int, *, contains: Sequence[str] = (), run_id: int | None = None,
               with_bytes: bool = False) -> list[tuple[int, int, int, int]]:
    """(stream id, bucket, lines, bytes) of the lines in (origin_ns, end_ns] that contain
    every string of ``contains``, bucket k holding (origin + (k-1)·width, origin + k·width]:
    what a range function needs, counted by SQLite without reading lines into Python (bytes
    are read only ``with_bytes``). Without ``contains`` and ``run_id``, whole minutes are
    read from ``log_minutes``: all of it when the buckets are whole minutes, the inside of
    the window when there is one bucket (its two partial minutes counted from the lines)."""
    if not stream_ids:
        return []
    streams = _in(stream_ids)
    if not contains and run_id is None:
        if origin_ns % MINUTE_NS == 0 and width_ns % MINUTE_NS == 0 \
                and end_ns % MINUTE_NS == 0:
            return minute_counts(store, streams, origin_ns, end_ns, width_ns)
        if end_ns - origin_ns == width_ns:
            return _window_counts(store, streams, origin_ns, end_ns)
    return _line_counts(store, streams, origin_ns, end_ns, width_ns, contains=contains,
                        run_id=run_id, with_bytes=with_bytes, n_streams=len(stream_ids))


def _window_counts(store: Store, streams: tuple[str, list[Any]], origin_ns: int, end_ns: int,
                   ) -> list[tuple[int, int, int, int]]:
    """The one bucket (origin, end]: its whole minutes from ``log_minutes``, the partial
    minutes at either end from the lines."""
    lo, hi = minute_of(origin_ns) * MINUTE_NS, (end_ns // MINUTE_NS) * MINUTE_NS
    if hi - lo < MINUTE_NS:
        return _line_counts(store, streams, origin_ns, end_ns, end_ns - origin_ns,
                            with_bytes=True)
    total: dict[int, list[int]] = {}
    parts = [minute_counts(store, streams, lo, hi, hi - lo)]
    for a, b in ((origin_ns, lo), (hi, end_ns)):
        if b > a:
            parts.append(_line_counts(store, streams, a, b, b - a, with_bytes=True))
    for part in parts:
        for sid, _, n, size in part:
            got = total.setdefault(sid, [0, 0])
            got[0] += n
            got[1] += size
    return [(sid, 1, n, size) for sid, (n, size) in total.items()]


def _line_counts(store: Store, streams_in: tuple[str, list[Any]], origin_ns: int, end_ns: int,
                 width_ns: int, *, contains: Sequence[str] = (), run_id: int | None = None,
                 with_bytes: bool, n_streams: int = 0) -> list[tuple[int, int, int, int]]:
    streams, ids = streams_in
    size = "SUM(length(CAST(line AS BLOB)))" if with_bytes else "0"
    sql = (f"SELECT stream_id, (ts_ns - ? + ? - 1) / ?, COUNT(*), {size} FROM {{logs}}"
           f" WHERE stream_id IN {streams} AND ts_ns > ? AND ts_ns <= ?")
    args: list[Any] = [origin_ns, width_ns, width_ns, *ids, origin_ns, end_ns]
    sql, args = _with_filters(store, sql, args, contains, run_id, streams=n_streams,
                              window=(origin_ns, end_ns))
    sql += " GROUP BY 1, 2"
    return [(int(a), int(b), int(c), int(d or 0)) for a, b, c, d in
            store.conn.execute(sql, args)]



def log_lines_of_trace(store: Store, trace_id: bytes, *, limit: int) -> list[StoredLog]:
    """The lines that name this trace (by the trace id read at ingest), oldest first, at most
    ``limit``: what a trace's waterfall shows beside its spans. The word index names the lines
    holding the id's hex (``LOG_WORDS``); the id is checked on each."""
    cur = store.conn.execute(
        "SELECT id, ts_ns, run_id, stream_id, level, trace_id, span_id, line, fields FROM logs"
        " WHERE id IN (SELECT rowid FROM logs_words WHERE logs_words MATCH ?) AND trace_id = ?"
        " ORDER BY ts_ns, id LIMIT ?",
        (f'"{trace_id.hex()}"', trace_id, limit))
    return [StoredLog(*r) for r in cur]

_MAX_MARKS = 500  # more stream ids than this go in as one JSON array (SQLite's variable limit)


def _in(stream_ids: Sequence[int]) -> tuple[str, list[Any]]:
    """``(?, ?, ...)`` and the ids, or a JSON array read by json_each when there are many."""
    if len(stream_ids) <= _MAX_MARKS:
        return "(" + ",".join("?" * len(stream_ids)) + ")", list(stream_ids)
    return "(SELECT value FROM json_each(?))", [json.dumps(list(stream_ids))]


_FEW = 20_000  # a word query matching fewer lines than this is read from the index first
_CHECK_ALL = 500_000  # a window of fewer lines is checked line by line rather than by a prefix


def _most_streams(store: Store, chosen: int | None) -> bool:
    """Whether ``chosen`` streams (None: every one) are half the streams stored or more."""
    if chosen is None:
        return True
    return 2 * chosen >= int(store.conn.execute("SELECT COUNT(*) FROM log_streams").fetchone()[0])


def _window_lines(store: Store, window: tuple[int, int] | None) -> int | None:
    """About how many lines (every stream) have a time in ``window``, from ``log_minutes``
    (None: no window, every line)."""
    if window is None:
        return None
    lo, hi = window
    row = store.conn.execute("SELECT COALESCE(SUM(lines), 0) FROM log_minutes"
                             " WHERE minute >= ? AND minute <= ?",
                             (lo // MINUTE_NS, hi // MINUTE_NS + 1)).fetchone()
    return int(row[0])


def _index_pays(store: Store, words: str, lines: int | None) -> bool:
    """Whether narrowing by the word index's lines pays: not when its words are in more
    lines (of all time) than the window holds (``lines``), whose lines are then checked
    directly (an ``id IN`` of 10 M matches took 4.5 s, the hour's 417k lines 0.2 s)."""
    if lines is None:
        return True
    matched = store.conn.execute(
        "SELECT COUNT(*) FROM (SELECT 1 FROM logs_words WHERE logs_words MATCH ? LIMIT ?)",
        (words, lines + 1)).fetchone()[0]
    return int(matched) <= lines


def _with_filters(store: Store, sql: str, args: list[Any], contains: Sequence[str],
                  run_id: int | None, *, streams: int | None,
                  window: tuple[int, int] | None = None) -> tuple[str, list[Any]]:
    """``sql`` (``FROM {logs}``) narrowed to ``run_id`` and to lines holding every string of
    ``contains``. When the word index names few lines, those lines are read by rowid (the
    time and stream checked on each); else the window's lines are read (through the time
    index when the selector takes most streams, else the stream index), and the index's lines
    narrow them unless they are more than the ``window``'s lines (``_index_pays``); with no
    word to look up, or then, the substrings alone (a GLOB each) are checked on each line."""
    if run_id is not None:
        sql += " AND run_id = ?"
        args.append(run_id)
    lines = _window_lines(store, window) if contains else None
    # a prefix term's matches are gathered whole before the first is read (FTS5 merges every
    # word it names: 1.4 s for "req" * over 10 M lines, which all hold "request"): a short
    # prefix (likely a common word's) only when the window's lines are too many to check one
    # by one (an hour of 10 M lines, 417k, took 0.25 s); a long one ("99999" *: 1.5 ms) always
    short_ok = lines is None or lines > _CHECK_ALL
    prefix_min = _PREFIX_MIN if short_ok else _PREFIX_SURE
    words = " AND ".join(q for q in (_word_query(c, prefix_min=prefix_min) for c in contains)
                         if q is not None)
    # lines checked one by one: through the time index when the selector takes most streams
    # (the window's rows are neighbours there; through the stream index they are read in
    # each stream's order, 1.5 s against 2.6 s for an hour of 10 M lines)
    table = "logs INDEXED BY logs_time" if contains and _most_streams(store, streams) \
        else "logs"
    if words:
        few = [r[0] for r in store.conn.execute(
            "SELECT rowid FROM logs_words WHERE logs_words MATCH ? LIMIT ?", (words, _FEW))]
        if len(few) < _FEW:
            table = "logs NOT INDEXED"  # by rowid, not by the window: the planner cannot know
            sql += " AND id IN (SELECT value FROM json_each(?))"
            args.append(json.dumps(few))
        elif _index_pays(store, words, lines):
            sql += " AND id IN (SELECT rowid FROM logs_words WHERE logs_words MATCH ?)"
            args.append(words)
    for s in contains:
        sql += " AND line GLOB ?"
        args.append(substring_glob(s))
    return sql.format(logs=table), args


_GLOB_SPECIAL = re.compile(r"[*?\[]")


def substring_glob(text: str) -> str:
    """A GLOB pattern matching the lines that contain ``text`` (case-sensitive, as ``|=``):
    ``*`` ``?`` ``[`` in it are bracketed. GLOB rather than ``instr(line, ?) > 0``: ``instr``
    counts the characters before the match, GLOB only compares; a search that the word index
    cannot narrow checks every line of its window, and took 149 ms of CPU with ``instr``
    against 88 ms with GLOB over an hour of 10 M lines (417k lines)."""
    return "*" + _GLOB_SPECIAL.sub(lambda m: f"[{m.group()}]", text) + "*"


# -- retention -----------------------------------------------------------------------------------

def log_stats(store: Store) -> tuple[int, int | None, int | None]:
    """(lines, oldest time, newest time); the count from the rowid range (lines are deleted
    oldest-arrived first), cheap on 10 M rows."""
    return rowid_stats(store, "logs", "ts_ns")


def log_bytes_estimate(store: Store, sample: int = 2000) -> float:
    """Average bytes a line takes (row, indexes and its words), from the newest ``sample``."""
    row = store.conn.execute(
        "SELECT AVG(60 + 2 * length(line) + COALESCE(length(fields), 0)"
        " + COALESCE(length(trace_id), 0) * 2 + COALESCE(length(span_id), 0))"
        " FROM (SELECT line, fields, trace_id, span_id FROM logs ORDER BY id DESC LIMIT ?)",
        (sample,)).fetchone()
    return float(row[0] or 0.0)


def _delete_ids(store: Store, where: str, args: Sequence[Any]) -> int:
    conn = store.conn
    with store.transaction():
        remove_minutes(store, where, args)
        conn.execute("INSERT INTO logs_words (logs_words, rowid, line)"
                     f" SELECT 'delete', id, {LOG_WORDS} FROM logs WHERE {where}", args)
        n = conn.execute(f"DELETE FROM logs WHERE {where}", args).rowcount
        conn.execute("DELETE FROM log_streams WHERE NOT EXISTS (SELECT 1 FROM logs"
                     " INDEXED BY logs_stream WHERE logs.stream_id = log_streams.id)")
    return int(n)


def delete_logs_before(store: Store, before_ns: int, *, batch: int = 50_000) -> int:
    """Delete lines older than ``before_ns`` (at most ``batch`` per call, oldest first, so the
    writer is never held long), and the streams left without lines. Returns lines deleted."""
    return _delete_ids(store, "id IN (SELECT id FROM logs INDEXED BY logs_time WHERE ts_ns < ?"
                              " ORDER BY ts_ns LIMIT ?)", (before_ns, batch))


def delete_oldest_logs(store: Store, keep: int, *, batch: int = 50_000) -> int:
    """Delete the earliest-arrived lines beyond the newest ``keep`` (at most ``batch``)."""
    row = store.conn.execute("SELECT MIN(id), MAX(id) FROM logs").fetchone()
    if row[0] is None or int(row[1]) - int(row[0]) + 1 <= keep:
        return 0
    cut = min(int(row[1]) - keep + 1, int(row[0]) + batch)
    return _delete_ids(store, "id < ?", (cut,))

