"""How decoded spans reach the store: the ingest queue's write function for kind ``spans``.

``SpanSink`` registers itself on the hub's one ``IngestQueue``: ``write`` (in the queue's
writer thread and transaction) turns spans into rows, writes the RED series when an interval
is due and applies retention once a minute; ``committed`` (after the commit) counts the spans
into RED and hands them to the forwarder, if any.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perflab.store import (
    SpanCatalog,
    delete_oldest_spans,
    delete_spans_started_before,
    insert_spans,
    name_id,
    prune_span_catalog,
    span_bytes_estimate,
    span_stats,
)
from perflab.trace._red import RedAggregator

if TYPE_CHECKING:
    from perflab.store import IngestQueue, Store
    from perflab.trace._model import Process, Span

log = logging.getLogger("perflab.trace")

KIND = "spans"  # the ingest queue's kind for spans
TICK: Any = object()  # submitted alone every RED interval: a flush is due even without spans
RETENTION_CHECK_S = 60.0
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False,
                            allow_nan=False)


def _compact_json() -> Callable[[Any], str]:
    """``_ENCODER.encode``, without building a C encoder on every call as ``encode`` does
    (a third of the time of a span's small attribute map); the same text."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # a Python without the C accelerator
        return _ENCODER.encode
    e = _ENCODER  # its own settings: no sort, no skipkeys, no NaN
    iterencode = make(None, e.default, json.encoder.encode_basestring, None, ":", ",",
                      e.sort_keys, e.skipkeys, e.allow_nan)

    def dumps(obj: Any) -> str:
        return "".join(iterencode(obj, 0))

    return dumps


_DUMPS = _compact_json()


@dataclass(frozen=True, slots=True)
class Retention:
    """Spans older than ``max_age_ns`` go, and the oldest beyond ``max_bytes`` (estimated from
    the average size of recent spans) go; None: no limit."""

    max_age_ns: int | None = 7 * 86_400 * 10**9
    max_bytes: int | None = None


def span_rows(spans: Sequence[Span]) -> tuple[list[tuple[Any, ...]], SpanCatalog]:
    """Spans as ``spans`` rows (``store.SPAN_COLUMNS``) and the names they use.

    The hot path of ingest: what is the same for many spans (a process's ids, an operation's
    id) is computed once per batch; ids go as ``bytearray`` and NULL as ``''``, which the store
    binds without sqlite3's adapter lookup (``store.insert_spans``)."""
    services: dict[int, str] = {}
    ops: dict[tuple[int, int], tuple[int, str]] = {}
    processes: dict[int, tuple[str, str, str, str]] = {}
    proc_ids: dict[int, tuple[int, int, str]] = {}  # id(Process) -> (service id, store id, name)
    # (id(Process), span name, kind) -> (service id, operation id, process id): one lookup a
    # span for what its process and operation are in the store
    known: dict[tuple[int, str, int], tuple[int, int, int]] = {}
    traces: dict[bytes, None] = {}  # the batch's trace ids, in order, once each
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    dumps = _DUMPS
    for s in spans:
        p, name, kind = s.process, s.name, s.kind
        ids = known.get((id(p), name, kind))
        if ids is None:
            proc = proc_ids.get(id(p))
            if proc is None:
                service_id = name_id(p.service)
                services[service_id] = p.service
                proc = proc_ids[id(p)] = (service_id, _process_id(p, processes), p.service)
            op = name_id(proc[2], name)
            ops[(op, kind)] = (proc[0], name)
            ids = known[(id(p), name, kind)] = (proc[0], op, proc[1])
        service_id, op, process_id = ids
        tid, parent, attrs, events, links = s.trace_id, s.parent_id, s.attrs, s.events, s.links
        traces[tid] = None
        append((
            bytearray(tid), bytearray(s.span_id),
            "" if parent is None else bytearray(parent), service_id, op, process_id, kind,
            s.start_ns, s.duration_ns, s.status, s.status_message, s.flags,
            dumps(attrs) if attrs else "",
            dumps([[e.ts_ns, e.name, e.attrs] for e in events]) if events else "",
            dumps([[lk.trace_id.hex(), lk.span_id.hex(), lk.attrs] for lk in links])
            if links else "",
        ))
    return rows, SpanCatalog(services, ops, processes, list(traces))


def _process_id(p: Process, processes: dict[int, tuple[str, str, str, str]]) -> int:
    attrs = _DUMPS(dict(sorted(p.attrs.items())))
    pid = name_id(p.service, attrs, p.scope_name, p.scope_version)
    processes[pid] = (p.service, attrs, p.scope_name, p.scope_version)
    return pid


class SpanSink:
    """The write path of spans: register it on an ``IngestQueue``, then ``submit``."""

    def __init__(self, *, retention: Retention | None = None,
                 red: RedAggregator | None = None,
                 forward: Callable[[list[Span]], object] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], int] = time.time_ns) -> None:
        self.retention = retention or Retention()
        self.red = red if red is not None else RedAggregator()
        self.forward = forward
        self._clock = clock
        self._wall = wall
        self._retention_due = clock() + 5.0  # the first look soon after start
        self.deleted = 0

    def register(self, queue: IngestQueue) -> None:
        queue.register(KIND, self.write, committed=self.committed)

    def write(self, store: Store, items: list[Span]) -> None:
        spans = [s for s in items if s is not TICK]
        if spans:
            rows, catalog = span_rows(spans)
            insert_spans(store, rows, catalog)
        if self.red.flush_due():
            self.red.write(store)
        if self._clock() >= self._retention_due:
            self._retention_due = self._clock() + RETENTION_CHECK_S
            self.deleted += apply_retention(store, self.retention, now_ns=self._wall())

    def committed(self, items: list[Span]) -> None:
        spans = [s for s in items if s is not TICK]
        self.red.committed(spans)
        if self.forward is not None and spans:
            self.forward(spans)


def apply_retention(store: Store, retention: Retention, *, now_ns: int) -> int:
    """Delete what the retention rules say (a bounded amount per call: the rest next time)."""
    deleted = 0
    if retention.max_age_ns is not None:
        deleted += delete_spans_started_before(store, now_ns - retention.max_age_ns)
    if retention.max_bytes is not None:
        count, _, _ = span_stats(store)
        per_span = span_bytes_estimate(store)
        if count and per_span > 0:
            keep = int(retention.max_bytes / per_span)
            deleted += delete_oldest_spans(store, keep)
    if deleted:
        prune_span_catalog(store)
        log.info("trace retention: deleted %d spans", deleted)
    return deleted
