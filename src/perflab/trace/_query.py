"""Reading traces back from the store: one trace by id, a search, the catalog of services.

Every view (the Jaeger API, the pages, ``perflab trace``) reads through here, so they agree on
what a search matches: a trace matches when one of its spans matches every condition (service,
operation, duration range, start in the time range, every tag), as Jaeger's searches do. A tag
``key=value`` matches a span attribute, a resource attribute of its process, or the span's
``error`` (``true`` when its status is error), ``span.kind`` and ``otel.status_code``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from perflab.store import (
    SpanFilter,
    SpanMatch,
    find_trace_ids,
    span_processes,
    trace_spans,
)
from perflab.trace._model import (
    KIND_NAMES,
    STATUS_ENUM,
    STATUS_ERROR,
    AttrValue,
    Process,
    Span,
    SpanEvent,
    SpanLink,
    Trace,
)

if TYPE_CHECKING:
    from perflab.store import Store, StoredProcess, StoredSpan

MAX_TRACE_SPANS = 20_000  # spans of one trace a view reads by default (a 100,000-span trace
#                           is shown capped, with a warning saying so)
MAX_RESULTS = 10_000  # traces in one search answer


@dataclass(frozen=True, slots=True)
class TraceQuery:
    service: str | None = None
    operation: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    start_ns: int | None = None
    end_ns: int | None = None
    min_duration_ns: int | None = None
    max_duration_ns: int | None = None
    limit: int = 20
    kind: int | None = None

    def span_filter(self) -> SpanFilter:
        return SpanFilter(self.service, self.operation, self.kind, self.start_ns, self.end_ns,
                          self.min_duration_ns, self.max_duration_ns)


class Processes:
    """Processes by store id, read once per view."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._known: dict[int, Process] = {}

    def get(self, pid: int, service: str) -> Process:
        p = self._known.get(pid)
        if p is None:
            found = span_processes(self.store, [pid]).get(pid)
            p = self._known[pid] = _process(found, service)
        return p

    def load(self, ids: set[int], services: dict[int, str]) -> None:
        missing = ids - self._known.keys()
        if missing:
            found = span_processes(self.store, missing)
            for pid in missing:
                self._known[pid] = _process(found.get(pid), services.get(pid, ""))


def _process(found: StoredProcess | None, service: str) -> Process:
    if found is None:
        return Process(service)
    return Process(found.service, found.attrs, found.scope_name, found.scope_version)


def to_span(row: StoredSpan, process: Process) -> Span:
    events: tuple[SpanEvent, ...] = ()
    if row.events:
        events = tuple(SpanEvent(int(t), str(n), a) for t, n, a in json.loads(row.events))
    links: tuple[SpanLink, ...] = ()
    if row.links:
        links = tuple(SpanLink(bytes.fromhex(t), bytes.fromhex(s), a)
                      for t, s, a in json.loads(row.links))
    return Span(row.trace_id, row.span_id, row.parent_id, row.name, row.kind, row.start_ns,
                row.duration_ns, process, row.status, row.status_msg or "",
                json.loads(row.attrs) if row.attrs else {}, events, links, row.flags)


def get_trace(store: Store, trace_id: bytes, *, limit: int = MAX_TRACE_SPANS,
              processes: Processes | None = None) -> Trace | None:
    """The trace, its spans by start time (at most ``limit``); None when no span has its id."""
    rows, total = trace_spans(store, trace_id, limit=limit)
    if not rows:
        return None
    procs = processes or Processes(store)
    procs.load({r.process_id for r in rows}, {r.process_id: r.service for r in rows})
    spans = tuple(to_span(r, procs.get(r.process_id, r.service)) for r in rows)
    return Trace(trace_id, spans, total)


def find_traces(store: Store, query: TraceQuery, *, span_limit: int = MAX_TRACE_SPANS
                ) -> list[Trace]:
    """The traces a search matches, newest matching span first."""
    procs = Processes(store)
    out = []
    for tid in find_trace_ids_for(store, query, procs):
        trace = get_trace(store, tid, limit=span_limit, processes=procs)
        if trace is not None:
            out.append(trace)
    return out


def find_trace_ids_for(store: Store, query: TraceQuery, procs: Processes | None = None
                       ) -> list[bytes]:
    accept = None
    if query.tags:
        accept = _tag_matcher(query.tags, procs or Processes(store))
    return find_trace_ids(store, query.span_filter(), limit=min(query.limit, MAX_RESULTS),
                          accept=accept)


def attr_text(value: AttrValue) -> str:
    """An attribute as a tag search compares it: Jaeger's string form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _tag_matcher(tags: dict[str, str], procs: Processes) -> Any:
    def accept(m: SpanMatch) -> bool:
        attrs: dict[str, Any] | None = None
        for key, want in tags.items():
            if key == "error" and m.status == STATUS_ERROR and want.lower() == "true":
                continue
            if key == "span.kind" and KIND_NAMES[m.kind] == want.lower():
                continue
            if key == "otel.status_code" and STATUS_ENUM[m.status].removeprefix(
                    "STATUS_CODE_") == want.upper():
                continue
            if attrs is None:
                attrs = json.loads(m.attrs) if m.attrs else {}
            if key in attrs and attr_text(attrs[key]) == want:
                continue
            res = procs.get(m.process_id, "").attrs
            if key in res and attr_text(res[key]) == want:
                continue
            if key == "service.name" and procs.get(m.process_id, "").service == want:
                continue
            return False
        return True

    return accept
