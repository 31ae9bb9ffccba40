"""LogQL's ``line_format`` and ``label_format`` templates: Go's ``text/template`` (the engine is
``perflab.gotemplate``, shared with the alert templates) with Loki's functions
(docs/sources/query/template_functions.md): sprig's string, maths and time functions, Go's
``strings`` under their legacy names, ``fromJson``, and ``__line__`` and ``__timestamp__``.

``{{.label}}``, pipelines (``{{ .path | trimPrefix "/" | upper }}``), ``if``/``else if``,
``with``, ``range`` over what ``fromJson`` read, variables (``{{ range $q := fromJson .queries
}}{{ $q.query }}{{ end }}``). At the top dot is the labels, printed as Go prints a
``map[string]string``; a label that is not set prints as "" (Loki passes a map of strings).
A template that does not parse is refused with the query (``TemplateSyntaxError``, with the
offset); a call that fails on a line is a render error (Loki then adds
``__error__="TemplateFormatErr"`` and keeps the line).
"""

from __future__ import annotations

import base64
import json
import math
import re
import time
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from perflab.gotemplate import (
    Dialect,
    ExecError,
    Node,
    ParseError,
    execute,
    format_float_g,
    go_str,
    go_type,
    parse,
    truth,
)
from perflab.logs._gotime import go_format, go_parse
from perflab.logs._units import parse_go_bytes, parse_go_duration_s

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


class TemplateSyntaxError(ValueError):
    """A template that does not parse; ``offset`` is 0-based in the template's text."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


MAX_TEXT = 1 << 20  # a rendered value, as a stored line: what repeat/padding may make


class RenderError(ValueError):
    """A template call that fails on a line's values (Loki: ``TemplateFormatErr``)."""


@dataclass(frozen=True, slots=True)
class Time:
    """What ``__timestamp__`` returns: a line's time, printed as Go prints a ``time.Time``."""

    ns: int

    def __str__(self) -> str:
        dt = datetime.fromtimestamp(self.ns // 10**9, tz=UTC)
        frac = f"{self.ns % 10**9:09d}".rstrip("0")
        return dt.strftime("%Y-%m-%d %H:%M:%S") + (f".{frac}" if frac else "") + " +0000 UTC"


class LabelMap(dict[str, str]):
    """The labels as ``{{.}}`` gives them: Go prints a map as ``map[k:v k2:v2]``, by key."""

    def __str__(self) -> str:
        return "map[" + " ".join(f"{k}:{v}" for k, v in sorted(self.items())) + "]"


Value = str | int | float | bool | Time | LabelMap


@dataclass(frozen=True, slots=True)
class Context:
    labels: dict[str, str]
    line: str
    ts_ns: int


# -- Go's printing and conversions ---------------------------------------------------------------

def go_float(v: float) -> str:
    """A float64 as Go's ``%v`` prints it (``3e+06``, ``0.003``, ``190``)."""
    return format_float_g(v)


def to_int(v: Value) -> int:
    """sprig's ``toInt64`` (spf13/cast): numbers truncate; a string is read by Go's
    ``ParseInt(s, 0, 0)`` after trailing ".0"s go ("3.0" is 3, "0x1f" 31), else it is 0
    ("2.9" is 0: ``{{ "2.9" | float64 | int }}`` is 2)."""
    if isinstance(v, (bool, int)):
        return int(v)
    if isinstance(v, float):
        return int(v) if math.isfinite(v) else 0
    if isinstance(v, Time):
        return v.ns
    text = re.sub(r"^([-+]?\d+)\.0*$", r"\1", go_str(v).strip())
    try:
        return int(text, 0) if not re.fullmatch(r"[-+]?0\d+", text) else int(text, 8)
    except ValueError:
        return 0


def to_float(v: Value) -> float:
    """sprig's ``toFloat64``: a string that is not a number is 0."""
    if isinstance(v, Time):
        return float(v.ns)
    if isinstance(v, (bool, int, float)):
        return float(v)
    try:
        return float(go_str(v).strip())
    except ValueError:
        return 0.0


_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+))?([a-zA-Z%])")


