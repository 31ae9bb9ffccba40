"""A log line through a LogQL pipeline, stage by stage, with Loki's semantics (pkg/logql/log).

- Parsers add labels; a name the line already has as a stream label gets ``_extracted``;
  ``json``/``unpack`` mark a line they cannot read with ``__error__="JSONParserErr"`` and
  keep it; ``logfmt`` skips the pairs it cannot read, and only ``--strict`` marks the line
  (``LogfmtParserErr``), as Loki's decoder (_logfmt.py). ``pattern`` and ``regexp`` add only
  what matched (a line that does not match is kept without them; a regexp group that took no
  part is ""). ``unpack`` reads a JSON object's string values and, when it has ``_entry``,
  makes that the line (the labels only then, as Loki's UnpackParser).
- ``ip("...")`` (line or label filter) keeps text holding an address the pattern holds
  (_ipmatch.py); as a label filter it drops a line without the label and keeps one with
  ``__error__``, as Loki's IPLabelFilter.
- A numeric label filter drops a line without the label and marks one whose value is not a
  number with ``__error__="LabelFilterErr"`` (kept); once a line has an error only string
  matchers filter it.
- ``line_format``/``label_format`` templates that fail on a line mark it with
  ``__error__="TemplateFormatErr"``; ``line_format`` then keeps the line as it was.
- ``keep`` drops every label not named (stream labels too) but never ``__error__``; ``drop``
  removes the named labels (with a matcher, only when the value matches).
Loki's ``__error_details__`` label is not added.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

from perflab.logs._fields import ParseFailed, parse_json, sanitize_key
from perflab.logs._logfmt import decode_logfmt
from perflab.logs._logql import (
    AnyLineFilter,
    BoolExpr,
    Compare,
    Decolorize,
    IPLineFilter,
    LabelExpr,
    LabelFilter,
    LabelFormat,
    LabelSelect,
    LineFilter,
    LineFormat,
    LogQuery,
    Parser,
    PatternLineFilter,
    PatternParser,
    RegexpParser,
    Stage,
)
from perflab.logs._template import Context, RenderError
from perflab.logs._units import parse_go_bytes, parse_go_duration_s

Labels = dict[str, str]
ERROR = "__error__"
_ANSI = re.compile(r"\x1b\[[0-9;:]*[ -/]*[@-~]|\x1b[@-Z\\-_]")  # CSI sequences, then 2-byte ESC
_LABEL_CHARS = re.compile(r"[^A-Za-z0-9_:]")


def _numeric(c: Compare, text: str) -> float | None:
    try:
        if c.duration:
            return parse_go_duration_s(text)
        if c.bytes:
            return parse_go_bytes(text)
        return float(text)
    except ValueError:
        return None


_CMP = {"==": float.__eq__, "!=": float.__ne__, ">": float.__gt__, ">=": float.__ge__,
        "<": float.__lt__, "<=": float.__le__}


def label_keeps(expr: LabelExpr, labels: Labels) -> bool:
    """Whether a label filter keeps a line (may add ``__error__`` to its labels)."""
    if isinstance(expr, BoolExpr):
        if expr.op == "and":
            return label_keeps(expr.left, labels) and label_keeps(expr.right, labels)
        return label_keeps(expr.left, labels) or label_keeps(expr.right, labels)
    if expr.matcher is not None:
        return expr.matcher.matches(labels.get(expr.name, ""))
    if ERROR in labels:
        return True  # as Loki: once a line has an error, only string matchers filter it
    got = labels.get(expr.name)
    if got is None:
        return False
    if expr.ip is not None:  # Loki searches the value for an address, as in a line
        return expr.ip.search(got) == (expr.op == "=")
    value = _numeric(expr, got)
    if value is None:
        labels.setdefault(ERROR, "LabelFilterErr")
        return True
    assert expr.number is not None
    return bool(_CMP[expr.op](value, expr.number))


def _set(labels: Labels, stream: Labels, name: str, value: str) -> None:
    """A parsed label: ``_extracted`` when the stream has the name; the first value wins."""
    labels.setdefault(name + "_extracted" if name in stream else name, value)


def _extract(stage: Parser, line: str, labels: Labels, stream: Labels) -> str:
    if stage.kind == "unpack":
        return _unpack(line, labels, stream)
    if stage.kind == "logfmt":
        _logfmt(stage, line, labels, stream)
        return line
    if stage.params:
        _json_params(stage, line, labels, stream)
        return line
    try:
        fields = parse_json(line)
    except ParseFailed:
        labels.setdefault(ERROR, "JSONParserErr")
        return line
    for k, v in fields.items():
        _set(labels, stream, k, v)
    return line


def _logfmt(stage: Parser, line: str, labels: Labels, stream: Labels) -> None:
    pairs, failed = decode_logfmt(line, strict=stage.strict, keep_empty=stage.keep_empty)
    if stage.params:
        wanted = {sanitize_key(key[0]): label for label, key in stage.params
                  if isinstance(key[0], str)}
        for label, _ in stage.params:   # Loki sets each one, "" until the line has it
            if label not in stream:
                labels[label] = ""
        seen: set[str] = set()
        for key, value in pairs:
            name = wanted.get(sanitize_key(key))
            if name is not None and name not in seen:
                seen.add(name)
                labels[name + "_extracted" if name in stream else name] = value
    else:
        for key, value in pairs:
            _set(labels, stream, sanitize_key(key), value)
    if failed:
        labels[ERROR] = "LogfmtParserErr"


def _json_params(stage: Parser, line: str, labels: Labels, stream: Labels) -> None:
    """``| json label="path"``: each path's value (a string unquoted, a number as written, an
    object or array as JSON text, null or a missing path "")."""
    try:
        doc = json.loads(line, parse_float=Decimal, parse_int=Decimal)
    except ValueError:
        labels[ERROR] = "JSONParserErr"
        return
    for label, path in stage.params:
        node: object = doc
        for part in path:
            node = _child(node, part)
        if node is _MISSING:
            if label not in labels:  # Loki: a label for every expression, "" when absent
                labels[label] = ""
            continue
        labels[label + "_extracted" if label in stream else label] = (
            node if isinstance(node, str) else "" if node is None else _json_text(node))


_MISSING = object()


def _child(node: object, part: str | int) -> object:
    """A field or an item of a JSON value; ``_MISSING`` when it has none."""
    if isinstance(node, dict) and isinstance(part, str):
        return node.get(part, _MISSING)
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    return _MISSING


def _json_text(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(_json_text(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {_json_text(x)}"
                               for k, x in v.items()) + "}"
    return "null"


def _unpack(line: str, labels: Labels, stream: Labels) -> str:
    if not line:
        return line
    try:
        obj = json.loads(line) if line.startswith("{") else None
    except ValueError:
        obj = None
    if not isinstance(obj, dict):
        labels.setdefault(ERROR, "JSONParserErr")
        return line
    entry = obj.get("_entry")
    if not isinstance(entry, str):
        return line
    for k, v in obj.items():
        if k != "_entry" and isinstance(v, str):
            _set(labels, stream, _LABEL_CHARS.sub("_", k), v)
    return entry


def _label_format(stage: LabelFormat, line: str, ts_ns: int, labels: Labels) -> None:
    """Items in order, as Loki's LabelsFormatter: a rename moves the value at once; the
    templates all read the labels as they were at the first template (one snapshot)."""
    ctx: Context | None = None
    for dst, src in stage.items:
        if isinstance(src, str):
            if src in labels:
                labels[dst] = labels.pop(src)
            continue
        if ctx is None:
            ctx = Context(dict(labels), line, ts_ns)
        try:
            labels[dst] = src.render(ctx)
        except RenderError:
            labels[ERROR] = "TemplateFormatErr"


def _select(stage: LabelSelect, labels: Labels) -> None:
    if stage.keep:
        keep = set()
        for name, m in stage.items:
            if name in labels and (m is None or m.matches(labels[name])):
                keep.add(name)
        for name in list(labels):
            if name not in keep and name != ERROR:
                del labels[name]
        return
    for name, m in stage.items:
        if name in labels and (m is None or m.matches(labels[name])):
            del labels[name]


def run_stage(stage: Stage, stream: Labels, line: str, ts_ns: int,
              labels: Labels) -> str | None:
    """One stage on a line: the line after it, or None when it drops the line."""
    if isinstance(stage, (LineFilter, IPLineFilter, PatternLineFilter, AnyLineFilter)):
        return line if stage.keeps(line) else None
    if isinstance(stage, Parser):
        return _extract(stage, line, labels, stream)
    if isinstance(stage, LabelFilter):
        return line if label_keeps(stage.expr, labels) else None
    if isinstance(stage, LineFormat):
        try:
            return stage.template.render(Context(labels, line, ts_ns))
        except RenderError:
            labels[ERROR] = "TemplateFormatErr"
            return line
    if isinstance(stage, PatternParser):
        for name, value in stage.pattern.matches(line):
            _set(labels, stream, name, value)
        return line
    if isinstance(stage, RegexpParser):
        m = stage.regex.search(line)
        if m is not None:
            for name, value in m.groupdict().items():
                _set(labels, stream, name, value or "")
        return line
    if isinstance(stage, Decolorize):
        return _ANSI.sub("", line)
    if isinstance(stage, LabelFormat):
        _label_format(stage, line, ts_ns, labels)
        return line
    _select(stage, labels)
    return line


def run_pipeline(query: LogQuery, stream: Labels, line: str,
                 ts_ns: int = 0) -> tuple[Labels, str] | None:
    """(labels, line) of a line after the query's stages, or None when a stage drops it."""
    labels = dict(stream)
    for stage in query.stages:
        got = run_stage(stage, stream, line, ts_ns, labels)
        if got is None:
            return None
        line = got
    return labels, line
