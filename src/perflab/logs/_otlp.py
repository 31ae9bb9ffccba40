"""OTLP logs in: ``ExportLogsServiceRequest`` (binary protobuf or OTLP/JSON, over HTTP
``POST /v1/logs`` or gRPC ``LogsService/Export``) decoded into ``LogEntry`` lines.

The mapping is Loki's own OTLP ingestion (docs "Ingesting logs to Loki using OpenTelemetry
Collector"): the resource's ``service.name`` is the ``service_name`` label (``unknown_service``
without one), ``service.namespace`` and ``deployment.environment`` are labels too; every other
resource attribute, the record's attributes, ``severity_text``/``severity_number`` and the hex
``trace_id``/``span_id`` are the line's structured metadata, names sanitised as field names
are (``http.route`` is ``http_route``). The
body is the line: a string as it is, any other value as JSON. A record's time is its
``time_unix_nano``, else its ``observed_time_unix_nano``, else the time it arrived.

A record whose line is over ``MAX_LINE`` bytes is rejected in ``partial_success``, the
request's other records are kept; more than ``MAX_RECORDS`` records in one request is 413 /
``RESOURCE_EXHAUSTED``; a body that does not decode is ``DecodeError`` (400 /
``INVALID_ARGUMENT``).
"""

from __future__ import annotations

import base64
import json
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from perflab.logs._fields import sanitize_key
from perflab.logs._push import MAX_LABEL_VALUE, MAX_LINE, _labels_json
from perflab.logs._records import clamp_ns
from perflab.logs._sink import LogEntry
from perflab.serving import (
    OtlpSignal,
    PayloadTooLarge,
    hex_ids_to_base64,
    json_objects,
    parse_otlp_json,
    parse_protobuf,
    partial_success,
    partial_success_json,
)

if TYPE_CHECKING:
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue

MAX_RECORDS = 200_000   # log records in one request
MAX_ATTRS = 128         # metadata pairs of one record (resource + record attributes)
MAX_VALUE = 16_384      # characters of one metadata value (longer ones are cut)
_MAX_DEPTH = 8
_LABEL_ATTRS = {"service.name": "service_name", "service.namespace": "service_namespace",
                "deployment.environment": "deployment_environment"}
# OTel's severity number ranges (logs data model, "SeverityNumber") as level names
_SEVERITY = ((21, "fatal"), (17, "error"), (13, "warn"), (9, "info"), (5, "debug"),
             (1, "trace"))


class DecodeError(Exception):
    """The body is not an ``ExportLogsServiceRequest``: 400 / ``INVALID_ARGUMENT``."""


@dataclass
class DecodedLogs:
    entries: list[LogEntry] = field(default_factory=list)
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)

    def message(self) -> str:
        return "; ".join(self.reasons)


def decode_protobuf(body: bytes) -> DecodedLogs:
    return decode_request(parse_protobuf(body, ExportLogsServiceRequest, DecodeError))


def decode_json(body: bytes) -> DecodedLogs:
    return decode_request(parse_otlp_json(body, ExportLogsServiceRequest, DecodeError,
                                          prepare=_hex_ids_to_base64))


def _hex_ids_to_base64(doc: dict[str, Any]) -> None:
    for rl in json_objects(doc, "resourceLogs", "resource_logs"):
        for sl in json_objects(rl, "scopeLogs", "scope_logs"):
            for rec in json_objects(sl, "logRecords", "log_records"):
                hex_ids_to_base64(rec, ("traceId", "trace_id", "spanId", "span_id"))


