"""Jaeger's query-service JSON, as its UI and Grafana's Jaeger data source read it.

The shapes are Jaeger's ``internal/uimodel`` (``Trace``, ``Span``, ``Process``, ``KeyValue``,
``DependencyLink``) inside its ``structuredResponse`` envelope ``{"data", "total", "limit",
"offset", "errors"}``; OTLP spans are mapped as Jaeger's own OTLP translator maps them: the kind
as a ``span.kind`` tag, the status as ``otel.status_code`` (and ``error: true``), the scope as
``otel.scope.name``/``otel.scope.version``, the parent as a ``CHILD_OF`` reference and links as
``FOLLOWS_FROM`` ones, events as logs (their name in an ``event`` field). Times are
microseconds. Integers beyond JavaScript's 2^53 are sent as strings, as Jaeger does.

Parameters are read as Jaeger reads them (``query_parser.go``): ``start``/``end`` in
microseconds, ``minDuration``/``maxDuration`` as Go durations (``1.5ms``, ``2s``), ``tags`` a
JSON object, ``tag`` repeated ``key:value``, ``limit`` (default 100), ``endTs``/``lookback`` in
milliseconds for dependencies; unknown parameters (Grafana's ``lookback=custom``) are ignored.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from perflab.trace._model import (
    KIND_NAMES,
    KIND_UNSPECIFIED,
    STATUS_ENUM,
    STATUS_ERROR,
    STATUS_UNSET,
    AttrValue,
    Process,
    Span,
    Trace,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from perflab.trace._contracts import (
        JaegerDependenciesData,
        JaegerDependenciesDoc,
        JaegerError,
        JaegerServicesData,
        JaegerServicesDoc,
        JaegerTracesDoc,
        JaegerTracesKeyValue,
        JaegerTracesSpan,
        JaegerTracesSpanReference,
        JaegerTracesTrace,
        JaegerTracesTraceProcessesValue,
    )

_JS_SAFE = 2**53 - 1
DEFAULT_LIMIT = 100  # Jaeger's defaultQueryLimit


class JaegerParamError(ValueError):
    """A parameter Jaeger would refuse: the answer is 400 with Jaeger's error envelope."""


# Jaeger's structuredResponse, one per kind of data it holds
def traces_envelope(traces: list[JaegerTracesTrace], *,
                    errors: list[JaegerError] | None = None) -> JaegerTracesDoc:
    return {"data": traces, "total": len(traces), "limit": 0, "offset": 0, "errors": errors}


def services_envelope(names: list[str | JaegerServicesData]) -> JaegerServicesDoc:
    return {"data": names, "total": len(names), "limit": 0, "offset": 0, "errors": None}


def dependencies_envelope(links: list[JaegerDependenciesData]) -> JaegerDependenciesDoc:
    return {"data": links, "total": len(links), "limit": 0, "offset": 0, "errors": None}


def error_envelope(code: int, msg: str) -> JaegerTracesDoc:
    """An error, in the envelope every Jaeger answer has (no data)."""
    return {"data": None, "total": 0, "limit": 0, "offset": 0,
            "errors": [{"code": code, "msg": msg}]}


def key_value(key: str, value: AttrValue) -> JaegerTracesKeyValue:
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64",
                "value": value if -_JS_SAFE <= value <= _JS_SAFE else str(value)}
    if isinstance(value, float):
        return {"key": key, "type": "float64", "value": value}
    if isinstance(value, list):
        return {"key": key, "type": "string",
                "value": json.dumps(value, separators=(",", ":"), ensure_ascii=False)}
    return {"key": key, "type": "string", "value": value}


def _tags(attrs: dict[str, AttrValue]) -> list[JaegerTracesKeyValue]:
    return [key_value(k, v) for k, v in attrs.items()]


def span_tags(span: Span) -> list[JaegerTracesKeyValue]:
    tags = _tags(span.attrs)
    p = span.process
    if p.scope_name:
        tags.append(key_value("otel.scope.name", p.scope_name))
    if p.scope_version:
        tags.append(key_value("otel.scope.version", p.scope_version))
    if span.kind != KIND_UNSPECIFIED:
        tags.append(key_value("span.kind", KIND_NAMES[span.kind]))
    if span.status != STATUS_UNSET:
        tags.append(key_value("otel.status_code", STATUS_ENUM[span.status].removeprefix(
            "STATUS_CODE_")))
    if span.status == STATUS_ERROR:
        tags.append(key_value("error", value=True))
    if span.status_message:
        tags.append(key_value("otel.status_description", span.status_message))
    return tags


def skew_warnings(trace: Trace) -> dict[bytes, list[str]]:
    """Spans that lie outside their parent in time (a clock-skewed host): a warning each,
    shown on the span (Jaeger's clock-skew adjuster would move them; we show them as sent)."""
    by_id = {s.span_id: s for s in trace.spans}
    out: dict[bytes, list[str]] = {}
    for s in trace.spans:
        parent = by_id.get(s.parent_id) if s.parent_id is not None else None
        if parent is None or parent.service == s.service:
            continue
        if s.start_ns < parent.start_ns or s.end_ns > parent.end_ns:
            lead = (parent.start_ns - s.start_ns) / 1e3 if s.start_ns < parent.start_ns \
                else (s.end_ns - parent.end_ns) / 1e3
            out.setdefault(s.span_id, []).append(
                f"clock skew: this span lies outside its parent by {lead:.0f} µs (the hosts' "
                "clocks disagree, or the parent did not wait for it)")
    return out


