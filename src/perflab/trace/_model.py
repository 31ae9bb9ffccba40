"""The trace model every decoder produces and every view reads: spans, their processes, traces.

Ids are bytes (16 for a trace, 8 for a span), as OTLP carries them; they are shown as lowercase
hex (``hex_id``), as Jaeger, Zipkin and the W3C ``traceparent`` header write them. Times are
nanoseconds since the epoch; a duration is never negative (a span that ends before it starts is
stored with duration 0 and the ``WARN_NEGATIVE_DURATION`` flag, so it stays visible).

Kinds and status codes are OTLP's integers::

    kind    0 unspecified  1 internal  2 server  3 client  4 producer  5 consumer
    status  0 unset        1 ok        2 error
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from perflab.trace._contracts import ApiTraceSpanEvent, ApiTraceSpanKind, SpanJson

AttrValue = str | int | float | bool | list[Any]

KIND_UNSPECIFIED, KIND_INTERNAL, KIND_SERVER, KIND_CLIENT, KIND_PRODUCER, KIND_CONSUMER = range(6)
KIND_NAMES: tuple[ApiTraceSpanKind, ...] = (
    "unspecified", "internal", "server", "client", "producer", "consumer")
_STATUS_NAMES: tuple[Literal["unset", "ok", "error"], ...] = ("unset", "ok", "error")
# the spanmetrics connector's label values (and OTLP's enum names)
KIND_ENUM = ("SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
             "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER")
STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2
STATUS_ENUM = ("STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR")

# flags a receiver sets on a span it had to mend (shown as warnings, as Jaeger's UI does)
WARN_NEGATIVE_DURATION = 1  # the end preceded the start: stored with duration 0
WARN_TRUNCATED = 2  # attributes, events or links over the limits were dropped or cut

UNKNOWN_SERVICE = "unknown_service"  # what the OTel SDK names a service without a name


def hex_id(raw: bytes) -> str:
    return raw.hex()


def parse_hex_id(text: str, size: int) -> bytes | None:
    """A trace (``size`` 16) or span (8) id written in hex, or None when it is not one.

    Shorter hex is left-padded with zeros, as Jaeger and Zipkin accept 64-bit trace ids; all
    zeros is no id (OTLP: invalid)."""
    t = text.strip().lower()
    if not t or len(t) > size * 2 or not t.isascii():
        return None
    try:
        raw = bytes.fromhex(t.rjust(size * 2, "0"))
    except ValueError:
        return None
    return None if raw == bytes(size) else raw


@dataclass(frozen=True, slots=True)
class Process:
    """What emitted a span: its service, the resource's attributes and the instrumentation
    scope (Jaeger calls the first two a process)."""

    service: str
    attrs: dict[str, AttrValue] = field(default_factory=dict)
    scope_name: str = ""
    scope_version: str = ""


@dataclass(frozen=True, slots=True)
class SpanEvent:
    ts_ns: int
    name: str
    attrs: dict[str, AttrValue] = field(default_factory=dict)

    def to_json(self) -> ApiTraceSpanEvent:
        return {"ts_ns": self.ts_ns, "name": self.name, "attrs": self.attrs}


@dataclass(frozen=True, slots=True)
class SpanLink:
    trace_id: bytes
    span_id: bytes
    attrs: dict[str, AttrValue] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"trace_id": self.trace_id.hex(), "span_id": self.span_id.hex(),
                "attrs": self.attrs}


@dataclass(slots=True)  # not frozen: its __init__ would cost 4x (the ingest hot path)
class Span:
    trace_id: bytes
    span_id: bytes
    parent_id: bytes | None
    name: str
    kind: int
    start_ns: int
    duration_ns: int
    process: Process
    status: int = STATUS_UNSET
    status_message: str = ""
    attrs: dict[str, AttrValue] = field(default_factory=dict)
    events: tuple[SpanEvent, ...] = ()
    links: tuple[SpanLink, ...] = ()
    flags: int = 0  # WARN_* bits

    @property
    def service(self) -> str:
        return self.process.service

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.duration_ns

    @property
    def is_error(self) -> bool:
        return self.status == STATUS_ERROR

    def warnings(self) -> list[str]:
        out = []
        if self.flags & WARN_NEGATIVE_DURATION:
            out.append("the span ended before it started; its duration is shown as 0")
        if self.flags & WARN_TRUNCATED:
            out.append("attributes, events or links over the receiver's limits were dropped")
        return out

    def to_json(self) -> SpanJson:
        return {
            "trace_id": self.trace_id.hex(), "span_id": self.span_id.hex(),
            "parent_id": None if self.parent_id is None else self.parent_id.hex(),
            "service": self.service, "name": self.name, "kind": KIND_NAMES[self.kind],
            "start_ns": self.start_ns, "duration_ns": self.duration_ns,
            "status": _STATUS_NAMES[self.status],
            "status_message": self.status_message, "attrs": self.attrs,
            "events": [e.to_json() for e in self.events],
            "links": [link.to_json() for link in self.links],
            "warnings": self.warnings(),
        }


@dataclass(frozen=True, slots=True)
class Trace:
    """The spans of one trace id, by start time (then span id, so the order is stable)."""

    trace_id: bytes
    spans: tuple[Span, ...]
    total_spans: int = 0  # spans the store holds for it; more than len(spans) when capped

    @property
    def start_ns(self) -> int:
        return min(s.start_ns for s in self.spans)

    @property
    def end_ns(self) -> int:
        return max(s.end_ns for s in self.spans)

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def truncated(self) -> bool:
        return self.total_spans > len(self.spans)

    def root(self) -> Span | None:
        """The span with no parent (the earliest, when there are several); failing that, the
        earliest span whose parent is not in the trace (a broken trace)."""
        roots = [s for s in self.spans if s.parent_id is None]
        if roots:
            return roots[0]
        ids = {s.span_id for s in self.spans}
        orphans = [s for s in self.spans if s.parent_id not in ids]
        return orphans[0] if orphans else (self.spans[0] if self.spans else None)

    def services(self) -> list[str]:
        return sorted({s.service for s in self.spans})

    def errors(self) -> int:
        return sum(1 for s in self.spans if s.is_error)

    def missing_parents(self) -> int:
        """Spans whose parent is not in the trace: a broken trace (a lost or unsampled span,
        or one still on its way)."""
        ids = {s.span_id for s in self.spans}
        return sum(1 for s in self.spans if s.parent_id is not None and s.parent_id not in ids)
