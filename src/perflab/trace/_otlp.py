"""OTLP traces in and out: ``ExportTraceServiceRequest`` (binary protobuf or OTLP/JSON) decoded
into the model, and the model encoded back (for ``--forward-otlp`` and for tests).

The messages are opentelemetry-proto's own. OTLP/JSON is protobuf's JSON mapping with OTLP's
deviations (spec, "JSON Protobuf Encoding"): trace and span ids are hex, not base64; enums are
integers; 64-bit integers may be strings. We read it with protobuf's own JSON parser after
turning the hex ids into what it expects; a malformed hex id becomes an empty id, so its span is
rejected with the others of the wrong length, and the request's other spans are kept.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from perflab.serving import (
    PayloadTooLarge,
    hex_ids_to_base64,
    json_objects,
    parse_otlp_json,
    parse_protobuf,
)
from perflab.trace._decode import (
    MAX_ARRAY,
    MAX_ATTRS,
    MAX_EVENTS,
    MAX_KEY,
    MAX_LINKS,
    MAX_NAME,
    MAX_SPANS,
    MAX_VALUE,
    Decoded,
    DecodeError,
    Truncation,
    cut,
)
from perflab.trace._model import (
    UNKNOWN_SERVICE,
    WARN_NEGATIVE_DURATION,
    WARN_TRUNCATED,
    AttrValue,
    Process,
    Span,
    SpanEvent,
    SpanLink,
)

if TYPE_CHECKING:
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue

_Z16 = bytes(16)
_Z8 = bytes(8)
_INT64_MAX = 2**63 - 1
_MAX_DEPTH = 4


# -- decoding -----------------------------------------------------------------------------------

def decode_protobuf(body: bytes) -> Decoded:
    """An OTLP/HTTP binary body (or a gRPC message's bytes)."""
    return decode_request(parse_protobuf(body, ExportTraceServiceRequest, DecodeError))


def decode_json(body: bytes) -> Decoded:
    """An OTLP/HTTP JSON body (``Content-Type: application/json``)."""
    return decode_request(parse_otlp_json(body, ExportTraceServiceRequest, DecodeError,
                                          prepare=_hex_ids_to_base64))


def _hex_ids_to_base64(doc: dict[str, Any]) -> None:
    """OTLP/JSON's hex ids as protobuf JSON's base64, in place; a malformed one as empty."""
    for rs in json_objects(doc, "resourceSpans", "resource_spans"):
        for ss in json_objects(rs, "scopeSpans", "scope_spans"):
            for span in json_objects(ss, "spans"):
                hex_ids_to_base64(span, ("traceId", "trace_id", "spanId", "span_id",
                                         "parentSpanId", "parent_span_id"))
                for link in json_objects(span, "links"):
                    hex_ids_to_base64(link, ("traceId", "trace_id", "spanId", "span_id"))


def decode_request(request: ExportTraceServiceRequest) -> Decoded:
    out = Decoded()
    total = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    if total > MAX_SPANS:
        raise PayloadTooLarge(f"the request holds {total} spans; at most {MAX_SPANS} are taken "
                              "in one request: send smaller batches")
    for rs in request.resource_spans:
        trunc = Truncation()
        res_attrs = _attrs(rs.resource.attributes, trunc)
        service = res_attrs.get("service.name")
        service = cut(service, MAX_NAME, trunc) if isinstance(service, str) and service \
            else UNKNOWN_SERVICE
        for ss in rs.scope_spans:
            process = Process(service, res_attrs, cut(ss.scope.name, MAX_NAME, trunc),
                              cut(ss.scope.version, MAX_NAME, trunc))
            for sp in ss.spans:
                span = _span(sp, process, out)
                if span is not None:
                    out.spans.append(span)
    return out


def _refusal(tid: bytes, sid: bytes, parent: bytes, start: int, end: int) -> str | None:
    """Why a span cannot be stored (counted in partial_success), or None."""
    if len(tid) != 16 or tid == _Z16:
        return "spans with a trace id that is not 16 bytes (32 hex digits), or zero"
    if len(sid) != 8 or sid == _Z8:
        return "spans with a span id that is not 8 bytes (16 hex digits), or zero"
    if parent and len(parent) != 8:
        return "spans with a parent span id that is not 8 bytes"
    if start > _INT64_MAX or end > _INT64_MAX:
        return "spans with a time after the year 2262"
    return None


def _span(sp: Any, process: Process, out: Decoded) -> Span | None:
    # hot path: every field read once (each read of a upb message builds a Python object), the
    # common case checked inline and the rare ones (refusals, cuts) left to the slow helpers
    tid, sid, parent = sp.trace_id, sp.span_id, sp.parent_span_id
    start, end = sp.start_time_unix_nano, sp.end_time_unix_nano
    if (len(tid) != 16 or len(sid) != 8 or tid == _Z16 or sid == _Z8
            or (parent and len(parent) != 8) or start > _INT64_MAX
            or end > _INT64_MAX):
        out.reject(_refusal(tid, sid, parent, start, end) or "spans that cannot be stored")
        return None
    flags = 0
    if end < start:
        flags |= WARN_NEGATIVE_DURATION
        out.note("spans ended before they started (stored with duration 0)")
        end = start
    trunc = _NO_CUTS
    kvs = sp.attributes
    attrs = _plain_attrs(kvs) if kvs else {}
    if attrs is None:  # a long string, an array or map, too many: the careful way
        trunc = Truncation()
        attrs = _attrs(kvs, trunc)
    events: tuple[SpanEvent, ...] = ()
    sp_events = sp.events
    if sp_events:
        trunc = trunc if trunc is not _NO_CUTS else Truncation()
        if len(sp_events) > MAX_EVENTS:
            trunc.hit = True
        events = tuple(SpanEvent(min(e.time_unix_nano, _INT64_MAX), cut(e.name, MAX_NAME, trunc),
                                 _attrs(e.attributes, trunc))
                       for e in sp_events[:MAX_EVENTS])
    links: tuple[SpanLink, ...] = ()
    sp_links = sp.links
    if sp_links:
        trunc = trunc if trunc is not _NO_CUTS else Truncation()
        if len(sp_links) > MAX_LINKS:
            trunc.hit = True
        links = tuple(SpanLink(lk.trace_id, lk.span_id, _attrs(lk.attributes, trunc))
                      for lk in sp_links[:MAX_LINKS]
                      if len(lk.trace_id) == 16 and len(lk.span_id) == 8)
    kind = sp.kind
    if not 0 <= kind <= 5:
        kind = 0
    st = sp.status
    status, message = st.code, st.message
    if not 0 <= status <= 2:
        status = 0
    name = sp.name
    if len(name) > MAX_NAME or len(message) > MAX_VALUE:
        trunc = trunc if trunc is not _NO_CUTS else Truncation()
        name, message = cut(name, MAX_NAME, trunc), cut(message, MAX_VALUE, trunc)
    if (trunc.hit or sp.dropped_attributes_count or sp.dropped_events_count
            or sp.dropped_links_count):  # what the sender dropped already is said too
        flags |= WARN_TRUNCATED
    return Span(tid, sid, parent if parent and parent != _Z8 else None, name, kind, start,
                end - start, process, status, message, attrs, events, links, flags)


_NO_CUTS = Truncation()  # never set: the spans that need no cut share it
_PLAIN = frozenset({"string_value", "int_value", "bool_value", "double_value"})


def _plain_attrs(kvs: Sequence[Any]) -> dict[str, AttrValue] | None:
    """Attributes that are all strings, integers, booleans or finite doubles within the
    limits (nearly every span's): read at a call or two a value. None: anything else."""
    if len(kvs) > MAX_ATTRS:
        return None
    out: dict[str, AttrValue] = {}
    for kv in kvs:
        v = kv.value
        which = v.WhichOneof("value")
        if which not in _PLAIN:
            return None
        value = getattr(v, which)
        key = kv.key
        if len(key) > MAX_KEY or (which == "string_value" and len(value) > MAX_VALUE) or (
                which == "double_value" and not math.isfinite(value)):
            return None
        out[key] = value
    return out


def _attrs(kvs: Sequence[Any], trunc: Truncation) -> dict[str, AttrValue]:
    out: dict[str, AttrValue] = {}
    if len(kvs) > MAX_ATTRS:
        trunc.hit = True
    for kv in kvs[:MAX_ATTRS]:
        value = _value(kv.value, trunc, 0)
        if value is not None:
            key = kv.key
            out[key if len(key) <= MAX_KEY else cut(key, MAX_KEY, trunc)] = value
    return out


def _value(v: AnyValue, trunc: Truncation, depth: int) -> AttrValue | None:
    which = v.WhichOneof("value")
    if which == "string_value":
        s = v.string_value
        return s if len(s) <= MAX_VALUE else cut(s, MAX_VALUE, trunc)
    if which == "int_value":
        return int(v.int_value)
    if which == "bool_value":
        return bool(v.bool_value)
    if which == "double_value":
        d = float(v.double_value)
        return d if math.isfinite(d) else str(d)  # JSON (and the browser) have no NaN
    if which is None:
        return None
    if depth >= _MAX_DEPTH:
        trunc.hit = True
        return ""
    if which == "array_value":
        values = v.array_value.values
        if len(values) > MAX_ARRAY:
            trunc.hit = True
        return [x for x in (_value(e, trunc, depth + 1) for e in values[:MAX_ARRAY])
                if x is not None]
    if which == "kvlist_value":
        inner = {kv.key[:MAX_KEY]: _value(kv.value, trunc, depth + 1)
                 for kv in v.kvlist_value.values[:MAX_ATTRS]}
        return cut(json.dumps(inner, separators=(",", ":"), ensure_ascii=False), MAX_VALUE,
                   trunc)
    if which == "bytes_value":
        return cut(base64.b64encode(v.bytes_value).decode("ascii"), MAX_VALUE, trunc)
    return None


# -- answers ------------------------------------------------------------------------------------

def response(decoded: Decoded) -> ExportTraceServiceResponse:
    """The answer: ``partial_success`` set only when spans were rejected or mended."""
    resp = ExportTraceServiceResponse()
    message = decoded.message()
    if decoded.rejected or message:
        resp.partial_success.rejected_spans = decoded.rejected
        resp.partial_success.error_message = message[:1000]
    return resp


def response_json(resp: ExportTraceServiceResponse) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if resp.HasField("partial_success"):
        out["partialSuccess"] = {"rejectedSpans": str(resp.partial_success.rejected_spans),
                                 "errorMessage": resp.partial_success.error_message}
    return out


# -- encoding -----------------------------------------------------------------------------------

def encode_request(spans: Iterable[Span]) -> ExportTraceServiceRequest:
    """Spans as one ``ExportTraceServiceRequest``, grouped by resource and scope."""
    request = ExportTraceServiceRequest()
    groups: dict[int, Any] = {}
    resources: dict[int, Any] = {}
    for span in spans:
        p = span.process
        res_key = id(p.attrs) if p.attrs else hash(p.service)
        rs = resources.get(res_key)
        if rs is None:
            rs = request.resource_spans.add()
            _set_attrs(rs.resource.attributes, {"service.name": p.service, **p.attrs})
            resources[res_key] = rs
        group_key = hash((res_key, p.scope_name, p.scope_version))
        ss = groups.get(group_key)
        if ss is None:
            ss = rs.scope_spans.add()
            ss.scope.name = p.scope_name
            ss.scope.version = p.scope_version
            groups[group_key] = ss
        sp = ss.spans.add()
        sp.trace_id = span.trace_id
        sp.span_id = span.span_id
        if span.parent_id is not None:
            sp.parent_span_id = span.parent_id
        sp.name = span.name
        sp.kind = span.kind  # an enum field takes its integer
        sp.start_time_unix_nano = span.start_ns
        sp.end_time_unix_nano = span.end_ns
        sp.status.code = span.status
        sp.status.message = span.status_message
        _set_attrs(sp.attributes, span.attrs)
        for e in span.events:
            ev = sp.events.add()
            ev.time_unix_nano = e.ts_ns
            ev.name = e.name
            _set_attrs(ev.attributes, e.attrs)
        for link in span.links:
            lk = sp.links.add()
            lk.trace_id = link.trace_id
            lk.span_id = link.span_id
            _set_attrs(lk.attributes, link.attrs)
    return request


def _set_attrs(target: Any, attrs: dict[str, AttrValue]) -> None:
    for key, value in attrs.items():
        kv = target.add()
        kv.key = key
        _set_value(kv.value, value)


def _set_value(target: Any, value: AttrValue) -> None:
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, list):
        array = target.array_value
        for v in value:
            _set_value(array.values.add(), v)
    else:
        target.string_value = str(value)
