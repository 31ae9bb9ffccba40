"""Fluentd's forward protocol (fluentd docs, "Forward Protocol Specification v1"), decoded at
the edge: msgpack arrays read off one TCP connection into ``LogEntry`` lines.

    Message                  [tag, time, record, option?]
    Forward                  [tag, [[time, record], ...], option?]
    PackedForward            [tag, bin (msgpack [time, record] entries one after another), option?]
    CompressedPackedForward  PackedForward with option {"compressed": "gzip"}
    option                   {"size": n, "chunk": "<id>", "compressed": "gzip"}: a ``chunk`` is
                             answered {"ack": "<id>"} once its entries are in the ingest queue

``time`` is seconds (an integer or a float) or an EventTime (ext type 0: 32-bit seconds and
nanoseconds, big endian). The tag is the ``tag`` label; a record is a line and its metadata
by ``_records.split_record``.

The shared-key handshake (``--fluent-shared-key``): the server opens with
``["HELO", {"nonce": bin, "auth": "", "keepalive": true}]``; the client answers ``["PING",
hostname, salt, sha512_hex(salt + hostname + nonce + key), "", ""]``; the server answers
``["PONG", ok, reason, server_hostname, sha512_hex(salt + server_hostname + nonce + key)]``
and, when the digest is wrong, closes the connection.

``ForwardError`` is what a connection that does not speak the protocol raises (it is closed);
a line over ``MAX_LINE`` bytes is rejected and counted, the rest of its message is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field

import msgpack

from perflab.logs._push import MAX_LABEL_VALUE, MAX_LINE, _labels_json
from perflab.logs._records import clamp_ns, split_record
from perflab.logs._sink import LogEntry
from perflab.serving import Refused, gunzip_bounded

MAX_BUFFER = 16 * 1024 * 1024      # one msgpack message, as read off the socket
MAX_DECOMPRESSED = 64 * 1024 * 1024  # a CompressedPackedForward's entries, inflated


class ForwardError(ValueError):
    """What a peer sent is not the forward protocol (or fails its handshake)."""


@dataclass
class Batch:
    """What one forward message holds: its lines, the lines rejected, and the chunk to ack."""

    entries: list[LogEntry] = field(default_factory=list)
    rejected: int = 0
    chunk: str | None = None


def _ext_hook(code: int, data: bytes) -> object:
    if code == 0 and len(data) == 8:
        seconds, nanos = struct.unpack(">II", data)
        return seconds * 1_000_000_000 + nanos
    return msgpack.ExtType(code, data)


def unpacker(max_buffer: int = MAX_BUFFER) -> msgpack.Unpacker:
    """A streaming reader of one connection, its buffer bounded. Strings that are not UTF-8
    decode with ``surrogateescape``: Fluentd sends PackedForward's entries as a msgpack str
    (``write_raw_header``), which must come back byte for byte; text is ``_clean``ed."""
    return msgpack.Unpacker(raw=False, max_buffer_size=max_buffer, ext_hook=_ext_hook,
                            unicode_errors="surrogateescape", strict_map_key=False)


def _clean(text: str) -> str:
    """Invalid UTF-8 (surrogate-escaped by the reader) as U+FFFD, as every receiver keeps it."""
    if text.isascii():
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _time_ns(t: object, now: int) -> int:
    if isinstance(t, bool):
        raise ForwardError("an event time is a boolean")
    if isinstance(t, int):  # EventTime (already ns) or integer seconds
        return clamp_ns(t if t > 10**12 else t * 1_000_000_000)
    if isinstance(t, float):
        return clamp_ns(t * 1e9)
    if t is None:
        return now
    raise ForwardError(f"an event time is a {type(t).__name__}, not a number or EventTime")


def _entry(stream: str, t: object, record: object, now: int, batch: Batch) -> None:
    if not isinstance(record, dict):
        raise ForwardError("an event's record is not a map")
    ts = _time_ns(t, now)
    line, meta = split_record({_clean(str(k)): _value(v) for k, v in record.items()})
    if len(line) > MAX_LINE // 4 and len(line.encode("utf-8", "surrogatepass")) > MAX_LINE:
        batch.rejected += 1
        return
    batch.entries.append(LogEntry(stream, ts, line, meta))


def _value(v: object) -> object:
    """A msgpack value as JSON would hold it: text cleaned, bytes as text, maps' keys as
    text (records nest maps: Docker's and Kubernetes' metadata)."""
    if isinstance(v, str):
        return _clean(v)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, dict):
        return {_clean(str(k)): _value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_value(x) for x in v]
    return v


def _packed(stream: str, data: bytes, now: int, batch: Batch) -> None:
    reader = unpacker(max(len(data), 1))
    reader.feed(data)
    try:
        for event in reader:
            if not isinstance(event, (list, tuple)) or len(event) < 2:
                raise ForwardError("a packed entry is not [time, record]")
            _entry(stream, event[0], event[1], now, batch)
    except (msgpack.UnpackException, ValueError) as exc:
        if isinstance(exc, ForwardError):
            raise
        raise ForwardError(f"a packed entry is not msgpack: {exc}") from None


def decode_message(msg: object, now: int) -> Batch:
    """One forward-protocol message (Message, Forward, PackedForward or
    CompressedPackedForward) as its lines and the chunk id to acknowledge."""
    if not isinstance(msg, (list, tuple)) or len(msg) not in (2, 3, 4) \
            or not isinstance(msg[0], str):
        raise ForwardError("a message is not [tag, ...] (Message, Forward or PackedForward mode)")
    tag, body = msg[0], msg[1]
    stream = _labels_json({"tag": _clean(tag[:MAX_LABEL_VALUE]) or "-"})
    batch = Batch()
    option: object = None
    if isinstance(body, (list, tuple)):  # Forward
        option = msg[2] if len(msg) > 2 else None
        for event in body:
            if not isinstance(event, (list, tuple)) or len(event) < 2:
                raise ForwardError("a Forward-mode entry is not [time, record]")
            _entry(stream, event[0], event[1], now, batch)
    elif isinstance(body, bytes) or (isinstance(body, str) and len(msg) <= 3):
        option = msg[2] if len(msg) > 2 else None
        data = body if isinstance(body, bytes) else body.encode("utf-8", "surrogateescape")
        if isinstance(option, dict) and option.get("compressed") == "gzip":
            try:
                data = gunzip_bounded(data, MAX_DECOMPRESSED)
            except Refused as exc:
                raise ForwardError(f"CompressedPackedForward: {exc.message}") from None
        _packed(stream, data, now, batch)
    else:  # Message: [tag, time, record, option?]
        if len(msg) < 3:
            raise ForwardError("a Message-mode message is [tag, time, record]")
        option = msg[3] if len(msg) > 3 else None
        _entry(stream, body, msg[2], now, batch)
    if isinstance(option, dict):
        chunk = option.get("chunk")
        if isinstance(chunk, (str, bytes)):
            batch.chunk = chunk if isinstance(chunk, str) else chunk.decode("ascii", "replace")
    return batch


def ack(chunk: str) -> bytes:
    out: bytes = msgpack.packb({"ack": chunk})
    return out


# -- the shared-key handshake --------------------------------------------------------------------

def _b(v: object) -> bytes:
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode("utf-8", "surrogateescape")
    raise ForwardError("a PING field is not a string")


def _digest(salt: bytes, hostname: bytes, nonce: bytes, key: bytes) -> str:
    return hashlib.sha512(salt + hostname + nonce + key).hexdigest()


def helo(nonce: bytes) -> bytes:
    out: bytes = msgpack.packb(["HELO", {"nonce": nonce, "auth": b"", "keepalive": True}],
                               use_bin_type=True)
    return out


def pong(ping: object, *, nonce: bytes, key: bytes, server_hostname: str) -> tuple[bytes, bool]:
    """The PONG that answers a PING, and whether the client knew the shared key."""
    if not isinstance(ping, (list, tuple)) or len(ping) < 4 or ping[0] != "PING":
        raise ForwardError("the first message after HELO is not a PING")
    hostname, salt, digest = _b(ping[1]), _b(ping[2]), _b(ping[3])
    ok = hmac.compare_digest(digest, _digest(salt, hostname, nonce, key).encode("ascii"))
    reason = "" if ok else "shared_key mismatch"
    mine = _digest(salt, server_hostname.encode(), nonce, key) if ok else ""
    answer: bytes = msgpack.packb(["PONG", ok, reason, server_hostname, mine],
                                  use_bin_type=True)
    return answer, ok


def ping(*, hostname: str, nonce: bytes, key: bytes, salt: bytes = b"salt") -> bytes:
    """A client's PING (for tests and ``perflab``'s own senders)."""
    out: bytes = msgpack.packb(["PING", hostname, salt,
                                _digest(salt, hostname.encode(), nonce, key), "", ""],
                               use_bin_type=True)
    return out

