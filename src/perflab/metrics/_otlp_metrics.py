"""OTLP metrics decoded into Prometheus series, as Prometheus's own OTLP receiver translates
them (``prometheus/storage/remote/otlptranslator``, with metric suffixes, the OTel
specification's "Prometheus and OpenMetrics Compatibility").

- **Names**: the OTLP name split at every character that is not an ASCII letter or digit, joined
  with ``_``; the unit appended as a word unless the name has it already (``s`` → ``seconds``,
  ``By`` → ``bytes``, ``ms`` → ``milliseconds`` ..., ``m/s`` → ``meters_per_second``; a unit
  in braces such as ``{request}`` is an annotation and adds nothing); ``_total`` for a
  monotonic sum, ``_ratio`` for a gauge of unit ``1``; ``_`` before a leading digit.
- **Labels**: data point attributes with every character other than letters, digits and ``_``
  as ``_`` (``key_`` before a leading digit, ``key`` before one leading ``_``; attributes that
  end up with one name have their values joined with ``;``); the scope as ``otel_scope_name``
  and ``otel_scope_version``; the resource's ``service.name`` (after
  ``service.namespace/``) as ``job``, ``service.instance.id`` as ``instance`` (over any
  attribute of those names), and its other attributes on one ``target_info`` series per
  resource (value 1).
- **Types**: gauge → gauge; cumulative sum → counter when monotonic (``_total``), gauge
  when not; histogram with explicit buckets (cumulative) → ``_bucket{le}`` (cumulated,
  ``+Inf`` the count), ``_sum``, ``_count``; summary → ``{quantile}``, ``_sum``, ``_count``.
  A point flagged "no recorded value" is a staleness marker on its series.
- **Refused points** (counted in ``partial_success``, the request's other points kept): delta
  or unspecified temporality (perflab stores cumulative series, as Prometheus: the SDK's
  default temporality is cumulative), exponential histograms (native histograms are not
  stored), points without a time, more labels than ``MAX_LABELS``, and points over an hour
  older than the run they would land in.

A body that does not decode is ``DecodeError`` (400 / ``INVALID_ARGUMENT``); more points than
``MAX_POINTS`` in one request is ``PayloadTooLarge`` (413 / ``RESOURCE_EXHAUSTED``).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from perflab.serving import (
    PayloadTooLarge,
    parse_otlp_json,
    parse_protobuf,
    partial_success,
    partial_success_json,
)
from perflab.store import canonical_labels, stale_nan

MAX_POINTS = 200_000      # data points in one request (the SDK sends one per series)
MAX_LABELS = 128          # labels of one series
MAX_VALUE = 16_384        # characters of one label value (longer ones are cut)

_UNITS = {
    "d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds",
    "us": "microseconds", "ns": "nanoseconds", "By": "bytes", "KiBy": "kibibytes",
    "MiBy": "mebibytes", "GiBy": "gibibytes", "TiBy": "tibibytes", "KBy": "kilobytes",
    "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes", "m": "meters", "V": "volts",
    "A": "amperes", "J": "joules", "W": "watts", "g": "grams", "Cel": "celsius", "Hz": "hertz",
    "1": "", "%": "percent",
}
_PER_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week",
              "mo": "month", "y": "year"}
_RESOURCE_IDENTITY = ("service.name", "service.namespace", "service.instance.id")
_CUMULATIVE = 2
_NO_RECORDED_VALUE = 1

Row = tuple[str, str, int, float]  # name, canonical labels JSON, ts_ns, value


class DecodeError(Exception):
    """The body is not an ``ExportMetricsServiceRequest``: 400 / ``INVALID_ARGUMENT``."""


@dataclass
class DecodedMetrics:
    rows: list[Row] = field(default_factory=list)
    meta: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)  # family -> meta
    points: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def reject(self, reason: str, n: int = 1) -> None:
        self.rejected += n
        self.reasons[reason] = self.reasons.get(reason, 0) + n

    def message(self) -> str:
        return "; ".join(f"{n} {why}" for why, n in sorted(self.reasons.items()))


# -- names ------------------------------------------------------------------------------------

def _tokens(text: str) -> list[str]:
    out: list[str] = []
    word: list[str] = []
    for ch in text:
        if ch.isascii() and ch.isalnum():  # a Prometheus 2 name is ASCII
            word.append(ch)
        elif word:
            out.append("".join(word))
            word = []
    if word:
        out.append("".join(word))
    return out


def metric_name(name: str, unit: str, kind: str, *, monotonic: bool = False) -> str:
    """The Prometheus name of an OTLP metric (``kind``: gauge, sum, histogram, summary)."""
    tokens = _tokens(name)
    main, _, per = unit.partition("/")
    main, per = main.strip(), per.strip()
    if main and "{" not in main and "}" not in main:
        word = "_".join(_tokens(_UNITS.get(main, main)))
        if word and word not in tokens:
            tokens.append(word)
    if per and "{" not in per and "}" not in per:
        word = "_".join(_tokens(_PER_UNITS.get(per, per)))
        if word and word not in tokens:
            tokens += ["per", word]
    if kind == "sum" and monotonic:
        tokens = [t for t in tokens if t != "total"] + ["total"]
    if unit == "1" and kind == "gauge":
        tokens = [t for t in tokens if t != "ratio"] + ["ratio"]
    out = "_".join(tokens)
    return "_" + out if out[:1].isdigit() else out


@functools.lru_cache(maxsize=65_536)  # attribute keys repeat in every request
def label_name(key: str) -> str:
    out = "".join(ch if (ch.isascii() and ch.isalnum()) or ch == "_" else "_" for ch in key)
    if out[:1].isdigit():
        return "key_" + out
    if out.startswith("_") and not out.startswith("__"):
        return "key" + out
    return out


@functools.lru_cache(maxsize=4096)  # bucket bounds and quantiles repeat
def _format_float(x: float) -> str:
    """As Go's ``strconv.FormatFloat(x, 'f', -1, 64)`` (the translator's ``le``/quantile)."""
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if math.isnan(x):
        return "NaN"
    return str(np.format_float_positional(x, trim="-"))


# -- attributes ---------------------------------------------------------------------------------

def _attr_text(value: Any) -> str | None:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "string_value":
        text: str = value.string_value
    elif which == "bool_value":
        text = "true" if value.bool_value else "false"
    elif which == "int_value":
        text = str(value.int_value)
    elif which == "double_value":
        text = _format_float(value.double_value)
    elif which == "bytes_value":
        import base64  # noqa: PLC0415

        text = base64.b64encode(value.bytes_value).decode("ascii")
    else:  # arrays and maps, as JSON (as the translator does)
        text = json.dumps(json_format.MessageToDict(value).get(
            "arrayValue" if which == "array_value" else "kvlistValue"), separators=(",", ":"))
    return text[:MAX_VALUE]


def _labels(attrs: Sequence[Any]) -> dict[str, str]:
    """Attributes as labels; attributes that normalize to one name join their values with
    ``;`` in the order of their original keys."""
    by_name: dict[str, list[tuple[str, str]]] = {}
    for kv in attrs:
        text = _attr_text(kv.value)
        if text is None or not kv.key:
            continue
        by_name.setdefault(label_name(kv.key), []).append((kv.key, text))
    return {name: values[0][1] if len(values) == 1 else ";".join(v for _, v in sorted(values))
            for name, values in by_name.items()}


@dataclass(slots=True)
class _Resource:
    target: dict[str, str]       # job, instance
    info: dict[str, str]         # target_info's labels (besides job, instance)
    latest_ns: int = 0


def _resource(attrs: Sequence[Any]) -> _Resource:
    raw = {kv.key: _attr_text(kv.value) for kv in attrs}
    target: dict[str, str] = {}
    name = raw.get("service.name")
    if name:
        namespace = raw.get("service.namespace")
        target["job"] = f"{namespace}/{name}" if namespace else name
    instance = raw.get("service.instance.id")
    if instance:
        target["instance"] = instance
    info = _labels([kv for kv in attrs if kv.key not in _RESOURCE_IDENTITY])
    return _Resource(target, info)


# -- decoding -----------------------------------------------------------------------------------

def decode_protobuf(body: bytes) -> DecodedMetrics:
    return decode_request(parse_protobuf(body, ExportMetricsServiceRequest, DecodeError))


def decode_json(body: bytes) -> DecodedMetrics:
    # exemplars' ids are hex in OTLP/JSON, and perflab does not keep exemplars
    return decode_request(parse_otlp_json(body, ExportMetricsServiceRequest, DecodeError,
                                          prepare=_drop_exemplars))


def _drop_exemplars(obj: Any, depth: int = 0) -> None:
    if depth > 12:
        return
    if isinstance(obj, dict):
        obj.pop("exemplars", None)
        for value in obj.values():
            _drop_exemplars(value, depth + 1)
    elif isinstance(obj, list):
        for value in obj:
            _drop_exemplars(value, depth + 1)


def _count_points(request: ExportMetricsServiceRequest) -> int:
    total = 0
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                which = m.WhichOneof("data")
                if which is not None:
                    total += len(getattr(m, which).data_points)
    return total


def decode_request(request: ExportMetricsServiceRequest) -> DecodedMetrics:
    total = _count_points(request)
    if total > MAX_POINTS:
        raise PayloadTooLarge(f"the request holds {total} data points; at most {MAX_POINTS} "
                              "are taken in one request: send smaller batches")
    out = DecodedMetrics(points=total)
    for rm in request.resource_metrics:
        resource = _resource(rm.resource.attributes)
        for sm in rm.scope_metrics:
            scope = {}
            if sm.scope.name:
                scope["otel_scope_name"] = sm.scope.name[:MAX_VALUE]
            if sm.scope.version:
                scope["otel_scope_version"] = sm.scope.version[:MAX_VALUE]
            for metric in sm.metrics:
                _metric(metric, scope, resource, out)
        if resource.info and resource.latest_ns:
            out.rows.append(("target_info",
                             canonical_labels({**resource.info, **resource.target}),
                             resource.latest_ns, 1.0))
    return out


def _metric(metric: Any, scope: dict[str, str], resource: _Resource,
            out: DecodedMetrics) -> None:
    which = metric.WhichOneof("data")
    if which is None:
        return
    data = getattr(metric, which)
    points = data.data_points
    if which == "exponential_histogram":
        out.reject("exponential histogram points (native histograms are not stored: use "
                   "explicit bucket histograms)", len(points))
        return
    if which in ("sum", "histogram") and data.aggregation_temporality != _CUMULATIVE:
        out.reject(f"{which} points of delta or unspecified temporality (perflab stores "
                   "cumulative series: set the exporter's temporality to cumulative)",
                   len(points))
        return
    monotonic = which == "sum" and data.is_monotonic
    kind = {"gauge": "gauge", "sum": "counter" if monotonic else "gauge",
            "histogram": "histogram", "summary": "summary"}[which]
    name = metric_name(metric.name, metric.unit, "gauge" if which == "gauge" else which,
                       monotonic=monotonic)
    if not name:
        out.reject("points of a metric without a name", len(points))
        return
    out.meta[name] = (name, kind, metric.description[:MAX_VALUE], metric.unit[:MAX_VALUE])
    for point in points:
        ts = point.time_unix_nano
        if not ts or ts >= 2**63:
            out.reject("points without a time (or after 2262)")
            continue
        ts -= ts % 1_000_000  # Prometheus keeps milliseconds
        labels = {k: v for k, v in {**scope, **_labels(point.attributes),
                                    **resource.target}.items() if v}  # "" is no label
        if len(labels) > MAX_LABELS:
            out.reject(f"points with more than {MAX_LABELS} labels")
            continue
        resource.latest_ns = max(resource.latest_ns, ts)
        stale = bool(point.flags & _NO_RECORDED_VALUE)
        rows = list(_series(which, name, labels, point))
        if stale:
            marker = stale_nan()
            rows = [(n, lab, marker) for n, lab, _ in rows]
        out.rows.extend((n, _canonical(lab), ts, v) for n, lab, v in rows)


# label set (in the order it was built, which repeats request after request) -> its canonical
# JSON: one dict lookup per series in the steady state (bounded: cleared past MAX_LABEL_SETS)
_CANONICAL: dict[tuple[tuple[str, str], ...], str] = {}
MAX_LABEL_SETS = 500_000


def _canonical(labels: dict[str, str]) -> str:
    key = tuple(labels.items())
    got = _CANONICAL.get(key)
    if got is None:
        if len(_CANONICAL) >= MAX_LABEL_SETS:
            _CANONICAL.clear()
        got = _CANONICAL[key] = canonical_labels(labels)
    return got


def _series(which: str, name: str, labels: dict[str, str],
            point: Any) -> Iterable[tuple[str, dict[str, str], float]]:
    if which in ("gauge", "sum"):
        value = point.as_double if point.WhichOneof("value") == "as_double" \
            else float(point.as_int)
        yield name, labels, float(value)
        return
    if which == "histogram":
        bounds = list(point.explicit_bounds)
        counts = list(point.bucket_counts)
        running = 0
        for i, bound in enumerate(bounds):
            running += counts[i] if i < len(counts) else 0
            yield f"{name}_bucket", {**labels, "le": _format_float(bound)}, float(running)
        yield f"{name}_bucket", {**labels, "le": "+Inf"}, float(point.count)
    else:  # summary
        for q in point.quantile_values:
            yield name, {**labels, "quantile": _format_float(q.quantile)}, float(q.value)
    if which == "summary" or point.HasField("sum"):
        yield f"{name}_sum", labels, float(point.sum)
    yield f"{name}_count", labels, float(point.count)


# -- answers ------------------------------------------------------------------------------------

def response(decoded: DecodedMetrics) -> ExportMetricsServiceResponse:
    return partial_success(ExportMetricsServiceResponse(), decoded.rejected, decoded.message(),
                           field="rejected_data_points")


def response_json(resp: Any) -> dict[str, Any]:
    return partial_success_json(resp, field="rejected_data_points",
                                json_field="rejectedDataPoints")
