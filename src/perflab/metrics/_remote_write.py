"""Prometheus remote-write 1.0: the ``WriteRequest`` protobuf in a snappy block, both ways.

The messages are ``prometheus/prompb``'s (``remote.proto``, ``types.proto``), declared here
through protobuf's descriptor API (no generated code, no ``protoc``); decoding is protobuf's
own (upb). The snappy block declares its decompressed length first: it is read and refused
above the limit before anything is decompressed (``serving``'s rule for compressed bodies).

``decode_write_request`` raises only ``BadEncoding`` (400) and ``PayloadTooLarge`` (413).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import cramjam
import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from perflab.serving import BadEncoding, PayloadTooLarge, snappy_decompress_bounded

MAX_SERIES = 200_000          # time series in one request
MAX_SAMPLES = 2_000_000       # samples in one request
MAX_LABELS = 128              # labels of one series
MAX_LABEL_BYTES = 16 * 1024   # one label name or value
METRIC_TYPES = ("unknown", "counter", "gauge", "histogram", "gaugehistogram", "summary", "info",
                "stateset")

_F = descriptor_pb2.FieldDescriptorProto


def _build() -> tuple[type[Any], ...]:
    fd = descriptor_pb2.FileDescriptorProto(name="perflab_prompb.proto", package="prometheus",
                                            syntax="proto3")

    def message(name: str, fields: list[tuple[str, int, int, int, str]]) -> None:
        m = fd.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = type_name

    rep, opt = _F.LABEL_REPEATED, _F.LABEL_OPTIONAL
    message("Label", [("name", 1, _F.TYPE_STRING, opt, ""), ("value", 2, _F.TYPE_STRING, opt, "")])
    message("Sample", [("value", 1, _F.TYPE_DOUBLE, opt, ""),
                       ("timestamp", 2, _F.TYPE_INT64, opt, "")])
    message("TimeSeries", [("labels", 1, _F.TYPE_MESSAGE, rep, ".prometheus.Label"),
                           ("samples", 2, _F.TYPE_MESSAGE, rep, ".prometheus.Sample")])
    message("MetricMetadata", [("type", 1, _F.TYPE_INT32, opt, ""),
                               ("metric_family_name", 2, _F.TYPE_STRING, opt, ""),
                               ("help", 4, _F.TYPE_STRING, opt, ""),
                               ("unit", 5, _F.TYPE_STRING, opt, "")])
    message("WriteRequest", [("timeseries", 1, _F.TYPE_MESSAGE, rep, ".prometheus.TimeSeries"),
                             ("metadata", 3, _F.TYPE_MESSAGE, rep,
                              ".prometheus.MetricMetadata")])
    # the same wire format with labels, samples and metadata kept as bytes (decode_series_fast)
    message("LazyTimeSeries", [("labels", 1, _F.TYPE_BYTES, rep, ""),
                               ("samples", 2, _F.TYPE_BYTES, rep, "")])
    message("LazyWriteRequest", [("timeseries", 1, _F.TYPE_MESSAGE, rep,
                                  ".prometheus.LazyTimeSeries"),
                                 ("metadata", 3, _F.TYPE_BYTES, rep, "")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)

    def cls(name: str) -> type[Any]:
        return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"prometheus.{name}"))

    return tuple(cls(n) for n in ("WriteRequest", "TimeSeries", "LazyWriteRequest", "Label",
                                  "MetricMetadata", "Sample"))


WriteRequest, TimeSeries, LazyWriteRequest, Label, MetricMetadata, Sample = _build()


@dataclass(frozen=True, slots=True)
class DecodedSeries:
    labels: tuple[tuple[str, str], ...]
    samples: list[tuple[int, float]]   # (timestamp ms, value)


def _parse(message: Any, raw: bytes, what: str) -> Any:
    """``message`` read from ``raw``; ``BadEncoding`` naming ``what`` when it does not decode."""
    try:
        message.ParseFromString(raw)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise BadEncoding(f"{what} does not decode: {exc}") from None
    return message


def _parse_request(message: Any, raw: bytes) -> Any:
    """A ``WriteRequest`` (either view of it) read from ``raw``, its series counted."""
    req = _parse(message, raw, "the body (a remote-write WriteRequest)")
    if len(req.timeseries) > MAX_SERIES:
        raise PayloadTooLarge(f"{len(req.timeseries):,} series in one request; at most "
                              f"{MAX_SERIES:,}")
    return req


@dataclass(frozen=True, slots=True)
class SeriesColumns:
    """The series of a ``WriteRequest`` column-wise: each series' raw label fields, and its
    ``counts[i]`` samples one after the other in ``ts_ms`` (int64) and ``values`` (float64)."""

    labels: list[tuple[bytes, ...]]
    counts: np.ndarray
    ts_ms: np.ndarray
    values: np.ndarray


def decode_series_fast(raw: bytes) -> tuple[SeriesColumns, list[bytes]]:
    """The series of a decompressed ``WriteRequest`` column-wise, and its raw metadata.

    The same bytes read with ``LazyWriteRequest``, whose labels and samples are declared
    ``bytes``: protobuf then builds one bytes object per field instead of a message object (a
    series of 7 labels costs ~4 µs instead of ~25, a sample ~0.05 µs instead of ~2). The tuple
    of a series' label fields is the key of the receivers' label-set cache (``decode_labels``
    reads a set the first time it is seen); the samples are read all at once by numpy
    (``_decode_samples``)."""
    req = _parse_request(LazyWriteRequest(), raw)
    labels: list[tuple[bytes, ...]] = []
    counts: list[int] = []
    parts: list[bytes] = []
    for ts in req.timeseries:
        samples = ts.samples
        labels.append(tuple(ts.labels))
        counts.append(len(samples))
        parts.extend(samples)
        if len(parts) > MAX_SAMPLES:
            raise PayloadTooLarge(f"over {MAX_SAMPLES:,} samples in one request")
    ts_ms, values = _decode_samples(parts)
    return (SeriesColumns(labels, np.array(counts, dtype=np.int64), ts_ms, values),
            list(req.metadata))


_COLS9 = np.arange(9)
_SHIFTS = (7 * _COLS9).astype(np.uint64)
_COLS8 = np.arange(8)


def _decode_samples(parts: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(timestamps ms, values) of encoded ``Sample`` messages, vectorised.

    Encoders write a sample as ``09 <8-byte double> 10 <varint timestamp>``, or, when the
    value is 0 (proto3 leaves defaults out), ``10 <varint>``. Samples of exactly these shapes
    with a timestamp of at most 9 varint bytes (63 bits: every time after 1970) are read from
    one byte matrix; any other (fields in another order, unknown fields, a negative time) is
    parsed by protobuf one by one, so the answer is protobuf's for every input. The double's
    bytes are taken as they are: NaN payloads (staleness markers) are kept."""
    n = len(parts)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    lens = np.fromiter(map(len, parts), dtype=np.int64, count=n)
    buf = np.frombuffer(b"".join(parts) + bytes(24), dtype=np.uint8)  # padding: reads past
    starts = np.cumsum(lens) - lens                                    # the end stay inside
    has_value = (buf[starts] == 0x09) & (lens >= 11) & (buf[starts + 9] == 0x10)
    time_only = (buf[starts] == 0x10) & (lens >= 2)
    varint_at = np.where(has_value, starts + 10, starts + 1)
    k = lens - (varint_at - starts)  # varint bytes, when the shape is right
    digits = buf[varint_at[:, None] + _COLS9]
    more = digits >= 0x80
    inside = _COLS9[None, :] < k[:, None]
    last = np.clip(k - 1, 0, 8)
    ok = ((has_value | time_only) & (k >= 1) & (k <= 9)
          & np.all(more | (_COLS9[None, :] >= (k - 1)[:, None]), axis=1)   # all but the last
          & ~more[np.arange(n), last])                                     # the last ends it
    ts = np.where(inside, (digits & 0x7F).astype(np.uint64) << _SHIFTS, np.uint64(0)).sum(
        axis=1, dtype=np.uint64).view(np.int64)
    values = np.ascontiguousarray(buf[starts[:, None] + 1 + _COLS8]).view("<f8").reshape(n)
    values[~has_value] = 0.0
    odd = np.flatnonzero(~ok)
    if len(odd):
        sample = Sample()
        for i in odd.tolist():
            _parse(sample, parts[i], "a sample of the WriteRequest")
            ts[i] = sample.timestamp
            values[i] = sample.value
    return ts, values