def go_printf(fmt: str, args: Sequence[Value]) -> str:
    """Go's ``fmt.Sprintf`` for the verbs logs use (%s %v %d %f %g %e %x %X %q %t %c %%)."""
    out: list[str] = []
    pos = 0
    queue = list(args)
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        flags, width, prec, verb = m.groups()
        if verb == "%":
            out.append("%")
            continue
        if not queue:
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(_one_verb(flags, width or "", prec, verb, queue.pop(0)))
    out.append(fmt[pos:])
    if queue:
        out.append("%!(EXTRA " + ", ".join(f"{_go_type(a)}={go_str(a)}" for a in queue) + ")")
    return "".join(out)


def _go_type(v: Value) -> str:
    """Go's name of the type: the labels are a map[string]string, numbers int64 or float64."""
    if isinstance(v, LabelMap):
        return "map[string]string"
    if isinstance(v, Time):
        return "time.Time"
    if isinstance(v, int) and not isinstance(v, bool):
        return "int64"
    return go_type(v)


def _one_verb(flags: str, width: str, prec: str | None, verb: str, v: Value) -> str:
    if width == "*" or int(width or 0) > MAX_TEXT or int(prec or 0) > MAX_TEXT:
        return f"%!{verb}(BADWIDTH)"
    spec = "%" + flags + width + (f".{prec}" if prec is not None else "")
    if verb in "sv":
        return (spec + "s") % go_str(v)
    if verb == "q":
        text = '"' + go_str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
        return (spec.replace(".", "") + "s") % text if prec is None else text
    if verb == "t" and isinstance(v, bool):
        return (spec + "s") % go_str(v)
    if verb in "dxXoc" and isinstance(v, (int, bool)):
        return (spec + ("c" if verb == "c" else verb)) % int(v)
    if verb in "xX" and isinstance(v, str):
        return (spec + "s") % (v.encode().hex() if verb == "x" else v.encode().hex().upper())
    if verb in "feEgG" and isinstance(v, (int, float)) and not isinstance(v, bool):
        return (spec + verb) % float(v)
    return f"%!{verb}({_go_type(v)}={go_str(v)})"


# -- the functions -------------------------------------------------------------------------------

def _substr(start: Value, end: Value, s: Value) -> str:
    text, a, b = go_str(s), to_int(start), to_int(end)
    if a < 0:
        return text[:b]
    if b < 0 or b > len(text):
        return text[a:]
    return text[a:b]


def _trunc(n: Value, s: Value) -> str:
    text, k = go_str(s), to_int(n)
    if k < 0:
        return text[max(0, len(text) + k):]
    return text[:k]


def _div(a: Value, b: Value) -> int:
    d = to_int(b)
    if d == 0:
        raise RenderError("integer divide by zero")
    q = abs(to_int(a)) // abs(d)
    return q if (to_int(a) >= 0) == (d > 0) else -q  # Go truncates towards zero


def _mod(a: Value, b: Value) -> int:
    d = to_int(b)
    if d == 0:
        raise RenderError("integer divide by zero")
    return int(math.fmod(to_int(a), d))


def _dec(v: Value) -> Decimal:
    """sprig's ``toDecimal``: the float's shortest digits, so ``...f`` maths is decimal."""
    f = to_float(v)
    if not math.isfinite(f):
        raise RenderError(f"not a finite number: {go_str(v)}")
    return Decimal(repr(f))


def _divf(a: Value, *b: Value) -> float:
    out = _dec(a)
    for x in b:
        d = _dec(x)
        if d == 0:
            raise RenderError("decimal division by 0")
        out /= d
    return float(out)


def _bounded(s: str, times: int) -> str:
    if times > 0 and len(s) * times > MAX_TEXT:
        raise RenderError(f"the result would be longer than {MAX_TEXT:,} characters")
    return s * max(0, times)


