"""Loki's push API, ``POST /loki/api/v1/push``: JSON or snappy protobuf, decoded at the edge.

The protobuf is Loki's pkg/push/push.proto (declared here through the descriptor API, decoded
by protobuf's upb)::

    PushRequest      { repeated StreamAdapter streams = 1; }
    StreamAdapter    { string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }
    EntryAdapter     { Timestamp timestamp = 1; string line = 2;
                       repeated LabelPairAdapter structuredMetadata = 3; }
    LabelPairAdapter { string name = 1; string value = 2; }
    Timestamp        { int64 seconds = 1; int32 nanos = 2; }

JSON is ``{"streams": [{"stream": {labels}, "values": [["<ns>", "line", {metadata}?]]}]}``.
Decoders raise only ``BadEncoding`` (400) and ``PayloadTooLarge`` (413).
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from perflab.logs._logql import LogQLError, parse_selector
from perflab.logs._sink import LogEntry, LogSink
from perflab.serving import (
    BadEncoding,
    ConcurrencyLimiter,
    PayloadTooLarge,
    Refused,
    TooManyRequests,
    gunzip_bounded,
    read_body,
    retry_after,
    snappy_decompress_bounded,
)
from perflab.store import canonical_labels

MAX_BODY = 16 * 1024 * 1024
MAX_DECOMPRESSED = 64 * 1024 * 1024
MAX_LINE = 1024 * 1024          # bytes of one line (Loki's max_line_size, set)
MAX_LABELS = 30                 # per stream
MAX_LABEL_NAME = 1024
MAX_LABEL_VALUE = 2048
MAX_ENTRIES = 1_000_000         # per push
_MAX_NS = 2**63 - 1
MAX_STREAMS = 10_000            # distinct streams per push (Promtail sends a few)
_limiter = ConcurrencyLimiter(8, 64, what="log pushes")

# the labels text of a stream -> its canonical JSON (a push repeats the same few streams)
_STREAMS: dict[str, str] = {}
_MAX_STREAMS_CACHED = 100_000


# -- protobuf -----------------------------------------------------------------------------------

_F = descriptor_pb2.FieldDescriptorProto


def _push_request_class() -> type[Any]:
    """push.proto's PushRequest, declared through protobuf's descriptor API and decoded by
    protobuf's own upb (5x faster than reading the wire format in Python, which was 7 us a
    line). Labels and lines are declared ``bytes`` (the same wire format as ``string``): upb
    refuses a ``string`` that is not UTF-8, where a push's invalid UTF-8 is kept as U+FFFD."""
    fd = descriptor_pb2.FileDescriptorProto(name="perflab_lokipush.proto", package="lokipush",
                                            syntax="proto3")
    opt, rep = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
    for name, fields in (
            ("Timestamp", [("seconds", 1, _F.TYPE_INT64, opt, ""),
                           ("nanos", 2, _F.TYPE_UINT32, opt, "")]),
            ("LabelPair", [("name", 1, _F.TYPE_BYTES, opt, ""),
                           ("value", 2, _F.TYPE_BYTES, opt, "")]),
            ("Entry", [("timestamp", 1, _F.TYPE_MESSAGE, opt, ".lokipush.Timestamp"),
                       ("line", 2, _F.TYPE_BYTES, opt, ""),
                       ("metadata", 3, _F.TYPE_MESSAGE, rep, ".lokipush.LabelPair")]),
            ("Stream", [("labels", 1, _F.TYPE_BYTES, opt, ""),
                        ("entries", 2, _F.TYPE_MESSAGE, rep, ".lokipush.Entry")]),
            ("PushRequest", [("streams", 1, _F.TYPE_MESSAGE, rep, ".lokipush.Stream")])):
        message = fd.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            message.field.add(name=fname, number=number, type=ftype, label=label,
                              type_name=type_name or None)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("lokipush.PushRequest"))


_PushRequest = _push_request_class()


_entry = tuple.__new__


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def decode_protobuf(raw: bytes) -> list[LogEntry]:
    """The entries of a (decompressed) PushRequest."""
    request = _PushRequest()
    try:
        request.ParseFromString(raw)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise BadEncoding("the body is not a Loki PushRequest (truncated or malformed: "
                          f"{exc})") from None
    out: list[LogEntry] = []
    no_meta: tuple[tuple[str, str], ...] = ()
    for stream in request.streams:
        labels = stream_labels(_text(stream.labels))
        if len(out) + len(stream.entries) > MAX_ENTRIES:
            raise PayloadTooLarge(f"over {MAX_ENTRIES:,} lines in one push")
        for entry in stream.entries:
            stamp = entry.timestamp
            meta = tuple((_text(m.name), _text(m.value)) for m in entry.metadata) \
                if entry.metadata else no_meta
            line = entry.line
            if len(line) > MAX_LINE:
                _check_line(_text(line))  # raises: over the limit
            ts = stamp.seconds * 1_000_000_000 + stamp.nanos
            if not 0 <= ts <= _MAX_NS:
                ts = max(0, min(ts, _MAX_NS))  # what the store can hold
            # per line, the named tuple's own __new__ (a Python function) and a call of
            # _text were a third of this loop: the tuple is built directly, the line decoded
            # inline (the same U+FFFD for invalid UTF-8)
            out.append(_entry(LogEntry, (labels, ts, line.decode("utf-8", "replace"), meta)))
    return out


# -- JSON ----------------------------------------------------------------------------------------

