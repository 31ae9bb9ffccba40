"""Loki's push API, ``POST /loki/api/v1/push``: JSON or snappy protobuf, decoded at the edge.

The protobuf is Loki's pkg/push/push.proto, read by hand (four small messages; protobuf's
generated classes would be one more descriptor to build for a handful of fields)::

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


# -- protobuf wire format ------------------------------------------------------------------------

def _varint(buf: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise BadEncoding("the body is not a Loki PushRequest (truncated varint)")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of one message: ints for varints, bytes otherwise."""
    out: list[tuple[int, int, int | bytes]] = []
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(buf, i)
            out.append((num, wire, v))
        elif wire == 2:
            size, i = _varint(buf, i)
            if i + size > n:
                raise BadEncoding("the body is not a Loki PushRequest (truncated field)")
            out.append((num, wire, buf[i:i + size]))
            i += size
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            if i + width > n:
                raise BadEncoding("the body is not a Loki PushRequest (truncated field)")
            out.append((num, wire, buf[i:i + width]))
            i += width
        else:
            raise BadEncoding(f"the body is not a Loki PushRequest (wire type {wire})")
    return out


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise BadEncoding("the body is not a Loki PushRequest (a string field is a number)")
    return value.decode("utf-8", "replace")


def _timestamp(value: int | bytes) -> int:
    if not isinstance(value, bytes):
        raise BadEncoding("the body is not a Loki PushRequest (bad timestamp)")
    seconds = nanos = 0
    for num, wire, v in _fields(value):
        if wire != 0 or not isinstance(v, int):
            continue
        if num == 1:
            seconds = v - (1 << 64) if v >= 1 << 63 else v
        elif num == 2:
            nanos = v & 0xFFFFFFFF
    return max(0, min(seconds * 1_000_000_000 + nanos, _MAX_NS))  # what the store can hold


def decode_protobuf(raw: bytes) -> list[LogEntry]:
    """The entries of a (decompressed) PushRequest."""
    out: list[LogEntry] = []
    for num, _wire, stream in _fields(raw):
        if num != 1:
            continue
        if not isinstance(stream, bytes):
            raise BadEncoding("the body is not a Loki PushRequest (a stream is a number)")
        labels_text = ""
        entries: list[bytes] = []
        for snum, _swire, v in _fields(stream):
            if snum == 1:
                labels_text = _text(v)
            elif snum == 2 and isinstance(v, bytes):
                entries.append(v)
        labels = stream_labels(labels_text)
        for entry in entries:
            ts = 0
            line = ""
            meta: list[tuple[str, str]] = []
            for enum, _ewire, v in _fields(entry):
                if enum == 1:
                    ts = _timestamp(v)
                elif enum == 2:
                    line = _check_line(_text(v))
                elif enum == 3 and isinstance(v, bytes):
                    pair = {n: _text(x) for n, _w, x in _fields(v) if n in (1, 2)}
                    meta.append((pair.get(1, ""), pair.get(2, "")))
            out.append(LogEntry(labels, ts, line, tuple(meta)))
            _check_count(out)
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