def _align(n: int, s: str, *, right: bool) -> str:
    """Loki's alignLeft/alignRight: pad to n, or cut to n (alignRight keeps the end)."""
    if n < 0 or n == len(s):
        return s
    if n > MAX_TEXT:
        raise RenderError(f"the result would be longer than {MAX_TEXT:,} characters")
    if n > len(s):
        return s.rjust(n) if right else s.ljust(n)
    return s[len(s) - n:] if right else s[:n]


def _default(d: Value, src: Value = "") -> Value:
    return d if go_str(src) in ("", "0", "false") else src


def _regex_replace(literal: bool) -> Callable[..., str]:
    def replace(pattern: Value, s: Value, repl: Value) -> str:  # sprig's order
        try:
            rx = re.compile(go_str(pattern))
        except re.error as exc:
            raise RenderError(f"regexReplaceAll: {exc}") from None
        text = go_str(repl)
        if literal:
            return rx.sub(lambda _m: text, go_str(s))
        return rx.sub(lambda m: expand_go(text, m), go_str(s))
    return replace


_EXPAND = re.compile(r"\$(?:\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")


def expand_go(template: str, m: re.Match[str]) -> str:
    """Go's ``Regexp.Expand``: ``$1``, ``${1}``, ``$name``, ``$$``; a group that is not
    there (or did not take part) is ""."""
    def one(e: re.Match[str]) -> str:
        if e.group(0) == "$$":
            return "$"
        name = e.group(1) or e.group(2)
        try:
            got = m.group(int(name)) if name.isdigit() else m.group(name)
        except IndexError:  # no such group: Go expands it to ""
            return ""
        return got or ""
    return _EXPAND.sub(one, template)


def _bytes(s: Value) -> float:
    try:
        return parse_go_bytes(go_str(s))
    except ValueError as exc:
        raise RenderError(str(exc)) from None


def _duration(s: Value) -> float:
    try:
        return parse_go_duration_s(go_str(s))
    except ValueError as exc:
        raise RenderError(str(exc)) from None


def _to_date(layout: Value, s: Value) -> Time:
    try:
        return Time(go_parse(go_str(layout), go_str(s)))
    except ValueError as exc:
        raise RenderError(str(exc)) from None


def _to_date_in_zone(layout: Value, zone: Value, s: Value) -> Time:
    if go_str(zone) not in ("UTC", "Etc/UTC", ""):
        raise RenderError(f"toDateInZone: only UTC is supported here, not {go_str(zone)!r}")
    return _to_date(layout, s)


def _time_of(v: Value) -> Time:
    if isinstance(v, Time):
        return v
    raise RenderError(f"expected a time, got {_go_type(v)}")


def _cmp(a: Value, b: Value) -> int:
    """Go's template comparison: numbers with numbers, strings with strings, else an error."""
    num = (int, float)
    if isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool) and \
            not isinstance(b, bool):
        return (a > b) - (a < b)
    if isinstance(a, str) and isinstance(b, str):
        return (a > b) - (a < b)
    if isinstance(a, bool) and isinstance(b, bool):
        return int(a) - int(b)
    raise RenderError(f"incompatible types for comparison: {_go_type(a)} and {_go_type(b)}")


def _s(f: Callable[[str], str]) -> Callable[[Value], str]:
    return lambda v: f(go_str(v))


def _title(s: str) -> str:
    return re.sub(r"(?:^|(?<=\s))(\S)", lambda m: m.group(1).upper(), s)


def _index(v: Any, *keys: Any) -> Any:  # Go's index: an item of a map or list
    for key in keys:
        v = v.get(key, "") if isinstance(v, dict) else v[to_int(key)]
    return v


