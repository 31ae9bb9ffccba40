"""The Go ``text/template`` subset that LogQL's ``line_format`` and ``label_format`` take.

What Loki's template docs (docs/sources/query/template_functions.md) show most: ``{{.label}}``,
pipelines (``{{ .path | trimPrefix "/" | upper }}``), calls with arguments (``{{ printf "%s %d"
.a .b }}``), parenthesised calls, ``{{- ... -}}`` trimming and ``{{/* comments */}}``; the
functions below, among them ``__line__`` and ``__timestamp__``; ``{{if}}``/``{{else if}}``/
``{{else}}``/``{{end}}`` and ``{{with pipeline}}...{{else}}...{{end}}`` (dot, ``{{.}}``, is the
pipeline's value inside it, as in Go; at the top it is the labels, printed as Go prints a
``map[string]string``; a field of a dot that is not the labels is a render error). ``range``
and variables are refused when the query is parsed, so a query never half works. As in Go, the
value piped in is the last argument, a label that is not set prints as "" (Loki passes a map
of strings), and a call that fails is a render error (Loki then adds
``__error__="TemplateFormatErr"`` and keeps the line).
"""

from __future__ import annotations

import base64
import math
import re
import time
import urllib.parse
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

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


# -- the tree ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Field:
    name: str


@dataclass(frozen=True, slots=True)
class Dot:
    """``{{.}}``: the labels at the top, the value of the pipeline inside a ``with``."""

    def __repr__(self) -> str:  # as Go names it in "can't give argument to non-function ."
        return "."


@dataclass(frozen=True, slots=True)
class Literal:
    value: Value


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Arg, ...]


@dataclass(frozen=True, slots=True)
class Pipeline:
    commands: tuple[Call | Field | Dot | Literal | Pipeline, ...]


Arg = Field | Dot | Literal | Call | Pipeline


@dataclass(frozen=True, slots=True)
class IfBlock:
    """``{{if cond}}...{{else if cond}}...{{else}}...{{end}}`` (``else if`` nests), or with
    ``rebind`` ``{{with cond}}...{{else}}...{{end}}`` (then-parts see the value as dot)."""

    cond: Pipeline
    then: tuple[Part, ...]
    otherwise: tuple[Part, ...] = ()
    rebind: bool = False


Part = str | Pipeline | IfBlock


@dataclass(frozen=True, slots=True)
class Context:
    labels: dict[str, str]
    line: str
    ts_ns: int
    dot: Value | None = None  # inside a with: its value (None: the labels)


# -- Go's printing and conversions ---------------------------------------------------------------

def go_str(v: Value) -> str:
    """A value as Go's ``fmt.Sprint`` prints it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return go_float(v)
    return str(v)


def go_float(v: float) -> str:
    """A float64 as Go's ``%v`` prints it (``3e+06``, ``0.003``, ``190``): PromQL's
    implementation, imported when a template first prints a float, as perflab.metrics is a
    large import that most log queries do not need."""
    from perflab.metrics import format_float_g  # noqa: PLC0415 -- see above

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
    if isinstance(v, LabelMap):
        return "map[string]string"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "float64"
    return "time.Time" if isinstance(v, Time) else "string"


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
}


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


# -- parsing -------------------------------------------------------------------------------------

_ACTION_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<field>\.[A-Za-z_][A-Za-z0-9_]*)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<number>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
  | (?P<dot>\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>[|()])
""", re.VERBOSE)
_CONTROL = frozenset({"range", "with", "define", "template", "block", "break", "continue",
                      "if", "else", "end"})  # if/else/end only start an action (_Frame)
_SPECIAL = ("__line__", "__timestamp__")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a",
            "b": "\b", "f": "\f", "v": "\v"}


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), text[1:-1])


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str
    at: int


def _tokens(body: str, base: int) -> list[_Tok]:
    out: list[_Tok] = []
    i = 0
    while i < len(body):
        m = _ACTION_TOKEN.match(body, i)
        if m is None:
            what = "variables" if body[i] == "$" else f"{body[i]!r}"
            raise TemplateSyntaxError(f"unsupported template syntax: {what}", base + i)
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(_Tok(kind, m.group(), base + i))
        i = m.end()
    return out