def decode_labels(fields: tuple[bytes, ...]) -> tuple[tuple[str, str], ...]:
    """The (name, value) pairs of a series' raw label fields."""
    out = []
    label = Label()
    for raw in fields:
        _parse(label, raw, "a label of the WriteRequest")
        out.append((label.name, label.value))
    return tuple(out)


def decode_metadata(messages: list[bytes]) -> list[tuple[str, str, str, str]]:
    out = []
    meta = MetricMetadata()
    for raw in messages:
        _parse(meta, raw, "the metadata of the WriteRequest")
        kind = METRIC_TYPES[meta.type] if 0 <= meta.type < len(METRIC_TYPES) else "unknown"
        out.append((meta.metric_family_name, kind, meta.help, meta.unit))
    return out


def decode_write_request(body: bytes, *, limit: int) -> tuple[list[DecodedSeries],
                                                             list[tuple[str, str, str, str]]]:
    """The series and metadata of a snappy-compressed ``WriteRequest`` (protobuf's own
    decoder: the reference the fast one is tested against)."""
    req = _parse_request(WriteRequest(), snappy_decompress_bounded(body, limit))
    out: list[DecodedSeries] = []
    total = 0
    for ts in req.timeseries:
        # the label set is the key of the receivers' cache: a tuple, checked once per set
        labels = tuple([(lab.name, lab.value) for lab in ts.labels])
        samples = [(s.timestamp, s.value) for s in ts.samples]
        total += len(samples)
        if total > MAX_SAMPLES:
            raise PayloadTooLarge(f"over {MAX_SAMPLES:,} samples in one request")
        out.append(DecodedSeries(labels, samples))
    meta = []
    for m in req.metadata:
        kind = METRIC_TYPES[m.type] if 0 <= m.type < len(METRIC_TYPES) else "unknown"
        meta.append((m.metric_family_name, kind, m.help, m.unit))
    return out, meta


def encode_write_request(series: Iterable[tuple[Iterable[tuple[str, str]],
                                                Iterable[tuple[int, float]]]]) -> bytes:
    """A snappy-compressed ``WriteRequest`` of (labels, [(timestamp ms, value)]) series."""
    req = WriteRequest()
    for labels, samples in series:
        ts = req.timeseries.add()
        for name, value in labels:
            ts.labels.add(name=name, value=value)
        for t, v in samples:
            ts.samples.add(timestamp=t, value=v)
    return bytes(cramjam.snappy.compress_raw(req.SerializeToString()))


def check_labels(labels: tuple[tuple[str, str], ...]) -> None:
    """The bounds on a label set (``PayloadTooLarge``), checked when a set is first seen."""
    if len(labels) > MAX_LABELS:
        raise PayloadTooLarge(f"a series with {len(labels)} labels; at most {MAX_LABELS}")
    for name, value in labels:
        if len(name) > MAX_LABEL_BYTES or len(value) > MAX_LABEL_BYTES:
            raise PayloadTooLarge(f"a label over {MAX_LABEL_BYTES:,} characters")
