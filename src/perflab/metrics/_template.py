"""Go's ``text/template`` as Prometheus uses it in alert labels and annotations (the engine is
``perflab.gotemplate``; this module is Prometheus's functions and the alert's data).

``{{ $labels.instance }}``, ``{{ $value | humanize }}``, ``{{ printf "%.2f" $value }}``,
``{{ if gt $value 0.9 }}...{{ else }}...{{ end }}``, ``{{ range query "up" }}...{{ end }}``,
``{{ with ... }}``, variables, pipelines, ``{{-``/``-}}`` trimming and comments; Prometheus's
functions (``humanize``, ``humanize1024``, ``humanizeDuration``, ``humanizePercentage``,
``humanizeTimestamp``, ``query``, ``first``, ``label``, ``value``, ``sortByLabel``,
``reReplaceAll``, ``match``, ``title``, ``toUpper``, ``toLower``, ``stripPort``, ``args``,
``graphLink``, ``tableLink``, ``externalURL``, ``pathPrefix``, ``safeHtml``) and Go's
(``printf``, ``print``, ``len``, ``index``, ``eq``, ``ne``, ``lt``, ``le``, ``gt``, ``ge``,
``and``, ``or``, ``not``, ``urlquery``, ``html``). Values print as Go prints them (a float64 in
its shortest ``%v`` form, ``1e+06``); a missing label is empty (``missingkey=zero``).

``TemplateError`` is raised for a template that does not parse (``rules check``) or fails to
run; a rule shows ``<error expanding template: ...>`` instead, as Prometheus does.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

from perflab.errors import InvalidValue
from perflab.gotemplate import (
    Dialect,
    ExecError,
    Node,
    ParseError,
    go_str,
    parse,
    truth,
)
from perflab.gotemplate import execute as run_template


class TemplateError(InvalidValue):
    pass


# -- parsing and running (perflab.gotemplate) ----------------------------------------------------

def _go_unquote(text: str) -> str:
    from perflab.metrics._seriesdesc import read_string  # noqa: PLC0415

    try:
        return read_string(text, 0)[0]
    except Exception as exc:
        raise ValueError(str(exc)) from None


_DIALECT = Dialect(where="in alert templates", unquote=_go_unquote)


def parse_template(text: str) -> list[Node]:
    try:
        return parse(text, _DIALECT)
    except ParseError as exc:
        raise TemplateError(exc.message) from None


@dataclass(slots=True)
class Sample:
    """An element of a ``query`` result: ``.Labels`` and ``.Value``."""

    Labels: dict[str, str]  # Go's field names, as templates spell them
    Value: float

    def __str__(self) -> str:
        return "{" + go_str(self.Labels) + " " + go_str(self.Value) + "}"


def execute(nodes: list[Node], data: Any, funcs: Mapping[str, Callable[..., Any]]) -> str:
    try:
        return run_template(nodes, data, {**_BUILTINS, **funcs}, passthrough=(TemplateError,))
    except ExecError as exc:
        raise TemplateError(exc.message) from None


# -- functions ------------------------------------------------------------------------------------

def to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise TemplateError("can't convert bool to float")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        from perflab.metrics._exposition import parse_float  # noqa: PLC0415

        try:
            return parse_float(value)
        except ValueError:
            raise TemplateError(f'strconv.ParseFloat: parsing "{value}": invalid syntax'
                                ) from None
    raise TemplateError(f"can't convert {type(value).__name__} to float")


def _g4(v: float) -> str:
    """``fmt.Sprintf("%.4g", v)``."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return f"{v:.4g}"


def humanize(value: Any) -> str:
    v = to_float(value)
    if v == 0 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    prefix = ""
    if abs(v) >= 1:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix = p
            v /= 1000
        return f"{_g4(v)}{prefix}"
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix = p
        v *= 1000
    return f"{_g4(v)}{prefix}"


def humanize1024(value: Any) -> str:
    v = to_float(value)
    if abs(v) <= 1 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(v) < 1024:
            break
        prefix = p
        v /= 1024
    return f"{_g4(v)}{prefix}"