def decode_json(raw: bytes) -> list[LogEntry]:
    try:  # invalid UTF-8 is kept as U+FFFD, as in protobuf bodies
        doc = json.loads(raw.decode("utf-8", "replace"))
    except (ValueError, RecursionError) as exc:
        raise BadEncoding(f"the body is not JSON: {exc}") from None
    streams = doc.get("streams") if isinstance(doc, dict) else None
    if not isinstance(streams, list):
        raise BadEncoding('the body is not a Loki push: it needs {"streams": [...]}')
    out: list[LogEntry] = []
    for s in streams:
        if not isinstance(s, dict) or not isinstance(s.get("stream"), dict) \
                or not isinstance(s.get("values"), list):
            raise BadEncoding('each stream needs "stream": {labels} and "values": [...]')
        labels = _labels_json(s["stream"])
        for v in s["values"]:
            out.append(_json_entry(labels, v))
            _check_count(out)
    return out


def _json_entry(labels: str, v: Any) -> LogEntry:  # JSON as decoded
    if not isinstance(v, list) or len(v) not in (2, 3) or not isinstance(v[0], str) \
            or not isinstance(v[1], str) or not v[0].isascii() or not v[0].isdigit():
        raise BadEncoding('each value is ["<unix epoch in nanoseconds>", "<log line>"] '
                          "(and optionally {structured metadata})")
    meta: tuple[tuple[str, str], ...] = ()
    if len(v) == 3:
        if not isinstance(v[2], dict) or not all(isinstance(x, str) for x in v[2].values()):
            raise BadEncoding("structured metadata is an object of strings")
        meta = tuple(v[2].items())
    ts = int(v[0])
    if ts > _MAX_NS:  # the store's times are int64: a later one would fail its batch forever
        raise BadEncoding(f"a timestamp of {v[0][:30]} ns is after the year 2262")
    return LogEntry(labels, ts, _check_line(v[1]), meta)


# -- checks shared by both -----------------------------------------------------------------------

def _check_line(line: str) -> str:
    if len(line) > MAX_LINE // 4 and len(line.encode("utf-8", "surrogatepass")) > MAX_LINE:
        raise PayloadTooLarge(f"a line is over {MAX_LINE:,} bytes, the most one line may be")
    return line.encode("utf-8", "replace").decode("utf-8") if not line.isascii() else line


def _check_count(out: list[LogEntry]) -> None:
    if len(out) > MAX_ENTRIES:
        raise PayloadTooLarge(f"over {MAX_ENTRIES:,} lines in one push")


def _labels_json(labels: dict[str, Any]) -> str:
    if not labels:
        raise BadEncoding("a stream without labels (Loki needs at least one)")
    if len(labels) > MAX_LABELS:
        raise BadEncoding(f"a stream with {len(labels)} labels; at most {MAX_LABELS}")
    for k, v in labels.items():
        if not isinstance(v, str):
            raise BadEncoding(f"the label {k[:100]!r} is not a string")
        if len(k) > MAX_LABEL_NAME or len(v) > MAX_LABEL_VALUE:
            raise BadEncoding(f"the label {k[:100]!r} is too long (names up to "
                              f"{MAX_LABEL_NAME}, values up to {MAX_LABEL_VALUE} characters)")
    return canonical_labels(labels)


def stream_labels(text: str) -> str:
    """The canonical labels JSON of a push's stream selector text (``{job="x"}``)."""
    got = _STREAMS.get(text)
    if got is not None:
        return got
    try:
        matchers = parse_selector(text)
    except LogQLError as exc:
        raise BadEncoding(f"the stream labels {text[:200]!r} do not parse: {exc.detail} "
                          f"(column {exc.column})") from None
    if any(m.op != "=" for m in matchers):
        raise BadEncoding(f'the stream labels {text[:200]!r} are not name="value" pairs')
    got = _labels_json({m.name: m.value for m in matchers})
    if len(_STREAMS) >= _MAX_STREAMS_CACHED:
        _STREAMS.clear()
    _STREAMS[text] = got
    return got


def decode_push(body: bytes, content_type: str, content_encoding: str) -> list[LogEntry]:
    """A push body as entries, by its media type (JSON or protobuf) and encoding; at most
    ``MAX_STREAMS`` distinct streams (413 past them)."""
    entries = _decode_push(body, content_type, content_encoding)
    streams = len({e.labels for e in entries})
    if streams > MAX_STREAMS:
        raise PayloadTooLarge(f"{streams:,} streams in one push; at most {MAX_STREAMS:,}")
    return entries


def _decode_push(body: bytes, content_type: str, content_encoding: str) -> list[LogEntry]:
    media = content_type.split(";", 1)[0].strip().lower()
    encoding = content_encoding.strip().lower()
    if encoding == "gzip":
        body = gunzip_bounded(body, MAX_DECOMPRESSED)
    elif encoding not in ("", "identity", "snappy"):
        raise BadEncoding(f"unsupported Content-Encoding {encoding!r}")
    if media == "application/json":
        return decode_json(body)
    if media in ("application/x-protobuf", "application/protobuf", ""):
        if encoding != "gzip":
            body = snappy_decompress_bounded(body, MAX_DECOMPRESSED)
        return decode_protobuf(body)
    raise BadEncoding(f"unsupported Content-Type {media!r}: send application/json or "
                      "application/x-protobuf (snappy)")


async def loki_push(request: Request) -> Response:
    sink: LogSink = request.app.state.logs.sink
    try:
        async with _limiter.slot():
            body = await read_body(request, MAX_BODY)
            entries = await run_in_threadpool(
                decode_push, body, request.headers.get("content-type", ""),
                request.headers.get("content-encoding", ""))
            if not sink.submit(entries):
                raise TooManyRequests("the store is behind: retry in a moment")
    except Refused as exc:
        return PlainTextResponse(exc.message + "\n", status_code=exc.status,
                                 headers=retry_after(exc))
    return Response(status_code=204)