class _ActionParser:
    def __init__(self, toks: list[_Tok], end: int) -> None:
        self.toks = toks
        self.i = 0
        self.end = end

    def at_op(self, text: str) -> bool:
        return self.i < len(self.toks) and self.toks[self.i].kind == "op" and \
            self.toks[self.i].text == text

    def pipeline(self) -> Pipeline:
        cmds = [self.command()]
        while self.at_op("|"):
            self.i += 1
            cmds.append(self.command())
        return Pipeline(tuple(cmds))

    def command(self) -> Call | Field | Dot | Literal | Pipeline:
        if self.i >= len(self.toks) or self.at_op("|") or self.at_op(")"):
            at = self.toks[self.i].at if self.i < len(self.toks) else self.end
            raise TemplateSyntaxError("missing value for command", at)
        tok = self.toks[self.i]
        if tok.kind == "ident" and tok.text not in ("true", "false"):
            self.i += 1
            if tok.text in _CONTROL:
                raise TemplateSyntaxError(f"{{{{{tok.text}}}}} is not supported here (only "
                                          "values, functions and pipelines)", tok.at)
            if tok.text not in FUNCTIONS and tok.text not in _SPECIAL:
                raise TemplateSyntaxError(f'function "{tok.text}" not defined', tok.at)
            args: list[Arg] = []
            while self.i < len(self.toks) and not self.at_op("|") and not self.at_op(")"):
                args.append(self.operand())
            return Call(tok.text, tuple(args))
        first = self.operand()
        if self.i < len(self.toks) and not self.at_op("|") and not self.at_op(")"):
            t = self.toks[self.i]
            raise TemplateSyntaxError(f"can't give argument to non-function {first!r}", t.at)
        return first

    def operand(self) -> Arg:
        tok = self.toks[self.i]
        self.i += 1
        if tok.kind == "field":
            return Field(tok.text[1:])
        if tok.kind == "dot":
            return Dot()
        if tok.kind in ("string", "raw"):
            return Literal(_unquote(tok.text))
        if tok.kind == "number":
            num = float(tok.text)
            return Literal(int(num) if re.fullmatch(r"[-+]?\d+", tok.text) else num)
        if tok.kind == "ident" and tok.text in ("true", "false"):
            return Literal(tok.text == "true")
        if tok.kind == "ident":
            if tok.text not in FUNCTIONS and tok.text not in _SPECIAL:
                raise TemplateSyntaxError(f'function "{tok.text}" not defined', tok.at)
            return Call(tok.text, ())
        if tok.kind == "op" and tok.text == "(":
            inner = self.pipeline()
            if not self.at_op(")"):
                raise TemplateSyntaxError("unclosed '('", tok.at)
            self.i += 1
            return inner
        raise TemplateSyntaxError(f"unexpected {tok.text!r}", tok.at)


@dataclass(frozen=True, slots=True)
class Template:
    source: str
    parts: tuple[Part, ...]

    @property
    def fields(self) -> frozenset[str]:
        """The labels the template reads (``{{.a}}``)."""
        out: set[str] = set()

        def walk(node: Arg | Call) -> None:
            if isinstance(node, Field):
                out.add(node.name)
            elif isinstance(node, Call):
                for a in node.args:
                    walk(a)
            elif isinstance(node, Pipeline):
                for c in node.commands:
                    walk(c)
        def walk_parts(parts: tuple[Part, ...]) -> None:
            for p in parts:
                if isinstance(p, Pipeline):
                    walk(p)
                elif isinstance(p, IfBlock):
                    walk(p.cond)
                    walk_parts(p.then)
                    walk_parts(p.otherwise)
        walk_parts(self.parts)
        return frozenset(out)

    def render(self, ctx: Context) -> str:
        return _render(self.parts, ctx)


@dataclass(slots=True)
class _Frame:
    """An ``if`` being read: its condition, its parts so far, where ``else`` moved to."""

    cond: Pipeline | None
    then: list[Part]
    otherwise: list[Part] | None = None
    chained: bool = False   # opened by "else if": closed by the same {{end}}
    at: int = 0
    rebind: bool = False    # a with

    @property
    def parts(self) -> list[Part]:
        return self.then if self.otherwise is None else self.otherwise

    def block(self) -> IfBlock:
        assert self.cond is not None
        return IfBlock(self.cond, _clean(self.then), _clean(self.otherwise or []),
                       rebind=self.rebind)


def _clean(parts: list[Part]) -> tuple[Part, ...]:
    return tuple(x for x in parts if x != "")


def _pipeline_of(toks: list[_Tok], end: int) -> Pipeline:
    p = _ActionParser(toks, end)
    pipe = p.pipeline()
    if p.i < len(toks):
        raise TemplateSyntaxError(f"unexpected {toks[p.i].text!r} in command", toks[p.i].at)
    return pipe