def decode_request(request: ExportLogsServiceRequest) -> DecodedLogs:
    out = DecodedLogs()
    total = sum(len(sl.log_records) for rl in request.resource_logs for sl in rl.scope_logs)
    if total > MAX_RECORDS:
        raise PayloadTooLarge(f"the request holds {total:,} log records; at most "
                              f"{MAX_RECORDS:,} are taken in one request: send smaller batches")
    now = time.time_ns()
    for rl in request.resource_logs:
        labels: dict[str, str] = {"service_name": "unknown_service"}
        shared: list[tuple[str, str]] = []
        for kv in rl.resource.attributes:
            value = _text(kv.value, MAX_VALUE)
            if kv.key in _LABEL_ATTRS and value:  # an empty label is no label (Loki)
                labels[_LABEL_ATTRS[kv.key]] = value[:MAX_LABEL_VALUE]
            else:
                shared.append((_name(kv.key), value))
        stream = _labels_json(labels)  # names and lengths within its limits: never refused
        for sl in rl.scope_logs:
            scope = [("scope_name", sl.scope.name)] if sl.scope.name else []
            for rec in sl.log_records:
                entry = _entry(rec, stream, [*shared, *scope], now, out)
                if entry is not None:
                    out.entries.append(entry)
    return out


def _entry(rec: Any, stream: str, shared: list[tuple[str, str]], now: int,
           out: DecodedLogs) -> LogEntry | None:
    line = _text(rec.body, MAX_LINE + 1) if rec.HasField("body") else ""
    if len(line) > MAX_LINE // 4 and len(line.encode("utf-8", "surrogatepass")) > MAX_LINE:
        out.rejected += 1
        reason = f"log records over {MAX_LINE:,} bytes (the most one line may be)"
        if reason not in out.reasons:
            out.reasons.append(reason)
        return None
    meta = list(shared)
    meta.extend((_name(kv.key), _text(kv.value, MAX_VALUE)) for kv in rec.attributes)
    severity = rec.severity_text or _severity_name(rec.severity_number)
    if severity:
        meta.append(("severity_text", severity))
    if rec.severity_number:
        meta.append(("severity_number", str(rec.severity_number)))
    if len(rec.trace_id) == 16 and any(rec.trace_id):
        meta.append(("trace_id", rec.trace_id.hex()))
    if len(rec.span_id) == 8 and any(rec.span_id):
        meta.append(("span_id", rec.span_id.hex()))
    ts = rec.time_unix_nano or rec.observed_time_unix_nano or now
    return LogEntry(stream, clamp_ns(ts), line, tuple(meta[:MAX_ATTRS]))


def _severity_name(number: int) -> str:
    for floor, name in _SEVERITY:
        if number >= floor:
            return name
    return ""


def _name(key: str) -> str:
    return sanitize_key(key[:1024])


def _text(v: AnyValue, limit: int) -> str:
    """An ``AnyValue`` as text (strings as they are, everything else as JSON), cut to
    ``limit`` characters."""
    which = v.WhichOneof("value")
    if which == "string_value":
        return str(v.string_value)[:limit]
    if which is None:
        return ""
    return json.dumps(_plain(v, 0), separators=(",", ":"), ensure_ascii=False)[:limit]


def _plain(v: AnyValue, depth: int) -> object:
    which = v.WhichOneof("value")
    if depth > _MAX_DEPTH or which is None:
        return None
    if which == "kvlist_value":
        return {kv.key: _plain(kv.value, depth + 1) for kv in v.kvlist_value.values}
    if which == "array_value":
        return [_plain(x, depth + 1) for x in v.array_value.values]
    if which == "bytes_value":
        return base64.b64encode(v.bytes_value).decode("ascii")
    if which == "double_value":
        d = float(v.double_value)
        return d if math.isfinite(d) else str(d)  # JSON has no NaN
    return getattr(v, which)


def response(decoded: DecodedLogs) -> ExportLogsServiceResponse:
    """The answer: ``partial_success`` set only when records were rejected."""
    return partial_success(ExportLogsServiceResponse(), decoded.rejected, decoded.message(),
                           field="rejected_log_records")


def response_json(resp: ExportLogsServiceResponse) -> dict[str, Any]:
    return partial_success_json(resp, field="rejected_log_records",
                                json_field="rejectedLogRecords")


LOGS = OtlpSignal("logs", decode_protobuf, decode_json, response, response_json, DecodeError)
