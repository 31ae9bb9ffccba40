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
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from perflab.serving import BadEncoding, PayloadTooLarge
from perflab.serving import (  # moved to serving (Loki push uses it too); re-exported
    snappy_decompress_bounded as snappy_decompress_bounded,  # noqa: PLC0414  # re-export
)

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
    # the same wire format with labels and metadata kept as bytes (see decode_series_fast)
    message("LazyTimeSeries", [("labels", 1, _F.TYPE_BYTES, rep, ""),
                               ("samples", 2, _F.TYPE_MESSAGE, rep, ".prometheus.Sample")])
    message("LazyWriteRequest", [("timeseries", 1, _F.TYPE_MESSAGE, rep,
                                  ".prometheus.LazyTimeSeries"),
                                 ("metadata", 3, _F.TYPE_BYTES, rep, "")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)

    def cls(name: str) -> type[Any]:
        return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"prometheus.{name}"))

    return tuple(cls(n) for n in ("WriteRequest", "TimeSeries", "LazyWriteRequest", "Label",
                                  "MetricMetadata"))


WriteRequest, TimeSeries, LazyWriteRequest, Label, MetricMetadata = _build()


@dataclass(frozen=True, slots=True)
class DecodedSeries:
    labels: tuple[tuple[str, str], ...]
    samples: list[tuple[int, float]]   # (timestamp ms, value)


def decode_series_fast(raw: bytes) -> tuple[list[tuple[tuple[bytes, ...],
                                                  list[tuple[int, float]]]], list[bytes]]:
    """[(label fields as raw bytes, [(ms, value)])] of each series, and the raw metadata.

    The same bytes read with ``LazyWriteRequest``, whose labels are declared ``bytes``:
    protobuf then builds one bytes object per label instead of a message object (a series of
    7 labels costs ~4 µs instead of ~25), and the tuple of them is the key of the receivers'
    label-set cache; ``decode_labels`` reads a set the first time it is seen."""
    req = LazyWriteRequest()
    try:
        req.ParseFromString(raw)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise BadEncoding(f"the body is not a remote-write WriteRequest: {exc}") from None
    if len(req.timeseries) > MAX_SERIES:
        raise PayloadTooLarge(f"{len(req.timeseries):,} series in one request; at most "
                              f"{MAX_SERIES:,}")
    out = []
    total = 0
    for ts in req.timeseries:
        samples = [(s.timestamp, s.value) for s in ts.samples]
        total += len(samples)
        if total > MAX_SAMPLES:
            raise PayloadTooLarge(f"over {MAX_SAMPLES:,} samples in one request")
        out.append((tuple(ts.labels), samples))
    return out, list(req.metadata)


def decode_labels(fields: tuple[bytes, ...]) -> tuple[tuple[str, str], ...]:
    """The (name, value) pairs of a series' raw label fields."""
    out = []
    label = Label()
    for raw in fields:
        try:
            label.ParseFromString(raw)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise BadEncoding(f"a label of the WriteRequest does not decode: {exc}") from None
        out.append((label.name, label.value))
    return tuple(out)


def decode_metadata(messages: list[bytes]) -> list[tuple[str, str, str, str]]:
    out = []
    meta = MetricMetadata()
    for raw in messages:
        try:
            meta.ParseFromString(raw)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise BadEncoding(f"invalid metadata in the WriteRequest: {exc}") from None
        kind = METRIC_TYPES[meta.type] if 0 <= meta.type < len(METRIC_TYPES) else "unknown"
        out.append((meta.metric_family_name, kind, meta.help, meta.unit))
    return out


def decode_write_request(body: bytes, *, limit: int) -> tuple[list[DecodedSeries],
                                                             list[tuple[str, str, str, str]]]:
    """The series and metadata of a snappy-compressed ``WriteRequest`` (protobuf's own
    decoder: the reference the fast one is tested against)."""
    raw = snappy_decompress_bounded(body, limit)
    req = WriteRequest()
    try:
        req.ParseFromString(raw)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise BadEncoding(f"the body is not a remote-write WriteRequest: {exc}") from None
    if len(req.timeseries) > MAX_SERIES:
        raise PayloadTooLarge(f"{len(req.timeseries):,} series in one request; at most "
                              f"{MAX_SERIES:,}")
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