def _control(toks: list[_Tok], end: int, stack: list[_Frame], start: int) -> None:
    """An ``if``/``with``/``else``/``end`` action on the stack of open blocks."""
    word = toks[0].text
    if word in ("if", "with"):
        if len(toks) < 2:  # "if" and its condition
            raise TemplateSyntaxError(f"missing value for {word}", start)
        stack.append(_Frame(_pipeline_of(toks[1:], end), [], at=start, rebind=word == "with"))
        return
    if len(stack) < 2:  # the root frame and an open if
        raise TemplateSyntaxError(f"unexpected {{{{{word}}}}}", start)
    top = stack[-1]
    if word == "else":
        if top.otherwise is not None:
            raise TemplateSyntaxError("unexpected {{else}} after {{else}}", start)
        top.otherwise = []
        if len(toks) > 1:
            if top.rebind:
                raise TemplateSyntaxError("expected {{end}} or {{else}} in a with",
                                          toks[1].at)
            if toks[1].text != "if" or len(toks) < 3:  # "else if" and its condition
                raise TemplateSyntaxError("expected 'else' or 'else if cond'", toks[1].at)
            stack.append(_Frame(_pipeline_of(toks[2:], end), [], chained=True, at=start))
        return
    if len(toks) > 1:
        raise TemplateSyntaxError("unexpected words after end", toks[1].at)
    while True:
        frame = stack.pop()
        stack[-1].parts.append(frame.block())
        if not frame.chained:
            return


def parse_template(text: str) -> Template:
    """A template's parts; ``TemplateSyntaxError`` says where it is wrong."""
    stack = [_Frame(None, [])]
    pos = 0
    trim_next = False
    while True:
        parts = stack[-1].parts
        start = text.find("{{", pos)
        if start < 0:
            tail = text[pos:]
            parts.append(tail.lstrip() if trim_next else tail)
            break
        lead = text[pos:start]
        body_start = start + 2
        if text.startswith("- ", body_start) or text.startswith("-\t", body_start):
            lead = lead.rstrip()
            body_start += 2
        parts.append(lead.lstrip() if trim_next else lead)
        end = text.find("}}", body_start)
        if end < 0:
            raise TemplateSyntaxError("unclosed action", start)
        body_end = end
        trim_next = False
        if text[body_start:end].endswith((" -", "\t-")):
            body_end = end - 2
            trim_next = True
        body = text[body_start:body_end]
        pos = end + 2
        stripped = body.strip()
        if stripped.startswith("/*"):
            if not stripped.endswith("*/"):
                raise TemplateSyntaxError("unclosed comment", start)
            continue
        toks = _tokens(body, body_start)
        if not toks:
            raise TemplateSyntaxError("missing value for command", start)
        if toks[0].kind == "ident" and toks[0].text in ("if", "with", "else", "end"):
            _control(toks, body_end, stack, start)
            continue
        parts.append(_pipeline_of(toks, body_end))
    if len(stack) > 1:
        word = "with" if stack[-1].rebind else "if"
        raise TemplateSyntaxError(f"unexpected EOF: an {{{{{word}}}}} without {{{{end}}}}",
                                  stack[-1].at)
    return Template(text, _clean(stack[0].then))


def truth(v: Value) -> bool:
    """Go's ``if``: false, 0 and "" are false, anything else true."""
    if isinstance(v, Time):
        return True
    return bool(v)


def _render(parts: tuple[Part, ...], ctx: Context) -> str:
    out: list[str] = []
    for p in parts:
        if isinstance(p, str):
            out.append(p)
        elif isinstance(p, IfBlock):
            value = _run(p.cond, ctx)
            if not truth(value):
                out.append(_render(p.otherwise, ctx))
            else:
                out.append(_render(p.then, replace(ctx, dot=value) if p.rebind else ctx))
        else:
            out.append(go_str(_run(p, ctx)))
    return "".join(out)


def _run(node: Arg | Call, ctx: Context, piped: tuple[Value, ...] = ()) -> Value:
    if isinstance(node, Field):
        if piped:
            raise RenderError(f"can't give argument to non-function .{node.name}")
        if ctx.dot is not None and not isinstance(ctx.dot, LabelMap):
            raise RenderError(f"can't evaluate field {node.name} in type {_go_type(ctx.dot)}")
        return ctx.labels.get(node.name, "")
    if isinstance(node, Dot):
        if piped:
            raise RenderError("can't give argument to non-function .")
        return LabelMap(ctx.labels) if ctx.dot is None else ctx.dot
    if isinstance(node, Literal):
        if piped:
            raise RenderError(f"can't give argument to non-function {go_str(node.value)}")
        return node.value
    if isinstance(node, Pipeline):
        value: tuple[Value, ...] = piped
        for cmd in node.commands:
            value = (_run(cmd, ctx, value),)
        return value[0]
    args = tuple(_run(a, ctx) for a in node.args) + piped
    if node.func == "__line__":
        return ctx.line
    if node.func == "__timestamp__":
        return Time(ctx.ts_ns)
    try:
        return FUNCTIONS[node.func](*args)
    except RenderError:
        raise
    except (TypeError, ValueError, re.error, OverflowError) as exc:
        raise RenderError(f"error calling {node.func}: {exc}") from None
