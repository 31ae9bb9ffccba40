"""Zipkin v2 JSON (``POST /api/v2/spans``, a JSON array of spans) decoded into the model.

The mapping is the OTel Collector's Zipkin receiver's: the service is ``localEndpoint.serviceName``;
times are microseconds; ``kind`` CLIENT/SERVER/PRODUCER/CONSUMER become OTLP's kinds (none:
unspecified); the ``error`` tag (or ``otel.status_code``) becomes the status; annotations become
events; the remote endpoint becomes ``peer.service`` / ``net.peer.ip`` / ``net.peer.port``.

A ``shared`` span (B3's one-span RPC: the server reports the client's span id) gets an id of its
own, child of the client's, so both halves are kept, as Jaeger's span-id uniquifier does.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from perflab.serving import PayloadTooLarge, json_body
from perflab.trace._decode import (
    MAX_ATTRS,
    MAX_EVENTS,
    MAX_KEY,
    MAX_NAME,
    MAX_SPANS,
    MAX_VALUE,
    Decoded,
    DecodeError,
    Truncation,
    cut,
    plain_value,
)
from perflab.trace._model import (
    KIND_CLIENT,
    KIND_CONSUMER,
    KIND_PRODUCER,
    KIND_SERVER,
    KIND_UNSPECIFIED,
    STATUS_ERROR,
    STATUS_OK,
    STATUS_UNSET,
    UNKNOWN_SERVICE,
    WARN_TRUNCATED,
    AttrValue,
    Process,
    Span,
    SpanEvent,
    parse_hex_id,
)

_KINDS = {"CLIENT": KIND_CLIENT, "SERVER": KIND_SERVER, "PRODUCER": KIND_PRODUCER,
          "CONSUMER": KIND_CONSUMER}
_MAX_US = (2**63 - 1) // 1000
_SCOPE = "zipkin"


def decode_zipkin(body: bytes) -> Decoded:
    doc = json_body(body, DecodeError)
    if not isinstance(doc, list):
        raise DecodeError("a Zipkin v2 body is a JSON array of spans")
    if len(doc) > MAX_SPANS:
        raise PayloadTooLarge(f"the request holds {len(doc)} spans; at most {MAX_SPANS} are "
                              "taken in one request: send smaller batches")
    out = Decoded()
    processes: dict[str, Process] = {}
    for item in doc:
        if not isinstance(item, dict):
            out.reject("items that are not span objects")
            continue
        span = _span(item, processes, out)
        if span is not None:
            out.spans.append(span)
    return out


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _span(item: dict[str, Any], processes: dict[str, Process], out: Decoded) -> Span | None:
    raw_tid, raw_id = item.get("traceId"), item.get("id")
    tid = parse_hex_id(raw_tid, 16) if isinstance(raw_tid, str) and len(raw_tid) in (16, 32) \
        else None
    if tid is None:
        out.reject("spans with a traceId that is not 16 or 32 hex digits")
        return None
    sid = parse_hex_id(raw_id, 8) if isinstance(raw_id, str) and len(raw_id) == 16 else None
    if sid is None:
        out.reject("spans with an id that is not 16 hex digits")
        return None
    raw_parent = item.get("parentId")
    parent = None
    if raw_parent is not None:
        parent = parse_hex_id(raw_parent, 8) if isinstance(raw_parent, str) \
            and len(raw_parent) == 16 else None
        if parent is None and raw_parent != "0" * 16:
            out.reject("spans with a parentId that is not 16 hex digits")
            return None
    ts = _int(item.get("timestamp"))
    if ts is None or not 0 <= ts <= _MAX_US:
        out.reject("spans without a valid timestamp (microseconds since the epoch)")
        return None
    dur = _int(item.get("duration"))
    dur = 0 if dur is None or dur < 0 else min(dur, _MAX_US - ts)
    trunc = Truncation()
    local = item.get("localEndpoint")
    service = local.get("serviceName") if isinstance(local, dict) else None
    service = cut(service, MAX_NAME, trunc) if isinstance(service, str) and service \
        else UNKNOWN_SERVICE
    process = processes.get(service)
    if process is None:
        res: dict[str, AttrValue] = {"service.name": service}
        process = processes[service] = Process(service, res, _SCOPE, "")
    kind = _KINDS.get(str(item.get("kind", "")).upper(), KIND_UNSPECIFIED)
    attrs, status, message = _tags(item.get("tags"), trunc)
    _remote(item.get("remoteEndpoint"), attrs, trunc)
    events = _annotations(item.get("annotations"), trunc)
    if item.get("shared") is True:
        parent, sid = sid, hashlib.blake2b(sid + b"shared", digest_size=8).digest()
    name = item.get("name")
    name = cut(name, MAX_NAME, trunc) if isinstance(name, str) else ""
    return Span(tid, sid, parent, name, kind, ts * 1000, dur * 1000, process, status, message,
                attrs, tuple(events), (), WARN_TRUNCATED if trunc.hit else 0)


def _tags(tags: object, trunc: Truncation) -> tuple[dict[str, AttrValue], int, str]:
    """Attributes, status and status message from Zipkin's tags."""
    attrs: dict[str, AttrValue] = {}
    status, message = STATUS_UNSET, ""
    if not isinstance(tags, dict):
        return attrs, status, message
    if len(tags) > MAX_ATTRS:
        trunc.hit = True
    for key, value in list(tags.items())[:MAX_ATTRS]:
        text = value if isinstance(value, str) else json.dumps(value)
        if key == "error":
            status, message = STATUS_ERROR, cut(text, MAX_VALUE, trunc)
        elif key == "otel.status_code":
            status = {"ERROR": STATUS_ERROR, "OK": STATUS_OK}.get(text.upper(), status)
        elif key == "otel.status_description":
            message = cut(text, MAX_VALUE, trunc)
        else:
            attrs[cut(str(key), MAX_KEY, trunc)] = plain_value(text, trunc)
    return attrs, status, message


def _remote(remote: object, attrs: dict[str, AttrValue], trunc: Truncation) -> None:
    if isinstance(remote, dict):
        for src, dst in (("serviceName", "peer.service"), ("ipv4", "net.peer.ip"),
                         ("ipv6", "net.peer.ip"), ("port", "net.peer.port")):
            if remote.get(src) is not None:
                attrs.setdefault(dst, plain_value(remote[src], trunc))


def _annotations(annotations: object, trunc: Truncation) -> list[SpanEvent]:
    events: list[SpanEvent] = []
    if not isinstance(annotations, list):
        return events
    if len(annotations) > MAX_EVENTS:
        trunc.hit = True
    for a in annotations[:MAX_EVENTS]:
        at = _int(a.get("timestamp")) if isinstance(a, dict) else None
        if at is not None and 0 <= at <= _MAX_US and isinstance(a.get("value"), str):
            events.append(SpanEvent(at * 1000, cut(a["value"], MAX_NAME, trunc)))
    return events
