"""Loki PushRequests encoded by hand, for the push tests and benchmarks/bench_logs_ingest.py."""

from __future__ import annotations

from perflab.serving._otlp import _varint  # the same protobuf varint the receivers' tests use


def _field(num: int, payload: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def push_request(streams: list[tuple[str, list[tuple[int, str, list[tuple[str, str]]]]]],
                 ) -> bytes:
    """A PushRequest (pkg/push/push.proto) encoded field by field, as Promtail's Go code
    writes it: labels, entries (Timestamp, line, structured metadata), hash."""
    out = b""
    for labels, entries in streams:
        body = _field(1, labels.encode())
        for ts, line, meta in entries:
            stamp = (_varint(1 << 3) + _varint(ts // 10**9) + _varint(2 << 3)
                     + _varint(ts % 10**9))
            entry = _field(1, stamp) + _field(2, line.encode())
            for name, value in meta:
                entry += _field(3, _field(1, name.encode()) + _field(2, value.encode()))
            body += _field(2, entry)
        body += _varint(3 << 3) + _varint(12345)
        out += _field(1, body)
    return out
