"""Spans in the store (schema v5): writing a batch, and every question the trace views ask.

Services, operations and processes are keyed by ``name_id`` (a 63-bit hash of what they are),
so a receiver writes a batch without reading first, and a rolled-back batch leaves no cached id
pointing at nothing. An operation is a (service, span name); a span also has a kind, and the
catalog lists each (operation, kind) once.

Searches walk an index newest first and stop at the limit: ``spans_op`` (operation, start,
duration) or ``spans_service`` for a service, ``spans_start`` otherwise; durations are checked
in the index. Attribute filters (``tags``) are checked on the rows the index yields, by the
caller's predicate: indexing every attribute would cost the ingest path one index entry per
attribute (see docs/tracing.md, "Storage").

A span is keyed by (trace_seq, span_id) (schema 10): ``span_traces`` numbers trace ids in the
order they are first seen, so new spans land at the end of that index (a random trace id as
the key put each span on a random page, a third of a span's SQLite work). A question about a
trace id reads its number first (``_TRACE_SEQ``, ``_trace_seq``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perflab.store._models import Run

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from perflab.store._store import Store

# the columns of a span row, in the order insert_spans takes them
SPAN_COLUMNS = ("trace_id", "span_id", "parent_id", "service_id", "op_id", "process_id", "kind",
                "start_ns", "duration_ns", "status", "status_msg", "flags", "attrs", "events",
                "links")
# the nullable columns take '' for NULL: python's sqlite3 binds None (and bytes) through its
# adapter lookup, which formats an AttributeError each time (0.3-0.5 us a value, a third of a
# span row's insert); str, int and bytearray are bound directly
_NULLABLE = frozenset({"parent_id", "status_msg", "attrs", "events", "links"})
# ``?1`` is the row's trace id again: its number, which insert_spans has just made sure of
_INSERT = (f"INSERT OR IGNORE INTO spans ({', '.join(SPAN_COLUMNS)}, trace_seq) VALUES ("
           + ", ".join("NULLIF(?, '')" if c in _NULLABLE else "?" for c in SPAN_COLUMNS)
           + ", (SELECT seq FROM span_traces WHERE trace_id = ?1))")
_TRACE_SEQ = "(SELECT seq FROM span_traces WHERE trace_id = ?)"
_READ_COLS = ("s.id, s.trace_id, s.span_id, s.parent_id, s.service_id, s.op_id, s.process_id,"
              " s.kind, s.start_ns, s.duration_ns, s.status, s.status_msg, s.flags, s.attrs,"
              " s.events, s.links, o.name, v.name")
_READ_FROM = (" FROM spans s JOIN span_ops o ON o.op_id = s.op_id AND o.kind = s.kind"
              " JOIN span_services v ON v.id = s.service_id")


def name_id(*parts: str) -> int:
    """The id of a service (one part), an operation (service, name) or a process: a 63-bit
    hash, positive, the same in every store and every process."""
    digest = hashlib.blake2b("\x00".join(parts).encode("utf-8", "surrogatepass"),
                             digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


@dataclass(frozen=True, slots=True)
class StoredSpan:
    """One row of ``spans`` with its service and operation names; attrs, events and links
    are still JSON text (decoded by whoever shows them)."""

    id: int
    trace_id: bytes
    span_id: bytes
    parent_id: bytes | None
    service_id: int
    op_id: int
    process_id: int
    kind: int
    start_ns: int
    duration_ns: int
    status: int
    status_msg: str | None
    flags: int
    attrs: str | None
    events: str | None
    links: str | None
    name: str
    service: str


@dataclass(frozen=True, slots=True)
class StoredProcess:
    id: int
    service: str
    attrs: dict[str, Any]
    scope_name: str
    scope_version: str


@dataclass(frozen=True, slots=True)
class SpanCatalog:
    """The names a batch of span rows refers to, written with it (INSERT OR IGNORE)."""

    services: dict[int, str]                                  # id -> name
    ops: dict[tuple[int, int], tuple[int, str]]               # (op_id, kind) -> (service, name)
    processes: dict[int, tuple[str, str, str, str]]           # id -> (service, attrs, scope)
    # the rows' distinct trace ids as bytes, when the caller has them (the ingest path does):
    # otherwise read from the rows
    trace_ids: Sequence[bytes] | None = None


def insert_spans(store: Store, rows: Sequence[tuple[Any, ...]], catalog: SpanCatalog) -> int:
    """Write span rows (``SPAN_COLUMNS`` order) and the names they use, in one transaction
    (joining the caller's). A span already stored (same trace and span id) is kept as it was.
    Returns the rows written.

    Ids may be ``bytes`` or ``bytearray`` and NULL may be ``None`` or ``''``; ``bytearray`` and
    ``''`` are what the ingest path passes, as they bind without sqlite3's adapter lookup."""
    conn = store.conn
    with store.transaction():
        conn.executemany("INSERT OR IGNORE INTO span_services (id, name) VALUES (?, ?)",
                         list(catalog.services.items()))
        conn.executemany(
            "INSERT OR IGNORE INTO span_ops (op_id, kind, service_id, name) VALUES (?,?,?,?)",
            [(op, kind, svc, name) for (op, kind), (svc, name) in catalog.ops.items()])
        conn.executemany(
            "INSERT OR IGNORE INTO span_processes (id, service, attrs, scope_name, scope_version)"
            " VALUES (?, ?, ?, ?, ?)", [(pid, *p) for pid, p in catalog.processes.items()])
        trace_ids = catalog.trace_ids
        if trace_ids is None:
            trace_ids = list(dict.fromkeys(bytes(r[0]) for r in rows))
        conn.executemany("INSERT OR IGNORE INTO span_traces (trace_id) VALUES (?)",
                         [(bytearray(t),) for t in trace_ids])
        before = conn.total_changes
        conn.executemany(_INSERT, rows)
        return conn.total_changes - before


def _stored(r: tuple[Any, ...]) -> StoredSpan:
    return StoredSpan(*r)


def trace_spans(store: Store, trace_id: bytes, *, limit: int) -> tuple[list[StoredSpan], int]:
    """The spans of one trace, by start time, at most ``limit`` of them, and how many it has."""
    with store._snapshot():  # noqa: SLF001  # the count and the rows from one view
        total = int(store.conn.execute(f"SELECT COUNT(*) FROM spans WHERE trace_seq = {_TRACE_SEQ}",
                                       (trace_id,)).fetchone()[0])
        rows = store.conn.execute(
            f"SELECT {_READ_COLS}{_READ_FROM} WHERE s.trace_seq = {_TRACE_SEQ}"
            " ORDER BY s.start_ns, s.span_id LIMIT ?", (trace_id, limit)).fetchall()
    return [_stored(r) for r in rows], total


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """What a list of traces shows, from the trace index alone (no span is decoded)."""

    trace_id: bytes
    start_ns: int
    end_ns: int
    spans: int
    errors: int
    services: list[str]
    root_service: str
    root_name: str
    missing_parents: int


def trace_summaries(store: Store, trace_ids: Sequence[bytes]) -> list[TraceSummary]:
    """Summaries of these traces, in their order (unknown ids are left out)."""
    out = []
    conn = store.conn
    for tid in trace_ids:
        seq = _trace_seq(store, tid)
        if seq is None:
            continue
        row = conn.execute(
            "SELECT MIN(start_ns), MAX(start_ns + duration_ns), COUNT(*), SUM(status = 2)"
            " FROM spans WHERE trace_seq = ?", (seq,)).fetchone()
        if not row[2]:
            continue
        services = [str(r[0]) for r in conn.execute(
            "SELECT DISTINCT v.name FROM spans s JOIN span_services v ON v.id = s.service_id"
            " WHERE s.trace_seq = ? ORDER BY v.name", (seq,))]
        root = conn.execute(
            f"SELECT v.name, o.name{_READ_FROM} WHERE s.trace_seq = ?"
            " ORDER BY s.parent_id IS NOT NULL, s.start_ns LIMIT 1", (seq,)).fetchone()
        missing = conn.execute(
            "SELECT COUNT(*) FROM spans c WHERE c.trace_seq = ? AND c.parent_id IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM spans p WHERE p.trace_seq = c.trace_seq"
            " AND p.span_id = c.parent_id)", (seq,)).fetchone()[0]
        out.append(TraceSummary(tid, int(row[0]), int(row[1]), int(row[2]), int(row[3] or 0),
                                services, str(root[0]), str(root[1]), int(missing)))
    return out


def _trace_seq(store: Store, trace_id: bytes) -> int | None:
    """The number of a trace id (``span_traces``), None when no span of it was stored."""
    row = store.conn.execute("SELECT seq FROM span_traces WHERE trace_id = ?",
                             (trace_id,)).fetchone()
    return None if row is None else int(row[0])


@dataclass(frozen=True, slots=True)
class SpanFilter:
    """Which spans a search looks at (every condition on one span, as Jaeger does)."""

    service: str | None = None
    operation: str | None = None
    kind: int | None = None
    start_ns: int | None = None  # the span starts within [start_ns, end_ns]
    end_ns: int | None = None
    min_duration_ns: int | None = None
    max_duration_ns: int | None = None


def _filter_sql(f: SpanFilter, *, joined: bool = False) -> tuple[str, list[Any]]:
    """The FROM and WHERE of a span search (``joined``: with the names, for whole rows)."""
    where: list[str] = []
    args: list[Any] = []
    if f.service is not None and f.operation is not None:
        index = "spans_op"
        where.append("s.op_id = ?")
        args.append(name_id(f.service, f.operation))
    elif f.service is not None:
        index = "spans_service"
        where.append("s.service_id = ?")
        args.append(name_id(f.service))
    else:
        index = "spans_start"
    for cond, value in (("s.start_ns >= ?", f.start_ns), ("s.start_ns <= ?", f.end_ns),
                        ("s.duration_ns >= ?", f.min_duration_ns),
                        ("s.duration_ns <= ?", f.max_duration_ns), ("s.kind = ?", f.kind)):
        if value is not None:
            where.append(cond)
            args.append(value)
    sql = f" FROM spans s INDEXED BY {index}"
    if joined:
        sql += _READ_FROM.removeprefix(" FROM spans s")
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql, args


@dataclass(frozen=True, slots=True)
class SpanMatch:
    """What a search predicate sees of a candidate span."""

    trace_id: bytes
    start_ns: int
    status: int
    kind: int
    process_id: int
    attrs: str | None


def find_trace_ids(store: Store, f: SpanFilter, *, limit: int,
                   accept: Callable[[SpanMatch], bool] | None = None) -> list[bytes]:
    """Trace ids with a span matching ``f`` (and ``accept``), newest span first, each once, at
    most ``limit``. Stops reading the index as soon as it has them."""
    sql, args = _filter_sql(f)
    cols = "s.trace_id, s.start_ns, s.status, s.kind, s.process_id, s.attrs" if accept else \
        "s.trace_id"
    cur = store.conn.execute(f"SELECT {cols}{sql} ORDER BY s.start_ns DESC", args)
    found: dict[bytes, None] = {}
    for row in cur:
        tid = row[0]
        if tid in found:
            continue
        if accept is not None and not accept(SpanMatch(*row)):
            continue
        found[tid] = None
        if len(found) >= limit:
            break
    cur.close()
    return list(found)


def spans_matching(store: Store, f: SpanFilter, *, limit: int) -> list[StoredSpan]:
    """Spans matching ``f``, newest first, at most ``limit``."""
    sql, args = _filter_sql(f, joined=True)
    rows = store.conn.execute(f"SELECT {_READ_COLS}{sql} ORDER BY s.start_ns DESC LIMIT ?",
                              [*args, limit]).fetchall()
    return [_stored(r) for r in rows]


def span_durations(store: Store, f: SpanFilter, *, limit: int
                   ) -> list[tuple[int, int, int, int, int]]:
    """(op_id, kind, start_ns, duration_ns, status) of the spans matching ``f``, oldest first,
    at most ``limit``: what RED over a window is computed from."""
    sql, args = _filter_sql(f)
    return store.conn.execute(
        f"SELECT s.op_id, s.kind, s.start_ns, s.duration_ns, s.status{sql}"
        " ORDER BY s.start_ns LIMIT ?", [*args, limit]).fetchall()


def span_services(store: Store) -> list[str]:
    return [str(r[0]) for r in store.conn.execute(
        "SELECT name FROM span_services ORDER BY name")]


def span_operations(store: Store, service: str | None = None
                    ) -> list[tuple[str, str, int, int]]:
    """(service, operation, kind, op_id) of every operation seen, by service then name."""
    sql = ("SELECT v.name, o.name, o.kind, o.op_id FROM span_ops o"
           " JOIN span_services v ON v.id = o.service_id")
    args: list[Any] = []
    if service is not None:
        sql += " WHERE o.service_id = ?"
        args.append(name_id(service))
    sql += " ORDER BY v.name, o.name, o.kind"
    return [(str(a), str(b), int(c), int(d)) for a, b, c, d in store.conn.execute(sql, args)]


def span_processes(store: Store, ids: Iterable[int]) -> dict[int, StoredProcess]:
    out: dict[int, StoredProcess] = {}
    for pid in set(ids):
        row = store.conn.execute(
            "SELECT id, service, attrs, scope_name, scope_version FROM span_processes"
            " WHERE id = ?", (pid,)).fetchone()
        if row is not None:
            out[pid] = StoredProcess(row[0], row[1], json.loads(row[2]), row[3], row[4])
    return out


def service_edges(store: Store, start_ns: int, end_ns: int
                  ) -> list[tuple[str, str, int, int]]:
    """(caller service, callee service, calls, errors) of every parent -> child span pair
    across two services whose child started in [start_ns, end_ns] (Jaeger's dependencies)."""
    rows = store.conn.execute(
        "SELECT pv.name, cv.name, COUNT(*), SUM(c.status = 2)"
        " FROM spans c INDEXED BY spans_start"
        " JOIN spans p ON p.trace_seq = c.trace_seq AND p.span_id = c.parent_id"
        " JOIN span_services pv ON pv.id = p.service_id"
        " JOIN span_services cv ON cv.id = c.service_id"
        " WHERE c.start_ns BETWEEN ? AND ? AND c.parent_id IS NOT NULL"
        " AND p.service_id != c.service_id"
        " GROUP BY p.service_id, c.service_id ORDER BY pv.name, cv.name",
        (start_ns, end_ns)).fetchall()
    return [(str(a), str(b), int(n), int(e or 0)) for a, b, n, e in rows]


def spans_in_window(store: Store, start_ns: int, end_ns: int, *, limit: int
                    ) -> Iterator[StoredSpan]:
    """Spans that started in [start_ns, end_ns], oldest first, at most ``limit``."""
    cur = store.conn.execute(
        f"SELECT {_READ_COLS}{_READ_FROM} WHERE s.start_ns BETWEEN ? AND ?"
        " ORDER BY s.start_ns LIMIT ?", (start_ns, end_ns, limit))
    for r in cur:
        yield _stored(r)


def span_window_stats(store: Store, start_ns: int, end_ns: int) -> tuple[int, int | None]:
    """(spans that started in [start_ns, end_ns], the latest such start): what a load test
    polls while its target's last spans arrive (one index range, no span read)."""
    row = store.conn.execute(
        "SELECT COUNT(*), MAX(start_ns) FROM spans INDEXED BY spans_start"
        " WHERE start_ns BETWEEN ? AND ?", (start_ns, end_ns)).fetchone()
    return int(row[0]), None if row[1] is None else int(row[1])


def span_links_of(store: Store, trace_ids: Sequence[bytes]) -> dict[bytes, list[bytes]]:
    """The span ids stored for each trace id: what coverage needs to tell a missing parent."""
    out: dict[bytes, list[bytes]] = {}
    for tid in trace_ids:
        out[tid] = [r[0] for r in store.conn.execute(
            f"SELECT span_id FROM spans WHERE trace_seq = {_TRACE_SEQ}", (tid,))]
    return out


# -- retention -----------------------------------------------------------------------------------

def span_stats(store: Store) -> tuple[int, int | None, int | None]:
    """(spans, oldest start, newest start): the count from the rowid range (spans are deleted
    oldest first, so it is exact but for duplicates refused), cheap on 10 M rows."""
    return rowid_stats(store, "spans", "start_ns")


def rowid_stats(store: Store, table: str, time_column: str) -> tuple[int, int | None, int | None]:
    """(rows, oldest time, newest time) of a table kept in arrival order and deleted oldest
    first (spans, logs): the count from its rowid range, cheap on 10 M rows."""
    row = store.conn.execute(f"SELECT MIN(id), MAX(id) FROM {table}").fetchone()
    count = 0 if row[0] is None else int(row[1]) - int(row[0]) + 1
    times = store.conn.execute(f"SELECT (SELECT MIN({time_column}) FROM {table}),"
                               f" (SELECT MAX({time_column}) FROM {table})").fetchone()
    return count, times[0], times[1]


def span_bytes_estimate(store: Store, sample: int = 2000) -> float:
    """Average bytes a span takes (its row and index entries), from the newest ``sample``."""
    row = store.conn.execute(
        "SELECT AVG(80 + length(trace_id) * 2 + length(span_id) * 2 + COALESCE(length(parent_id),"
        " 0) + COALESCE(length(status_msg), 0) + COALESCE(length(attrs), 0)"
        " + COALESCE(length(events), 0) + COALESCE(length(links), 0) + 3 * 24)"
        " FROM (SELECT * FROM spans ORDER BY id DESC LIMIT ?)", (sample,)).fetchone()
    return float(row[0] or 0.0)


def delete_spans_started_before(store: Store, before_ns: int, *, batch: int = 50_000) -> int:
    """Delete spans that started before ``before_ns`` (at most ``batch`` per call, oldest
    first, so the writer is never held long). Returns rows deleted."""
    with store.transaction():
        return store.conn.execute(
            "DELETE FROM spans WHERE id IN (SELECT id FROM spans INDEXED BY spans_start"
            " WHERE start_ns < ? ORDER BY start_ns LIMIT ?)", (before_ns, batch)).rowcount


def delete_oldest_spans(store: Store, keep: int, *, batch: int = 50_000) -> int:
    """Delete the earliest-arrived spans beyond the newest ``keep`` (at most ``batch``)."""
    row = store.conn.execute("SELECT MIN(id), MAX(id) FROM spans").fetchone()
    if row[0] is None or int(row[1]) - int(row[0]) + 1 <= keep:
        return 0
    cut = min(int(row[1]) - keep + 1, int(row[0]) + batch)
    with store.transaction():
        return store.conn.execute("DELETE FROM spans WHERE id < ?", (cut,)).rowcount


def prune_span_catalog(store: Store) -> int:
    """Forget operations (and then services) no stored span has any more, and the numbers of
    trace ids older than every stored span's (returns the operations and services)."""
    with store.transaction():
        store.conn.execute("DELETE FROM span_traces WHERE seq < COALESCE("
                           "(SELECT MIN(trace_seq) FROM spans), (SELECT MAX(seq) + 1"
                           " FROM span_traces))")
        n = store.conn.execute(
            "DELETE FROM span_ops WHERE NOT EXISTS (SELECT 1 FROM spans INDEXED BY spans_op"
            " WHERE spans.op_id = span_ops.op_id)").rowcount
        n += store.conn.execute(
            "DELETE FROM span_services WHERE NOT EXISTS (SELECT 1 FROM span_ops"
            " WHERE span_ops.service_id = span_services.id)").rowcount
    return int(n)


def running_runs(store: Store) -> list[Run]:
    """Runs being recorded now (status ``running`` and their owner alive): where spans that
    arrive now belong."""
    ids = [int(r[0]) for r in store.conn.execute("SELECT id FROM runs WHERE status = 'running'")]
    runs = [store.run(i) for i in ids]
    return [r for r in runs if r.status == "running"]
