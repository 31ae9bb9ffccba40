"""The InfluxDB line protocol, read into Prometheus-style samples.

``measurement,tag=a field=1.5,count=3i 1700000000000000000``: each numeric field is a sample of
the metric ``<measurement>_<field>`` (just ``<measurement>`` for a field named ``value``, as
Telegraf's Prometheus output names them), tags are labels; booleans are 1 and 0; string fields
are not numbers and are skipped. Names are made Prometheus-valid (other characters become
``_``). ``InfluxError`` (400) names the line of bad input.
"""

from __future__ import annotations

import math
import re

from perflab.serving import Refused

MAX_LINES = 500_000
_INVALID = re.compile(r"[^a-zA-Z0-9_:]")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]")
_PRECISION_NS = {"ns": 1, "n": 1, "us": 1000, "u": 1000, "ms": 10**6, "s": 10**9,
                 "m": 60 * 10**9, "h": 3600 * 10**9}
_TRUE = frozenset({"t", "T", "true", "True", "TRUE"})
_FALSE = frozenset({"f", "F", "false", "False", "FALSE"})


class InfluxError(Refused):
    status = 400


def _split(text: str, sep: str, *, quotes: bool = False) -> list[str]:
    """Split on ``sep`` not escaped with a backslash (nor inside double quotes)."""
    out: list[str] = []
    buf: list[str] = []
    i = 0
    in_quotes = False
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            buf.append(text[i:i + 2])
            i += 2
            continue
        if quotes and c == '"':
            in_quotes = not in_quotes
        if c == sep and not in_quotes:
            out.append("".join(buf))
            buf = []
        else:
            buf.append(c)
        i += 1
    out.append("".join(buf))
    return out


def _unescape(text: str) -> str:
    return re.sub(r"\\([,= \\\"])", r"\1", text)


def metric_name(text: str) -> str:
    name = _INVALID.sub("_", text)
    return "_" + name if not name or name[0].isdigit() else name


def label_name(text: str) -> str:
    name = _INVALID_LABEL.sub("_", text)
    return "_" + name if not name or name[0].isdigit() else name


def parse_lines(body: bytes, *, precision: str = "ns",
                now_ns: int = 0) -> list[tuple[str, dict[str, str], float, int]]:
    """(metric name, labels, value, ts_ns) of every numeric field of every line."""
    scale = _PRECISION_NS.get(precision)
    if scale is None:
        raise InfluxError(f"invalid precision {precision[:20]!r}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InfluxError("the body is not UTF-8") from None
    out: list[tuple[str, dict[str, str], float, int]] = []
    lines = text.split("\n")
    if len(lines) > MAX_LINES:
        raise InfluxError(f"{len(lines):,} lines in one request; at most {MAX_LINES:,}")
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = _split(line, " ", quotes=True)
        parts = [p for p in parts if p != ""]
        if len(parts) not in (2, 3):
            raise InfluxError(f"line {number}: expected 'measurement[,tags] fields "
                              "[timestamp]'")
        head, fields_text = parts[0], parts[1]
        head_parts = _split(head, ",")
        measurement = _unescape(head_parts[0])
        if not measurement:
            raise InfluxError(f"line {number}: missing measurement")
        tags: dict[str, str] = {}
        for tag in head_parts[1:]:
            kv = _split(tag, "=")
            if len(kv) != 2 or not kv[0]:
                raise InfluxError(f"line {number}: invalid tag {tag[:60]!r}")
            tags[label_name(_unescape(kv[0]))] = _unescape(kv[1])
        ts = now_ns
        if len(parts) == 3:
            raw_ts = parts[2]
            if not (raw_ts.isascii() and raw_ts.lstrip("-").isdigit()) or len(raw_ts) > 20:
                raise InfluxError(f"line {number}: invalid timestamp {raw_ts[:30]!r}")
            ts = int(raw_ts) * scale
            if not -(2**63) <= ts < 2**63:
                raise InfluxError(f"line {number}: timestamp out of range")
        fields = _split(fields_text, ",", quotes=True)
        for field in fields:
            kv = _split(field, "=", quotes=True)
            if len(kv) != 2 or not kv[0]:
                raise InfluxError(f"line {number}: invalid field {field[:60]!r}")
            key, value_text = _unescape(kv[0]), kv[1]
            value = _field_value(value_text, number)
            if value is None:
                continue
            name = metric_name(measurement if key == "value" else f"{measurement}_{key}")
            out.append((name, tags, value, ts))
    return out


def _field_value(text: str, number: int) -> float | None:
    if text.startswith('"'):
        if len(text) < 2 or not text.endswith('"'):
            raise InfluxError(f"line {number}: unterminated string field")
        return None
    if text in _TRUE:
        return 1.0
    if text in _FALSE:
        return 0.0
    body = text[:-1] if text[-1:] in ("i", "u") else text
    try:
        value = float(int(body)) if text[-1:] in ("i", "u") else float(body)
    except ValueError:
        raise InfluxError(f"line {number}: invalid field value {text[:40]!r}") from None
    if "_" in body or math.isnan(value) or math.isinf(value):
        raise InfluxError(f"line {number}: invalid field value {text[:40]!r}")
    return value