FUNCTIONS: dict[str, Callable[..., Value]] = {
    # Go's strings package under Loki's legacy names
    "ToUpper": _s(str.upper), "ToLower": _s(str.lower), "TrimSpace": _s(str.strip),
    "Title": _s(_title),
    "Replace": lambda s, old, new, n: go_str(s).replace(go_str(old), go_str(new),
                                                        to_int(n) if to_int(n) >= 0 else -1),
    "Trim": lambda s, cut: go_str(s).strip(go_str(cut)),
    "TrimLeft": lambda s, cut: go_str(s).lstrip(go_str(cut)),
    "TrimRight": lambda s, cut: go_str(s).rstrip(go_str(cut)),
    "TrimPrefix": lambda s, p: go_str(s).removeprefix(go_str(p)),
    "TrimSuffix": lambda s, p: go_str(s).removesuffix(go_str(p)),
    # sprig's names (the value piped in is the last argument)
    "upper": _s(str.upper), "lower": _s(str.lower), "title": _s(_title),
    "trim": _s(str.strip),
    "trimAll": lambda cut, s: go_str(s).strip(go_str(cut)),
    "trimPrefix": lambda p, s: go_str(s).removeprefix(go_str(p)),
    "trimSuffix": lambda p, s: go_str(s).removesuffix(go_str(p)),
    "replace": lambda old, new, s: go_str(s).replace(go_str(old), go_str(new)),
    "substr": _substr, "trunc": _trunc,
    "repeat": lambda n, s: _bounded(go_str(s), to_int(n)),
    "contains": lambda sub, s: go_str(sub) in go_str(s),
    "hasPrefix": lambda p, s: go_str(s).startswith(go_str(p)),
    "hasSuffix": lambda p, s: go_str(s).endswith(go_str(p)),
    "indent": lambda n, s: "\n".join(_bounded(" ", to_int(n)) + x
                                     for x in go_str(s).split("\n")),
    "nindent": lambda n, s: "\n" + "\n".join(_bounded(" ", to_int(n)) + x
                                             for x in go_str(s).split("\n")),
    "alignLeft": lambda n, s: _align(to_int(n), go_str(s), right=False),
    "alignRight": lambda n, s: _align(to_int(n), go_str(s), right=True),
    "default": _default,
    "printf": lambda fmt, *a: go_printf(go_str(fmt), a),
    "count": lambda pattern, s: len(re.findall(go_str(pattern), go_str(s))),
    "regexReplaceAll": _regex_replace(literal=False),
    "regexReplaceAllLiteral": _regex_replace(literal=True),
    "urlencode": _s(urllib.parse.quote_plus),
    "urldecode": _s(urllib.parse.unquote_plus),
    "b64enc": _s(lambda s: base64.b64encode(s.encode()).decode()),
    "b64dec": _s(lambda s: base64.b64decode(s.encode(), validate=False).decode(
        "utf-8", "replace")),
    "eq": lambda a, *b: any(_cmp(a, x) == 0 for x in b),
    "ne": lambda a, b: _cmp(a, b) != 0, "lt": lambda a, b: _cmp(a, b) < 0,
    "le": lambda a, b: _cmp(a, b) <= 0, "gt": lambda a, b: _cmp(a, b) > 0,
    "ge": lambda a, b: _cmp(a, b) >= 0,
    "and": lambda *a: next((x for x in a if not truth(x)), a[-1]),
    "or": lambda *a: next((x for x in a if truth(x)), a[-1]),
    "not": lambda a: not truth(a),
    "bytes": _bytes, "duration": _duration, "duration_seconds": _duration,
    # sprig's maths: integers truncate, the ...f forms are floats
    "add": lambda *a: sum(to_int(x) for x in a), "sub": lambda a, b: to_int(a) - to_int(b),
    "mul": lambda *a: math.prod(to_int(x) for x in a), "div": _div, "mod": _mod,
    "addf": lambda a, *b: float(sum((_dec(x) for x in b), _dec(a))),
    "subf": lambda a, *b: float(_dec(a) - sum((_dec(x) for x in b), Decimal(0))),
    "mulf": lambda a, *b: float(math.prod((_dec(x) for x in b), start=_dec(a))),
    "divf": _divf,
    "max": lambda *a: max(to_int(x) for x in a), "min": lambda *a: min(to_int(x) for x in a),
    "maxf": lambda *a: max(to_float(x) for x in a),
    "minf": lambda *a: min(to_float(x) for x in a),
    "ceil": lambda v: float(math.ceil(to_float(v))),
    "floor": lambda v: float(math.floor(to_float(v))),
    "round": lambda v, p, on=0.5: _round(to_float(v), to_int(p), to_float(on)),
    "int": to_int, "float64": to_float,
    # time
    "unixEpoch": lambda t: _time_of(t).ns // 10**9,
    "unixEpochMillis": lambda t: _time_of(t).ns // 10**6,
    "unixEpochNanos": lambda t: _time_of(t).ns,
    "unixToTime": lambda v: Time(_unix_to_ns(go_str(v))),
    "date": lambda layout, t: go_format(go_str(layout), _time_of(t).ns),
    "toDate": _to_date, "toDateInZone": _to_date_in_zone,
    "now": lambda: Time(time.time_ns()),
    "fromJson": lambda s: _from_json(go_str(s)),
    # Go's own template functions, for what fromJson gives
    "len": len, "index": _index,
}



