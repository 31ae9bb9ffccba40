"""Go's ``text/template`` as Prometheus uses it in alert labels and annotations.

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
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

from perflab.errors import InvalidValue
from perflab.metrics._gocompat import format_float_g

MAX_OUTPUT = 1 << 20  # characters one expansion may produce
MAX_STEPS = 100_000   # actions one expansion may run (range over a big query ...)


class TemplateError(InvalidValue):
    pass


# -- lexing ---------------------------------------------------------------------------------------

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_TOKEN = re.compile(r"""
    \s*(?:
      (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<raw>`[^`]*`)
    | (?P<char>'(?:[^'\\]|\\.)+')
    | (?P<num>[+-]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))
    | (?P<decl>:=)
    | (?P<assign>=)
    | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
    | (?P<field>(?:\.[A-Za-z0-9_]+)+|\.)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
    | (?P<punct>[()|,])
    )""", re.VERBOSE)


@dataclass(slots=True)
class _Tok:
    kind: str
    text: str


def _tokens(action: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    action = action.strip()
    while pos < len(action):
        m = _TOKEN.match(action, pos)
        if m is None or m.end() == pos:
            if action[pos:].strip() == "":
                break
            raise TemplateError(f"unexpected {action[pos:pos + 10]!r} in action")
        kind = m.lastgroup or ""
        out.append(_Tok(kind, m.group(kind)))
        pos = m.end()
    return out


# -- the tree ---------------------------------------------------------------------------------

@dataclass(slots=True)
class _Pipe:
    decl: list[str]
    assign: bool
    cmds: list[list[Any]]   # each command: a list of operands


@dataclass(slots=True)
class _Node:
    kind: str                      # text, action, if, range, with
    text: str = ""
    pipe: _Pipe | None = None
    body: list[_Node] = field(default_factory=list)
    orelse: list[_Node] = field(default_factory=list)


def parse_template(text: str) -> list[_Node]:
    if len(text) > MAX_OUTPUT:
        raise TemplateError("the template is too long")
    pieces: list[tuple[str, str]] = []
    pos = 0
    for m in _ACTION.finditer(text):
        chunk = text[pos:m.start()]
        if m.group(1):
            chunk = chunk.rstrip()
        if pieces and pieces[-1][0] == "trim-next":
            pieces.pop()
            chunk = chunk.lstrip()
        pieces.append(("text", chunk))
        pieces.append(("action", m.group(2)))
        if m.group(3):
            pieces.append(("trim-next", ""))
        pos = m.end()
    tail = text[pos:]
    if pieces and pieces[-1][0] == "trim-next":
        pieces.pop()
        tail = tail.lstrip()
    if "{{" in tail:
        raise TemplateError("unclosed action")
    pieces.append(("text", tail))
    nodes, rest, end = _parse_list(pieces, 0)
    if end is not None:
        raise TemplateError(f"unexpected {{{{{end}}}}}")
    if rest != len(pieces):
        raise TemplateError("unexpected input after the template")
    return nodes


def _parse_list(pieces: list[tuple[str, str]], i: int) -> tuple[list[_Node], int, str | None]:
    """Nodes up to an ``end``/``else`` (returned as the third value) or the end."""
    out: list[_Node] = []
    while i < len(pieces):
        kind, text = pieces[i]
        i += 1
        if kind == "text":
            if text:
                out.append(_Node("text", text=text))
            continue
        body = text.strip()
        if body.startswith("/*"):
            if not body.endswith("*/"):
                raise TemplateError("unclosed comment")
            continue
        word = body.split(None, 1)[0] if body else ""
        if word in ("end", "else"):
            return out, i, body
        if word in ("if", "range", "with"):
            pipe = _parse_pipe(_tokens(body[len(word):]), allow_decl=word != "if")
            root = node = _Node(word, pipe=pipe)
            node.body, i, end = _parse_list(pieces, i)
            while end is not None and end.startswith("else"):
                rest = end[4:].strip()
                if rest.startswith(("if ", "with ")):  # else if / else with: a nested block
                    inner_word = rest.split(None, 1)[0]
                    inner = _Node(inner_word, pipe=_parse_pipe(
                        _tokens(rest[len(inner_word):]), allow_decl=inner_word == "with"))
                    inner.body, i, end = _parse_list(pieces, i)
                    node.orelse = [inner]
                    node = inner
                    continue
                node.orelse, i, end = _parse_list(pieces, i)
                break
            if end != "end":
                raise TemplateError(f"missing {{{{end}}}} for {{{{{word}}}}}")
            out.append(root)
            continue
        if word in ("define", "template", "block", "break", "continue"):
            raise TemplateError(f"{{{{{word}}}}} is not supported in alert templates")
        if not body:
            raise TemplateError("missing value for command")
        out.append(_Node("action", pipe=_parse_pipe(_tokens(body), allow_decl=True)))
    return out, i, None


def _parse_pipe(tokens: list[_Tok], *, allow_decl: bool) -> _Pipe:
    decl: list[str] = []
    assign = False
    # a declaration ($x :=, or $i, $v := in a range) or an assignment ($x =)
    for n in (1, 3):
        if len(tokens) > n and tokens[n].kind in ("decl", "assign") and tokens[0].kind == "var":
            names = [t.text for t in tokens[:n] if t.kind == "var"]
            if not allow_decl:
                raise TemplateError("declarations are not allowed here")
            decl, assign = names, tokens[n].kind == "assign"
            tokens = tokens[n + 1:]
            break
    cmds: list[list[Any]] = [[]]
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.kind == "punct" and t.text == "|":
            if not cmds[-1]:
                raise TemplateError("missing command before |")
            cmds.append([])
            i += 1
            continue
        if t.kind == "punct" and t.text == "(":
            depth = 1
            j = i + 1
            while j < len(tokens) and depth:
                if tokens[j].text == "(" and tokens[j].kind == "punct":
                    depth += 1
                elif tokens[j].text == ")" and tokens[j].kind == "punct":
                    depth -= 1
                j += 1
            if depth:
                raise TemplateError("unclosed left paren")
            cmds[-1].append(_parse_pipe(tokens[i + 1:j - 1], allow_decl=False))
            i = j
            continue
        if t.kind == "punct":
            raise TemplateError(f"unexpected {t.text!r}")
        cmds[-1].append(t)
        i += 1
    if not cmds[-1]:
        raise TemplateError("missing value for command")
    return _Pipe(decl, assign, cmds)


# -- running --------------------------------------------------------------------------------------

@dataclass(slots=True)
class Sample:
    """An element of a ``query`` result: ``.Labels`` and ``.Value``."""

    Labels: dict[str, str]  # Go's field names, as templates spell them
    Value: float


class _Missing:
    def __str__(self) -> str:
        return "<no value>"


MISSING = _Missing()


def go_str(value: Any) -> str:
    """``fmt.Sprint(value)``."""
    if value is None or value is MISSING:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float_g(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_str(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_str(v) for v in value) + "]"
    if isinstance(value, Sample):
        return "{" + go_str(value.Labels) + " " + go_str(value.Value) + "}"
    return str(value)


def _truth(value: Any) -> bool:
    if value is None or value is MISSING:
        return False
    if isinstance(value, (bool, int, float)):
        return bool(value)
    if isinstance(value, (str, list, dict, tuple)):
        return len(value) > 0
    return True


@dataclass
class Context:
    data: Any
    funcs: dict[str, Callable[..., Any]]
    out: list[str] = field(default_factory=list)
    steps: int = 0
    size: int = 0


def execute(nodes: list[_Node], data: Any, funcs: Mapping[str, Callable[..., Any]]) -> str:
    ctx = Context(data, {**_BUILTINS, **funcs})
    _run(ctx, nodes, data, [{"$": data}])
    return "".join(ctx.out)


def _emit(ctx: Context, text: str) -> None:
    ctx.size += len(text)
    if ctx.size > MAX_OUTPUT:
        raise TemplateError("the template's output is too long")
    ctx.out.append(text)


def _run(ctx: Context, nodes: list[_Node], dot: Any, scopes: list[dict[str, Any]]) -> None:
    for node in nodes:
        ctx.steps += 1
        if ctx.steps > MAX_STEPS:
            raise TemplateError("the template runs too long")
        if node.kind == "text":
            _emit(ctx, node.text)
            continue
        assert node.pipe is not None
        if node.kind == "action":
            value = _pipe(ctx, node.pipe, dot, scopes)
            if not node.pipe.decl:
                _emit(ctx, go_str(value))
            continue
        if node.kind == "if":
            value = _pipe(ctx, node.pipe, dot, scopes)
            _run(ctx, node.body if _truth(value) else node.orelse, dot, [*scopes, {}])
            continue
        if node.kind == "with":
            inner = [*scopes, {}]
            value = _pipe(ctx, node.pipe, dot, inner)
            if _truth(value):
                _run(ctx, node.body, value, inner)
            else:
                _run(ctx, node.orelse, dot, [*scopes, {}])
            continue
        if node.kind == "range":
            decl = node.pipe.decl
            pipe = _Pipe([], assign=False, cmds=node.pipe.cmds)
            value = _pipe(ctx, pipe, dot, scopes)
            items: list[tuple[Any, Any]]
            if isinstance(value, dict):
                items = [(k, value[k]) for k in sorted(value)]
            elif isinstance(value, (list, tuple)):
                items = list(enumerate(value))
            elif isinstance(value, int) and not isinstance(value, bool):
                items = [(i, i) for i in range(value)]
            elif value is None or value is MISSING:
                items = []
            else:
                raise TemplateError(f"range can't iterate over {go_str(value)}")
            if not items:
                _run(ctx, node.orelse, dot, [*scopes, {}])
            for key, item in items:
                scope: dict[str, Any] = {}
                if len(decl) == 1:
                    scope[decl[0]] = item
                elif len(decl) == 2:
                    scope[decl[0]], scope[decl[1]] = key, item
                _run(ctx, node.body, item, [*scopes, scope])


def _pipe(ctx: Context, pipe: _Pipe, dot: Any, scopes: list[dict[str, Any]]) -> Any:
    value: Any = MISSING
    first = True
    for cmd in pipe.cmds:
        value = _command(ctx, cmd, dot, scopes, None if first else value, piped=not first)
        first = False
    if pipe.decl:
        name = pipe.decl[-1]
        if pipe.assign:
            for scope in reversed(scopes):
                if name in scope:
                    scope[name] = value
                    break
            else:
                raise TemplateError(f"undefined variable: {name}")
        else:
            scopes[-1][name] = value
    return value


def _command(ctx: Context, cmd: list[Any], dot: Any, scopes: list[dict[str, Any]],
             piped_value: Any, *, piped: bool) -> Any:
    head = cmd[0]
    if isinstance(head, _Tok) and head.kind == "ident" and head.text not in (
            "true", "false", "nil") and "." not in head.text:
        fn = ctx.funcs.get(head.text)
        if fn is None:
            raise TemplateError(f'function "{head.text}" not defined')
        args = [_operand(ctx, a, dot, scopes) for a in cmd[1:]]
        if piped:
            args.append(piped_value)
        try:
            return fn(*args)
        except TemplateError:
            raise
        except (TypeError, ValueError, IndexError, KeyError, ZeroDivisionError,
                OverflowError, re.error) as exc:
            raise TemplateError(f"error calling {head.text}: {exc}") from None
    if len(cmd) > 1 or piped:
        raise TemplateError(f"can't give arguments to a non-function {_show(head)}")
    return _operand(ctx, head, dot, scopes)


def _show(op: Any) -> str:
    return op.text if isinstance(op, _Tok) else "(...)"


def _operand(ctx: Context, op: Any, dot: Any, scopes: list[dict[str, Any]]) -> Any:
    if isinstance(op, _Pipe):
        return _pipe(ctx, op, dot, scopes)
    tok: _Tok = op
    kind, text = tok.kind, tok.text
    if kind == "str":
        return _go_unquote(text)
    if kind == "raw":
        return text[1:-1]
    if kind == "char":
        return ord(_go_unquote('"' + text[1:-1] + '"')[:1] or "\0")
    if kind == "num":
        if re.fullmatch(r"[+-]?(0[xX][0-9a-fA-F]+|\d+)", text):
            try:
                return int(text, 0)
            except ValueError:  # Go reads a leading 0 as octal
                return int(text, 8)
        return float(text)
    if kind == "field":
        return _fields(dot, text.split(".")[1:] if text != "." else [])
    if kind == "var":
        name, *rest = text.split(".")
        for scope in reversed(scopes):
            if name in scope:
                return _fields(scope[name], rest)
        raise TemplateError(f"undefined variable: {name}")
    if kind == "ident":
        if text == "true":
            return True
        if text == "false":
            return False
        if text == "nil":
            return None
        raise TemplateError(f'function "{text}" not defined')
    raise TemplateError(f"unexpected {text!r}")


def _fields(value: Any, names: list[str]) -> Any:
    for name in names:
        if isinstance(value, dict):
            value = value.get(name, "" if all(isinstance(v, str) for v in value.values())
                              else MISSING)
        elif value is None or value is MISSING:
            raise TemplateError(f"nil pointer evaluating .{name}")
        elif hasattr(value, name):
            value = getattr(value, name)
        else:
            raise TemplateError(f"can't evaluate field {name} in type "
                                f"{type(value).__name__}")
    return value


def _go_unquote(text: str) -> str:
    from perflab.metrics._seriesdesc import read_string  # noqa: PLC0415

    try:
        return read_string(text, 0)[0]
    except Exception as exc:
        raise TemplateError(f"invalid string {text[:40]}: {exc}") from None


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
        if not _truth(a):
            return a
    return args[-1]


def _or(*args: Any) -> Any:
    for a in args:
        if _truth(a):
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
    "and": _and, "or": _or, "not": lambda v: not _truth(v),
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
    nodes: tuple[_Node, ...]

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