def trace_json(trace: Trace) -> JaegerTracesTrace:
    """One trace in Jaeger's UI model."""
    keys: dict[tuple[Any, ...], str] = {}
    processes: dict[str, JaegerTracesTraceProcessesValue] = {}
    skew = skew_warnings(trace)
    spans: list[JaegerTracesSpan] = []
    tid = trace.trace_id.hex()
    for s in trace.spans:
        pkey = _process_key(s.process)
        pid = keys.get(pkey)
        if pid is None:
            pid = keys[pkey] = f"p{len(keys) + 1}"
            processes[pid] = process_json(s.process)
        refs: list[JaegerTracesSpanReference] = []
        if s.parent_id is not None:
            refs.append({"refType": "CHILD_OF", "traceID": tid, "spanID": s.parent_id.hex()})
        refs.extend({"refType": "FOLLOWS_FROM", "traceID": lk.trace_id.hex(),
                     "spanID": lk.span_id.hex()} for lk in s.links)
        warnings = s.warnings() + skew.get(s.span_id, [])
        spans.append({
            "traceID": tid, "spanID": s.span_id.hex(), "flags": 1,
            "operationName": s.name, "references": refs,
            "startTime": s.start_ns // 1000, "duration": s.duration_ns // 1000,
            "tags": span_tags(s),
            "logs": [{"timestamp": e.ts_ns // 1000,
                      "fields": [key_value("event", e.name), *_tags(e.attrs)]}
                     for e in s.events],
            "processID": pid, "warnings": warnings or None,
        })
    trace_warnings = None
    if trace.truncated:
        trace_warnings = [(f"this trace has {trace.total_spans} spans; the first "
                     f"{len(trace.spans)} by start time are shown")]
    return {"traceID": tid, "spans": spans, "processes": processes,
            "warnings": trace_warnings}


def _process_key(p: Process) -> tuple[Any, ...]:
    return (p.service, json.dumps(p.attrs, sort_keys=True))


def process_json(p: Process) -> JaegerTracesTraceProcessesValue:
    return {"serviceName": p.service,
            "tags": [key_value(k, v) for k, v in p.attrs.items() if k != "service.name"]}


def dependencies_json(edges: Iterable[tuple[str, str, int, int]]
                      ) -> list[JaegerDependenciesData]:
    return [{"parent": a, "child": b, "callCount": n} for a, b, n, _ in edges]


# -- parameters ----------------------------------------------------------------------------------

_GO_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
             "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
_GO_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")


def go_duration_ns(text: str, name: str) -> int:
    """A Go ``time.ParseDuration`` string (``300ms``, ``1.5h``, ``2h45m``) in nanoseconds."""
    raw = text.strip()
    sign = -1 if raw.startswith("-") else 1
    body = raw.lstrip("+-")
    if body == "0":
        return 0
    if not body or len(body) > 64:
        raise JaegerParamError(f"unable to parse param '{name}': invalid duration {text[:40]!r}")
    total = 0.0
    pos = 0
    while pos < len(body):
        m = _GO_PART.match(body, pos)
        if m is None or m.group(1) in ("", "."):
            raise JaegerParamError(f"unable to parse param '{name}': invalid duration "
                                   f"{text[:40]!r}")
        total += float(m.group(1)) * _GO_UNITS[m.group(2)]
        pos = m.end()
    if total > 2**63 - 1:
        raise JaegerParamError(f"unable to parse param '{name}': duration out of range")
    return sign * int(total)


def int_param(raw: str | None, name: str, *, scale: int = 1) -> int | None:
    """An integer parameter (Go's ParseInt: optional sign, ASCII digits), times ``scale``."""
    if raw is None or raw == "":
        return None
    text = raw.strip()
    digits = text.lstrip("+-")
    if not digits.isascii() or not digits.isdigit() or len(text) - len(digits) > 1 \
            or len(digits) > 19:
        raise JaegerParamError(f"unable to parse param '{name}': invalid syntax {raw[:40]!r}")
    value = int(text) * scale
    if not -(2**63) <= value <= 2**63 - 1:
        raise JaegerParamError(f"unable to parse param '{name}': value out of range")
    return value


def parse_tags(simple: list[str], json_tags: list[str]) -> dict[str, str]:
    """``tag=key:value`` (repeated) and ``tags={"key": "value"}``, as Jaeger reads them."""
    out: dict[str, str] = {}
    for tag in simple:
        key, sep, value = tag.partition(":")
        if not sep:
            raise JaegerParamError("malformed 'tag' parameter, expecting key:value, received: "
                                   f"{tag[:100]}")
        out[key] = value
    for raw in json_tags:
        try:
            parsed = json.loads(raw)
        except (ValueError, RecursionError):
            raise JaegerParamError("malformed 'tags' parameter, cannot unmarshal JSON") \
                from None
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise JaegerParamError("malformed 'tags' parameter, cannot unmarshal JSON: it must "
                                   "be an object of strings")
        out.update(parsed)
    return out
