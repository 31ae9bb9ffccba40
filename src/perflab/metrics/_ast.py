"""PromQL parsed by ``promql-parser`` into perflab's own small, immutable syntax tree.

The parser is a maintained Rust port of Prometheus's grammar (including its type checks: a
range vector where an instant vector belongs, a wrong argument count). Its objects are read once
here and turned into plain dataclasses the evaluator walks many times. Its error messages carry
no position, so ``parse`` finds the column itself: the first character after which no ending
can make the text a valid expression (see ``_error_column``), and reports it as Prometheus
does: ``1:5: parse error: ...``.

Prometheus 2.x semantics are evaluated (the Debian peer is 2.42); ``holt_winters`` is
registered with the parser, which knows only its 3.x name ``double_exponential_smoothing``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

import promql_parser as pp

from perflab.errors import InvalidValue

MAX_QUERY_CHARS = 64 * 1024  # longer queries are refused before parsing
_POSITION_SEARCH_CHARS = 2000  # beyond this an error is reported without a column

ValueType = Literal["scalar", "vector", "matrix", "string"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)


class PromQLError(InvalidValue):
    """A query that does not parse, or that fails to evaluate (exit 2; the API's 400/422).

    ``kind`` is the Prometheus API's ``errorType``: ``bad_data`` for a parse error,
    ``execution`` for an evaluation error (many-to-many matching, too many samples).
    """

    def __init__(self, message: str, *, kind: str = "bad_data", hint: str | None = None,
                 column: int | None = None) -> None:
        super().__init__(message, hint=hint)
        self.kind = kind
        self.column = column


# -- nodes ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: Literal["=", "!=", "=~", "!~"]
    value: str
    regex: re.Pattern[str] | None = None

    def matches(self, value: str) -> bool:
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        assert self.regex is not None
        hit = self.regex.fullmatch(value) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f"{self.name}{self.op}{_quote(self.value)}"


@dataclass(frozen=True, slots=True)
class At:
    """``@ <time>`` (``ms``), ``@ start()`` or ``@ end()``."""

    kind: Literal["at", "start", "end"]
    ms: int = 0


@dataclass(frozen=True, slots=True)
class NumberLit:
    value: float
    type: ValueType = "scalar"


@dataclass(frozen=True, slots=True)
class StringLit:
    value: str
    type: ValueType = "string"


@dataclass(frozen=True, slots=True)
class VectorSel:
    name: str | None
    matchers: tuple[Matcher, ...]
    offset_ms: int = 0
    at: At | None = None
    type: ValueType = "vector"


@dataclass(frozen=True, slots=True)
class MatrixSel:
    selector: VectorSel
    range_ms: int
    type: ValueType = "matrix"


@dataclass(frozen=True, slots=True)
class Subquery:
    expr: Node
    range_ms: int
    step_ms: int  # 0: the engine's default step
    offset_ms: int = 0
    at: At | None = None
    type: ValueType = "matrix"


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Node, ...]
    type: ValueType = "vector"


@dataclass(frozen=True, slots=True)
class Aggregate:
    op: str
    expr: Node
    param: Node | None
    grouping: tuple[str, ...]
    without: bool
    type: ValueType = "vector"


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    lhs: Node
    rhs: Node
    card: Literal["one-to-one", "many-to-one", "one-to-many", "many-to-many"]
    on: bool
    matching: tuple[str, ...]
    include: tuple[str, ...]
    return_bool: bool
    type: ValueType = "vector"


@dataclass(frozen=True, slots=True)
class Unary:
    op: Literal["-", "+"]
    expr: Node
    type: ValueType = "vector"


@dataclass(frozen=True, slots=True)
class Paren:
    expr: Node
    type: ValueType = "vector"


Node = (NumberLit | StringLit | VectorSel | MatrixSel | Subquery | Call | Aggregate | Binary
        | Unary | Paren)

SET_OPS = frozenset({"and", "or", "unless"})
COMPARISON_OPS = frozenset({"==", "!=", ">", "<", ">=", "<="})


# -- parsing -------------------------------------------------------------------------------------

@functools.cache  # the parser's registry is process-wide: once
def _register_functions() -> None:
    vt = pp.ValueType
    with contextlib.suppress(ValueError):  # already known to this parser version
        pp.register_extra_functions([
            pp.Function("holt_winters", [vt.Matrix, vt.Scalar, vt.Scalar], vt.Vector),
        ])


def parse(text: str) -> Node:
    """The syntax tree of a PromQL expression; ``PromQLError`` (with the column) if invalid."""
    if len(text) > MAX_QUERY_CHARS:
        raise PromQLError(f"the query is {len(text):,} characters long; at most "
                          f"{MAX_QUERY_CHARS:,} are allowed")
    _register_functions()
    try:
        raw = _parse_raw(text)
    except PromQLError as exc:
        column = _error_column(text)
        if column is None:
            raise PromQLError(f"parse error: {exc.message}") from None
        line = text.count("\n", 0, column - 1) + 1
        col = column - (text.rfind("\n", 0, column - 1) + 1)
        raise PromQLError(f"{line}:{col}: parse error: {exc.message}", column=column,
                          hint="see https://prometheus.io/docs/prometheus/latest/querying/"
                               "basics/") from None
    return _convert(raw)


def _parse_raw(text: str) -> Any:
    if "\x00" in text:
        raise PromQLError("unexpected character: NUL")
    try:
        return pp.parse(text)
    except ValueError as exc:
        raise PromQLError(str(exc) or "invalid expression") from None
    except BaseException as exc:  # the Rust parser panics on a few inputs (pyo3 PanicException)
        if isinstance(exc, (KeyboardInterrupt, SystemExit, MemoryError)):
            raise
        raise PromQLError(f"invalid expression ({type(exc).__name__})") from None


# Endings tried after a prefix: if one of them makes the prefix parse, the error lies later.
_ENDINGS = ("", " 1", " x", ")", "))", ")))", "]", "}", '"}', '")', "'}", "')", '"', "'",
            "[5m])", "5m])", "m])", "m]", "1]", "[5m]", ":1m])", "1m])", "1m]", ")[5m:1m]",
            " 1)", " x)", "(x)", " (x)", "(x))", "x)", "1)", ")(x)", '", x)', ", x)", ", 1)",
            " on(x) x", " by(x) (x)", "x}", '="x"}', '"x"}', 'x="x"}', "=x", ", x))",
            "x[5m])", "m)", "5m", "m", "x", "1", "()", "(x[5m]))")


def _closers(text: str) -> str:
    """The brackets that close what ``text`` left open (strings skipped)."""
    stack: list[str] = []
    quote = ""
    escaped = False
    for c in text:
        if quote:
            if escaped:
                escaped = False
            elif c == "\\" and quote != "`":
                escaped = True
            elif c == quote:
                quote = ""
            continue
        if c in "\"'`":
            quote = c
        elif c in "([{":
            stack.append({"(": ")", "[": "]", "{": "}"}[c])
        elif c in ")]}" and stack and stack[-1] == c:
            stack.pop()
    return (quote or "") + "".join(reversed(stack))


def _parses(text: str) -> bool:
    try:
        pp.parse(text)
    except BaseException as exc:  # any failure means "not this ending"
        if isinstance(exc, (KeyboardInterrupt, SystemExit, MemoryError)):
            raise
        return False
    return True


def _viable(prefix: str) -> bool:
    for ending in _ENDINGS:
        candidate = prefix + ending
        if _parses(candidate) or _parses(candidate + _closers(candidate)):
            return True
    return False


def _error_column(text: str) -> int | None:
    """The 1-based column of the first character after which the text cannot be completed
    into a valid expression (tried with common endings); None for long texts."""
    if len(text) > _POSITION_SEARCH_CHARS:
        return None
    for k in range(1, len(text) + 1):
        if text[k - 1].isspace():
            continue
        if not _viable(text[:k]):
            # the token that broke it starts at or before k: step back over its characters
            start = k
            while start > 1 and (text[start - 2].isalnum() or text[start - 2] in "_:.")\
                    and (text[start - 1].isalnum() or text[start - 1] in "_:."):
                start -= 1
            return start
    return len(text.rstrip()) + 1 if text.strip() else 1


def _ms(delta: dt.timedelta | None) -> int:
    if delta is None:
        return 0
    return delta // _MS


def _at(raw: Any) -> At | None:
    if raw is None:
        return None
    kind = raw.type
    if kind == pp.AtModifierType.Start:
        return At("start")
    if kind == pp.AtModifierType.End:
        return At("end")
    try:
        when = raw.at
    except BaseException as exc:  # a time before 1970 panics in the binding
        if isinstance(exc, (KeyboardInterrupt, SystemExit, MemoryError)):
            raise
        raise PromQLError("@ times before 1970 are not supported") from None
    return At("at", (when - _EPOCH) // _MS)


_MATCH_OPS: dict[str, Literal["=", "!=", "=~", "!~"]] = {
    "MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def _matcher(raw: Any) -> Matcher:
    op = _MATCH_OPS[str(raw.op)]
    regex = None
    if op in ("=~", "!~"):
        regex = compile_regex(raw.value)
    return Matcher(raw.name, op, raw.value, regex)


def compile_regex(text: str) -> re.Pattern[str]:
    """A Prometheus (RE2) regular expression as Python's, matched whole (``fullmatch``)."""
    from perflab.metrics._re2 import translate  # noqa: PLC0415

    try:
        return re.compile(f"(?:{translate(text)})")
    except (re.error, OverflowError, RecursionError) as exc:
        raise PromQLError(f"invalid regular expression {text!r}: {exc}") from None


def _convert(raw: Any) -> Node:  # one branch per node type
    if isinstance(raw, pp.NumberLiteral):
        return NumberLit(float(raw.val))
    if isinstance(raw, pp.StringLiteral):
        return StringLit(str(raw.val))
    if isinstance(raw, pp.VectorSelector):
        return _vector(raw)
    if isinstance(raw, pp.MatrixSelector):
        return MatrixSel(_vector(raw.vector_selector), _ms(raw.range))
    if isinstance(raw, pp.SubqueryExpr):
        inner = _convert(raw.expr)
        return Subquery(inner, _ms(raw.range), _ms(raw.step), _ms(raw.offset), _at(raw.at))
    if isinstance(raw, pp.Call):
        args = tuple(_convert(a) for a in raw.args)
        rtype = _VALUE_TYPES[str(raw.func.return_type)]
        return Call(str(raw.func.name), args, rtype)
    if isinstance(raw, pp.AggregateExpr):
        grouping: tuple[str, ...] = ()
        without = False
        if raw.modifier is not None:
            grouping = tuple(raw.modifier.labels)
            without = raw.modifier.type == pp.AggModifierType.Without
        param = None if raw.param is None else _convert(raw.param)
        return Aggregate(str(raw.op), _convert(raw.expr), param, grouping, without)
    if isinstance(raw, pp.BinaryExpr):
        return _binary(raw)
    if isinstance(raw, pp.UnaryExpr):
        inner = _convert(raw.expr)
        return Unary("-", inner, inner.type)
    if isinstance(raw, pp.ParenExpr):
        inner = _convert(raw.expr)
        return Paren(inner, inner.type)
    raise PromQLError(f"unsupported expression {type(raw).__name__}")


_VALUE_TYPES: dict[str, ValueType] = {
    "ValueType.Vector": "vector", "ValueType.Scalar": "scalar", "ValueType.Matrix": "matrix",
    "ValueType.String": "string",
}


def _vector(raw: Any) -> VectorSel:
    matchers = [_matcher(m) for m in raw.matchers.matchers]
    if raw.matchers.or_matchers:
        raise PromQLError("'or' inside a selector's braces is not supported")
    name = raw.name
    if name is not None:
        matchers.insert(0, Matcher("__name__", "=", str(name)))
    return VectorSel(None if name is None else str(name), tuple(matchers), _ms(raw.offset),
                     _at(raw.at))


_CARDS: dict[str, Literal["one-to-one", "many-to-one", "one-to-many", "many-to-many"]] = {
    "VectorMatchCardinality.OneToOne": "one-to-one",
    "VectorMatchCardinality.ManyToOne": "many-to-one",
    "VectorMatchCardinality.OneToMany": "one-to-many",
    "VectorMatchCardinality.ManyToMany": "many-to-many",
}


def _binary(raw: Any) -> Binary:
    op = str(raw.op).lower()
    lhs, rhs = _convert(raw.lhs), _convert(raw.rhs)
    card: Literal["one-to-one", "many-to-one", "one-to-many", "many-to-many"] = (
        "many-to-many" if op in SET_OPS else "one-to-one")
    on = False
    matching: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    return_bool = False
    mod = raw.modifier
    if mod is not None:
        card = _CARDS[str(mod.card)]
        if op in SET_OPS:
            card = "many-to-many"
        if mod.matching is not None:
            on = mod.matching.type == pp.LabelModifierType.Include
            matching = tuple(mod.matching.labels)
        include = tuple(mod.group_labels or ())
        return_bool = bool(mod.return_bool)
        fill = getattr(mod, "fill_values", None)
        if fill is not None and (fill.lhs is not None or fill.rhs is not None):
            raise PromQLError("fill() modifiers are not supported")
    vtype: ValueType = "scalar" if lhs.type == "scalar" and rhs.type == "scalar" else "vector"
    return Binary(op, lhs, rhs, card, on, matching, include, return_bool, vtype)


# -- printing (rule files, the API's formatted queries, error messages) ------------------------

def _quote(text: str) -> str:
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{out}"'


def format_duration(ms: int) -> str:
    """Prometheus's duration spelling: ``1h30m``, ``5m``, ``1500ms``."""
    if ms == 0:
        return "0s"
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    out = ""
    for unit, size in (("y", 365 * 86_400_000), ("w", 7 * 86_400_000), ("d", 86_400_000),
                       ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            out += f"{ms // size}{unit}"
            ms %= size
    return sign + out


def format_number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)