def _from_json(text: str) -> Any:  # what the JSON holds
    """Loki's ``fromJson``: the document (maps, lists, numbers as float64), or "" when the
    text is not JSON."""
    try:
        return json.loads(text, parse_int=float)
    except ValueError:
        return ""


def _round(v: float, places: int, on: float) -> float:
    """sprig's ``round``: up when the fraction at ``places`` is at least ``on`` (0.5)."""
    scale = 10.0 ** places
    digit = v * scale
    frac = math.modf(digit)[0]
    return (math.ceil(digit) if frac >= on else math.floor(digit)) / scale


def _unix_to_ns(text: str) -> int:
    """sprig/Loki ``unixToTime``: seconds (10 digits), ms (13), µs (16) or ns (19)."""
    try:
        n = int(text)
    except ValueError:
        raise RenderError(f"unixToTime: not an integer: {text!r}") from None
    digits = len(text.lstrip("-"))
    scale = {10: 10**9, 13: 10**6, 16: 10**3, 19: 1}.get(digits)
    if scale is None:
        raise RenderError(f"unixToTime: unknown precision of {text!r}")
    return n * scale


# -- parsing and rendering (perflab.gotemplate) ---------------------------------------------

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a",
            "b": "\b", "f": "\f", "v": "\v"}
_SPECIAL = ("__line__", "__timestamp__")


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), text[1:-1])


_DIALECT = Dialect(where="here (only values, functions, pipelines, if, with and range)",
                   else_with=False,
                   unquote=_unquote, functions=frozenset((*FUNCTIONS, *_SPECIAL)))


class _LineFunctions:
    """Loki's functions and the two that read the line being formatted."""

    __slots__ = ("ctx",)

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def get(self, name: str, /) -> Callable[..., Value] | None:
        if name == "__line__":
            return lambda: self.ctx.line
        if name == "__timestamp__":
            return lambda: Time(self.ctx.ts_ns)
        return FUNCTIONS.get(name)


@dataclass(frozen=True, slots=True)
class Template:
    source: str
    nodes: tuple[Node, ...]

    def render(self, ctx: Context) -> str:
        try:
            return execute(self.nodes, LabelMap(ctx.labels), _LineFunctions(ctx),
                           passthrough=(RenderError,))
        except ExecError as exc:
            raise RenderError(exc.message) from None
        except RecursionError:
            raise RenderError("the template is too deeply nested") from None


def parse_template(text: str) -> Template:
    """A template, parsed; ``TemplateSyntaxError`` says where it is wrong."""
    try:
        return Template(text, tuple(parse(text, _DIALECT)))
    except ParseError as exc:
        raise TemplateSyntaxError(exc.message, exc.offset) from None
    except RecursionError:
        raise TemplateSyntaxError("the template is too deeply nested", 0) from None