def humanize_duration(value: Any) -> str:
    v = to_float(value)
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    if v == 0:
        return f"{_g4(v)}s"
    if abs(v) >= 1:
        sign = ""
        if v < 0:
            sign, v = "-", -v
        duration = int(v)
        seconds, minutes = duration % 60, (duration // 60) % 60
        hours, days = (duration // 3600) % 24, duration // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_g4(v)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix = p
        v *= 1000
    return f"{_g4(v)}{prefix}s"


def humanize_percentage(value: Any) -> str:
    return f"{_g4(to_float(value) * 100)}%"


def humanize_timestamp(value: Any) -> str:
    v = to_float(value)
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    when = dt.datetime.fromtimestamp(v, dt.UTC)
    frac = f"{when.microsecond * 1000:09d}".rstrip("0")
    return when.strftime("%Y-%m-%d %H:%M:%S") + (f".{frac}" if frac else "") + " +0000 UTC"


def go_printf(fmt: str, *args: Any) -> str:
    """``fmt.Sprintf`` for the verbs templates use: %s %v %d %f %e %g %x %q %t %%."""
    out: list[str] = []
    i = 0
    arg = 0
    spec = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")
    while i < len(fmt):
        m = spec.match(fmt, i) if fmt[i] == "%" else None
        if m is None:
            out.append(fmt[i])
            i += 1
            continue
        i = m.end()
        flags, width, prec, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        if verb == "%":
            out.append("%")
            continue
        if arg >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        value = args[arg]
        arg += 1
        py = "%" + flags + (width or "") + (f".{prec}" if prec is not None else "")
        if verb in ("v", "s"):
            text = go_str(value)
            if prec is not None:
                text = text[:int(prec)]
            out.append((py.replace("." + (prec or ""), "") + "s") % text if width or flags
                       else text)
        elif verb == "q":
            out.append('"' + go_str(value).replace("\\", "\\\\").replace('"', '\\"') + '"')
        elif verb == "t":
            out.append(go_str(bool(value)))
        elif verb == "d":
            out.append((py + "d") % int(value))
        elif verb in "feEgGxX":
            if verb in "xX" and isinstance(value, int):
                out.append((py + verb) % value)
                continue
            f = to_float(value)
            if math.isnan(f) or math.isinf(f):
                out.append(go_str(f))
                continue
            text = (py + verb) % f
            if verb in "eEgG":
                text = re.sub(r"e([+-])(\d)$", r"e\g<1>0\2", text)
            out.append(text)
        else:
            out.append(f"%!{verb}({type(value).__name__}={go_str(value)})")
    if arg < len(args):
        out.append("%!(EXTRA " + ", ".join(f"{type(a).__name__}={go_str(a)}"
                                            for a in args[arg:]) + ")")
    return "".join(out)


def _compare(op: str) -> Callable[[Any, Any], bool]:
    def fn(a: Any, *others: Any) -> bool:
        for b in others:
            if isinstance(a, (int, float)) != isinstance(b, (int, float)):
                raise TemplateError("incompatible types for comparison")
            if op == "eq" and a == b:
                return True
        if op == "eq":
            return False
        b = others[0]
        return bool({"ne": a != b, "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op])
    return fn


def _and(*args: Any) -> Any:
    for a in args:
        if not truth(a):
            return a
    return args[-1]


def _or(*args: Any) -> Any:
    for a in args:
        if truth(a):
            return a
    return args[-1]


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        value = value.get(key, "") if isinstance(value, dict) else value[key]
    return value


def _title(text: str) -> str:
    return re.sub(r"(^|[^\w'])(\w)", lambda m: m.group(1) + m.group(2).upper(), text)


def _strip_port(host_port: str) -> str:
    if host_port.startswith("["):
        end = host_port.find("]")
        return host_port[1:end] if end > 0 and host_port[end + 1:end + 2] == ":" else host_port
    host, sep, port = host_port.rpartition(":")
    return host if sep and ":" not in host and port.isascii() and port.isdigit() \
        else host_port


def _graph_link(expr: str) -> str:
    return f"/graph?g0.expr={quote_plus(expr)}&g0.tab=0"


def _table_link(expr: str) -> str:
    return f"/graph?g0.expr={quote_plus(expr)}&g0.tab=1"


def _re_replace_all(pattern: str, repl: str, text: str) -> str:
    from perflab.metrics._ast import compile_regex  # noqa: PLC0415
    from perflab.metrics._functions import go_expand  # noqa: PLC0415

    regex = compile_regex(pattern)
    return regex.sub(lambda m: go_expand(repl, m), text)


def _match(pattern: str, text: str) -> bool:
    from perflab.metrics._ast import compile_regex  # noqa: PLC0415

    return compile_regex(pattern).search(text) is not None


def _first(v: list[Sample]) -> Sample:
    if not v:
        raise TemplateError("first() called on vector with no elements")
    return v[0]


def _parse_duration(text: str) -> float:
    from perflab.metrics._duration import parse_duration_ms  # noqa: PLC0415

    return parse_duration_ms(text) / 1000


_BUILTINS: dict[str, Callable[..., Any]] = {
    "printf": go_printf,
    "print": lambda *a: "".join(go_str(x) for x in a),
    "println": lambda *a: " ".join(go_str(x) for x in a) + "\n",
    "len": len,
    "index": _index,
    "eq": _compare("eq"), "ne": _compare("ne"), "lt": _compare("lt"), "le": _compare("le"),
    "gt": _compare("gt"), "ge": _compare("ge"),
    "and": _and, "or": _or, "not": lambda v: not truth(v),
    "urlquery": lambda *a: quote_plus("".join(go_str(x) for x in a)),
    "html": lambda *a: html.escape("".join(go_str(x) for x in a)),
    "js": lambda *a: "".join(go_str(x) for x in a).replace("'", "\\'").replace('"', '\\"'),
    "humanize": humanize,
    "humanize1024": humanize1024,
    "humanizeDuration": humanize_duration,
    "humanizePercentage": humanize_percentage,
    "humanizeTimestamp": humanize_timestamp,
    "toTime": lambda v: dt.datetime.fromtimestamp(to_float(v), dt.UTC),
    "first": _first,
    "label": lambda name, s: s.Labels.get(name, ""),
    "value": lambda s: s.Value,
    "strvalue": lambda s: s.Labels.get("__value__", ""),
    "args": lambda *a: {f"arg{i}": v for i, v in enumerate(a)},
    "reReplaceAll": _re_replace_all,
    "safeHtml": lambda text: text,
    "match": _match,
    "title": _title,
    "toUpper": lambda s: s.upper(),
    "toLower": lambda s: s.lower(),
    "graphLink": _graph_link,
    "tableLink": _table_link,
    "sortByLabel": lambda name, v: sorted(v, key=lambda s: s.Labels.get(name, "")),
    "stripPort": _strip_port,
    "pathPrefix": lambda: "",
    "parseDuration": _parse_duration,
}


_PRELUDE = ("{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"
            "{{$externalURL := .ExternalURL}}{{$value := .Value}}")


@dataclass(frozen=True, slots=True)
class AlertTemplate:
    """One label or annotation value of an alerting rule, parsed once."""

    source: str
    nodes: tuple[Node, ...]

    @classmethod
    def compile(cls, text: str) -> AlertTemplate:
        if "{{" not in text:
            return cls(text, ())
        return cls(text, tuple(parse_template(_PRELUDE + text)))

    def expand(self, labels: Mapping[str, str], value: float, *,
               external_labels: Mapping[str, str] | None = None, external_url: str = "",
               query: Callable[[str], list[Sample]] | None = None) -> str:
        if not self.nodes:
            return self.source
        data = _Data(dict(labels), dict(external_labels or {}), external_url, value)
        funcs: dict[str, Callable[..., Any]] = {"externalURL": lambda: external_url}
        if query is not None:
            funcs["query"] = query
        else:
            funcs["query"] = lambda q: []  # noqa: ARG005
        try:
            return execute(list(self.nodes), data, funcs)
        except TemplateError as exc:
            return f"<error expanding template: {exc.message}>"
        except RecursionError:
            return "<error expanding template: too deeply nested>"


@dataclass(slots=True)
class _Data:
    Labels: dict[str, str]
    ExternalLabels: dict[str, str]
    ExternalURL: str
    Value: float


def check_template(text: str) -> None:
    """``TemplateError`` when ``text`` does not parse as Prometheus would parse it."""
    try:
        AlertTemplate.compile(text)
    except RecursionError:
        raise TemplateError("the template is too deeply nested") from None


def url_path_escape(text: str) -> str:
    return quote(text, safe="")
