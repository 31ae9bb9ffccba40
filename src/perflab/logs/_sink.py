"""The write path of log lines: a ``LogSink`` registers itself on the hub's ``IngestQueue``;
``write`` (in the queue's writer thread and transaction) reads each line's level and trace and
span ids, writes the rows and their streams, and applies retention once a minute. A line's
fields are not stored: LogQL's ``| json`` and ``| logfmt`` read them from the line when asked
(storing them as JSON cost a third of the ingest); structured metadata is kept in ``fields``.

Parsing happens in the writer thread, not in the request: a push is answered as soon as its
body is decoded and accepted, and the parsing of one round's lines shares one transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from perflab.logs._fields import line_facts
from perflab.store import (
    delete_logs_before,
    delete_oldest_logs,
    insert_logs,
    log_bytes_estimate,
    log_stats,
    log_stream_id,
)

if TYPE_CHECKING:
    from perflab.store import IngestQueue, Store

KIND = "logs"  # the ingest queue's kind for log lines
RETENTION_CHECK_S = 60.0
# ASCII: a lone surrogate (a JSON line's "\ud800") is escaped, never a string SQLite cannot
# encode, which would fail the writer's batch again at every retry
_DUMPS = json.JSONEncoder(separators=(",", ":")).encode


class LogEntry(NamedTuple):
    """One line as a receiver decoded it: its stream's canonical labels JSON, time, text, and
    the structured metadata it came with (Loki's third value). A named tuple: a receiver
    builds one per line, and a frozen dataclass cost 0.8 us of the 20 us a line may take."""

    labels: str
    ts_ns: int
    line: str
    metadata: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Retention:
    """Lines older than ``max_age_ns`` go, and the oldest beyond ``max_bytes`` (estimated from
    the average size of recent lines) go; None: no limit."""

    max_age_ns: int | None = 7 * 86_400 * 10**9
    max_bytes: int | None = None


def log_rows(entries: list[LogEntry], run_id: int | None,
             ) -> tuple[list[tuple[Any, ...]], dict[int, str]]:
    """Entries as ``logs`` rows (``store.LOG_COLUMNS``) and the streams they use; NULL is
    ``''`` and ids are ``bytearray``, which the store binds without sqlite3's adapter lookup
    (``store.insert_logs``)."""
    streams: dict[str, int] = {}
    rows: list[tuple[Any, ...]] = []
    run = "" if run_id is None else run_id
    for e in entries:
        sid = streams.get(e.labels)
        if sid is None:
            sid = streams[e.labels] = log_stream_id(e.labels)
        level, trace_id, span_id = line_facts(e.line, e.metadata)
        rows.append((e.ts_ns, run, sid, level or "", bytearray(trace_id) if trace_id else "",
                     bytearray(span_id) if span_id else "", e.line,
                     _DUMPS(dict(e.metadata)) if e.metadata else ""))
    return rows, {sid: labels for labels, sid in streams.items()}


class LogSink:
    """Register on an ``IngestQueue``, then ``submit`` entries; they land in the run
    ``run_id()`` names when they are written."""

    def __init__(self, *, retention: Retention | None = None,
                 run_id: Callable[[], int | None] = lambda: None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], int] = time.time_ns) -> None:
        self.retention = retention or Retention()
        self.run_id = run_id
        self.queue: IngestQueue | None = None
        self._clock = clock
        self._wall = wall
        self._retention_due = clock() + 5.0
        self.deleted = 0

    def register(self, queue: IngestQueue, *,
                 committed: Callable[[list[LogEntry]], None] | None = None) -> None:
        """``committed(entries)`` runs in the queue's writer thread once they are committed."""
        queue.register(KIND, self.write, committed=committed)
        self.queue = queue

    def submit(self, entries: list[LogEntry]) -> bool:
        """Hand entries to the queue whole (True) or refuse them (False: answer 429)."""
        assert self.queue is not None, "register the sink first"
        return self.queue.submit(KIND, entries)

    def write(self, store: Store, items: list[LogEntry]) -> None:
        rows, streams = log_rows(items, self.run_id())
        insert_logs(store, rows, streams)
        if self._clock() >= self._retention_due:
            self._retention_due = self._clock() + RETENTION_CHECK_S
            self.deleted += apply_retention(store, self.retention, now_ns=self._wall())


def apply_retention(store: Store, retention: Retention, *, now_ns: int) -> int:
    """Delete what the retention rules say (a bounded amount per call: the rest next time)."""
    deleted = 0
    if retention.max_age_ns is not None:
        deleted += delete_logs_before(store, now_ns - retention.max_age_ns)
    if retention.max_bytes is not None:
        count, _, _ = log_stats(store)
        per_line = log_bytes_estimate(store)
        if per_line > 0 and count * per_line > retention.max_bytes:
            deleted += delete_oldest_logs(store, int(retention.max_bytes // per_line))
    return deleted
