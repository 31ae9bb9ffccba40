"""The SDK's finished spans as an OTLP ``ExportTraceServiceRequest``, written straight to the
protobuf wire format.

The OTLP exporter's own encoder builds a generated message per span, attribute and value, and
then serializes the tree: about 30 us a span in CPython 3.11, as much as recording the span did,
and most of what a sampled trace costs a service after that (docs/tracing.md, "Figures"). This
writes the same message's bytes directly, in the exporter's field order and with its choices
(the resource and scope grouping, the span flags, an empty status kept, a link's trace state
left out), so the request a collector receives is the one the SDK's encoder would have sent:
``tests/unit/trace/test_trace_otel_encode.py`` compares the two, byte for byte, on generated
spans.

What repeats from span to span is written once: a resource's and a scope's bytes, span names,
statuses, and attributes whose value is a short string, an int or a bool (bounded caches).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import Link

__all__ = ["encode_spans"]

_FIXED64 = struct.Struct("<Q").pack
_FIXED32 = struct.Struct("<I").pack
_DOUBLE = struct.Struct("<d").pack
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_CACHE_MAX = 4096  # entries per cache; more (a flood of unique keys) starts it afresh

# tags: (field number << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32)
_SPAN_TRACE_ID = b"\x0a\x10"   # field 1, 16 bytes
_SPAN_SPAN_ID = b"\x12\x08"    # field 2, 8 bytes
_SPAN_TRACE_STATE = b"\x1a"
_SPAN_PARENT_ID = b"\x22\x08"  # field 4, 8 bytes
_SPAN_NAME = b"\x2a"
_SPAN_KIND = b"\x30"
_SPAN_START = b"\x39"
_SPAN_END = b"\x41"
_SPAN_ATTRIBUTE = b"\x4a"
_SPAN_DROPPED_ATTRIBUTES = b"\x50"
_SPAN_EVENT = b"\x5a"
_SPAN_DROPPED_EVENTS = b"\x60"
_SPAN_LINK = b"\x6a"
_SPAN_DROPPED_LINKS = b"\x70"
_SPAN_STATUS = b"\x7a"
_SPAN_FLAGS = b"\x85\x01"      # field 16, fixed32
# SpanFlags: the context's is-remote bit is known (0x100), and set (0x200)
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200


def _varint(n: int) -> bytes:
    if 0 <= n < 0x80:  # one byte: the common case
        return bytes((n,))
    n &= 0xFFFF_FFFF_FFFF_FFFF  # a negative int64 is ten bytes of two's complement
    out = bytearray()
    while n > 0x7F:  # seven bits a byte
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    return tag + _varint(len(payload)) + payload


def _value(value: Any) -> bytes:
    """An ``AnyValue``'s bytes (the exporter's choice of field by Python type)."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _field(b"\x0a", value.encode())
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            msg = f"Value out of range: {value}"
            raise ValueError(msg)
        return b"\x18" + _varint(value)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE(value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if isinstance(value, Sequence):
        return _field(b"\x2a", b"".join([_field(b"\x0a", _value(v)) for v in value]))
    if isinstance(value, Mapping):
        return _field(b"\x32", b"".join([_field(b"\x0a", _key_value(str(k), v))
                                          for k, v in value.items()]))
    msg = f"Invalid type {type(value)} of value {value}"
    raise TypeError(msg)


# not floats: 0.0 and -0.0 are one key and two encodings, and a float rarely repeats
_SCALARS = (str, int, bool)
_CACHED_TEXT = 256  # longer strings (a statement, a URL with its query) are seldom repeated
_fields: dict[tuple[bytes, str, Any, type], bytes] = {}


def _key_value(key: str, value: Any) -> bytes:
    """A ``KeyValue``'s bytes."""
    return _field(b"\x0a", key.encode()) + _field(b"\x12", _value(value))


def _attributes(tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
    """Each attribute as a ``KeyValue`` field ``tag``; one with a scalar value from the cache
    (``http.request.method=GET`` is written once, not once a span)."""
    if not attributes:
        return b""
    out = []
    for key, value in attributes.items():
        kind = type(value)
        cacheable = kind in _SCALARS and (kind is not str or len(value) <= _CACHED_TEXT)
        if cacheable:
            done = _fields.get((tag, key, value, kind))
            if done is not None:
                out.append(done)
                continue
        try:
            done = _field(tag, _key_value(key, value))
        except (TypeError, ValueError):  # as the exporter: the attribute is left out, the span kept
            continue
        if cacheable:
            if len(_fields) >= _CACHE_MAX:
                _fields.clear()
            _fields[tag, key, value, kind] = done
        out.append(done)
    return b"".join(out)


def _events(events: Sequence[Event]) -> bytes:
    out = []
    for event in events:
        body = (b"\x09" + _FIXED64(event.timestamp) + _string(b"\x12", event.name)
                + _attributes(b"\x1a", event.attributes)
                + _count(b"\x20", event.dropped_attributes))
        out.append(_field(_SPAN_EVENT, body))
    return b"".join(out)


def _links(links: Sequence[Link]) -> bytes:
    out = []
    for link in links:
        ctx = link.context
        body = (b"\x0a\x10" + ctx.trace_id.to_bytes(16, "big") + b"\x12\x08"
                + ctx.span_id.to_bytes(8, "big") + _attributes(b"\x22", link.attributes)
                + _count(b"\x28", link.dropped_attributes) + b"\x35"
                + _FIXED32(_HAS_IS_REMOTE | (_IS_REMOTE if ctx.is_remote else 0)))
        out.append(_field(_SPAN_LINK, body))
    return b"".join(out)


def _string(tag: bytes, text: str | None) -> bytes:
    return _field(tag, text.encode()) if text else b""


def _time(tag: bytes, ns: int | None) -> bytes:
    return tag + _FIXED64(ns) if ns else b""


def _count(tag: bytes, n: int) -> bytes:
    return tag + _varint(n) if n else b""


# the flags field: the parent's is-remote bit known, and unset or set
_FLAGS_LOCAL = _SPAN_FLAGS + _FIXED32(_HAS_IS_REMOTE)
_FLAGS_REMOTE = _SPAN_FLAGS + _FIXED32(_HAS_IS_REMOTE | _IS_REMOTE)
_KINDS = {k: _SPAN_KIND + _varint(k + 1) for k in range(5)}  # the SDK's SpanKind: proto's - 1
_names: dict[str, bytes] = {}
_statuses: dict[tuple[str | None, int], bytes] = {}


def _name(name: str) -> bytes:
    done = _names.get(name)
    if done is None:
        if len(_names) >= _CACHE_MAX:
            _names.clear()
        done = _names[name] = _string(_SPAN_NAME, name)
    return done


def _status(description: str | None, code: int) -> bytes:
    """``Span.status``, kept when empty as the exporter keeps it; the few there are cached."""
    done = _statuses.get((description, code))
    if done is None:
        if len(_statuses) >= _CACHE_MAX:
            _statuses.clear()
        code_field = b"\x18" + _varint(code) if code else b""
        done = _statuses[description, code] = _field(
            _SPAN_STATUS, _string(b"\x12", description) + code_field)
    return done


def _span(span: ReadableSpan) -> bytes:
    ctx = span.get_span_context()
    if ctx is None:  # the SDK's spans always have one; the exporter would fail here too
        msg = f"span {span.name!r} has no context"
        raise TypeError(msg)
    parent = span.parent
    parts = [_SPAN_TRACE_ID, ctx.trace_id.to_bytes(16, "big"),
             _SPAN_SPAN_ID, ctx.span_id.to_bytes(8, "big")]
    state = ctx.trace_state
    if state:
        parts.append(_string(_SPAN_TRACE_STATE, ",".join([f"{k}={v}" for k, v in state.items()])))
    if parent is not None:
        parts += (_SPAN_PARENT_ID, parent.span_id.to_bytes(8, "big"))
    parts += (_name(span.name), _KINDS[span.kind.value], _time(_SPAN_START, span.start_time),
              _time(_SPAN_END, span.end_time), _attributes(_SPAN_ATTRIBUTE, span.attributes))
    parts.append(_count(_SPAN_DROPPED_ATTRIBUTES, span.dropped_attributes))
    events = span.events
    if events:
        parts.append(_events(events))
    parts.append(_count(_SPAN_DROPPED_EVENTS, span.dropped_events))
    links = span.links
    if links:
        parts.append(_links(links))
    parts.append(_count(_SPAN_DROPPED_LINKS, span.dropped_links))
    status = span.status
    parts += (_status(status.description, status.status_code.value),
              _FLAGS_REMOTE if parent is not None and parent.is_remote else _FLAGS_LOCAL)
    return _field(b"\x12", b"".join(parts))  # as ScopeSpans.spans (field 2)


_resources: dict[int, tuple[Resource, bytes]] = {}
_scopes: dict[int, tuple[InstrumentationScope | None, bytes]] = {}


def _resource(resource: Resource) -> bytes:
    """``ResourceSpans.resource``'s field (1), written once per resource. Keyed by identity: a
    resource's hash serializes its attributes to JSON, and a provider has one resource."""
    done = _resources.get(id(resource))
    if done is None or done[0] is not resource:
        if len(_resources) >= _CACHE_MAX:
            _resources.clear()
        done = _resources[id(resource)] = (
            resource, _field(b"\x0a", _attributes(b"\x0a", resource.attributes)))
    return done[1]


def _scope(scope: InstrumentationScope | None) -> bytes:
    """``ScopeSpans.scope``'s field (1), written once per scope (by identity, as resources)."""
    done = _scopes.get(id(scope))
    if done is None or done[0] is not scope:
        if len(_scopes) >= _CACHE_MAX:
            _scopes.clear()
        body = b"" if scope is None else (_string(b"\x0a", scope.name)
                                          + _string(b"\x12", scope.version)
                                          + _attributes(b"\x1a", scope.attributes))
        done = _scopes[id(scope)] = (scope, _field(b"\x0a", body))
    return done[1]


def _group(spans: Sequence[ReadableSpan]) -> dict[Resource, dict[InstrumentationScope | None,
                                                                 list[bytes]]]:
    """Encoded spans by resource, then by scope, each in order of first appearance, as the
    exporter groups them (in dictionaries: equal resources or scopes are one). Grouped by
    identity first, which is cheap; only when two distinct objects are equal (never, with one
    provider) is it done again by equality."""
    by_id: dict[int, tuple[Resource, dict[int, tuple[InstrumentationScope | None,
                                                     list[bytes]]]]] = {}
    encoded = []
    for span in spans:
        resource = span.resource
        entry = by_id.get(id(resource))
        if entry is None:
            entry = by_id[id(resource)] = (resource, {})
        scope = span.instrumentation_scope or None
        scoped = entry[1].get(id(scope))
        if scoped is None:
            scoped = entry[1][id(scope)] = (scope, [])
        scoped[1].append(data := _span(span))
        encoded.append(data)
    distinct = (len({r for r, _ in by_id.values()}) == len(by_id)
                and all(len({s for s, _ in scopes.values()}) == len(scopes)
                        for _, scopes in by_id.values()))
    if distinct:
        return {r: dict(scopes.values()) for r, scopes in by_id.values()}
    grouped: dict[Resource, dict[InstrumentationScope | None, list[bytes]]] = {}
    for span, data in zip(spans, encoded, strict=True):
        grouped.setdefault(span.resource, {}).setdefault(
            span.instrumentation_scope or None, []).append(data)
    return grouped


def encode_spans(spans: Sequence[ReadableSpan]) -> bytes:
    """The serialized ``ExportTraceServiceRequest`` of ``spans``."""
    out = []
    for resource, scopes in _group(spans).items():
        body = [_resource(resource)]
        for scope, encoded in scopes.items():
            schema = scope.schema_url if scope is not None else None
            body.append(_field(b"\x12", _scope(scope) + b"".join(encoded)
                               + _string(b"\x1a", schema)))
        body.append(_string(b"\x1a", resource.schema_url))
        out.append(_field(b"\x0a", b"".join(body)))
    return b"".join(out)
