"""LogQL, the subset perflab evaluates: its syntax tree and a parser that points at the column.

Grammar (Loki's docs, "LogQL"; pkg/logql/syntax):

    query     := log_query | metric
    log_query := selector stage*
    selector  := '{' matcher (',' matcher)* '}'       matcher := name ('='|'!='|'=~'|'!~') string
    stage     := ('|=' | '!=' | '|~' | '!~') string   line filters
               | '|' 'json' | '|' 'logfmt'             parsers
               | '|' label_expr                        label filters: and, or, ',' and ( )
               | '|' 'line_format' string
    metric    := range_fn '(' log_query '[' duration ']' ')'
               | agg ['by'|'without' '(' names ')'] '(' metric ')' ['by'|'without' '(' names ')']
    range_fn  := count_over_time | rate | bytes_over_time | bytes_rate
    agg       := sum | count | avg | min | max

A label filter compares a label with a string (``=``, ``!=``, ``=~``, ``!~``), a number or a
duration (``==``, ``!=``, ``>``, ``>=``, ``<``, ``<=``). Regexps are anchored in matchers and
label filters, unanchored in line filters, as in Loki. Errors are ``LogQLError`` with the
1-based column of the offending token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from perflab.errors import InvalidValue

RANGE_FUNCS = ("count_over_time", "rate", "bytes_over_time", "bytes_rate")
AGGREGATIONS = ("sum", "count", "avg", "min", "max")
PARSERS = ("json", "logfmt")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d|w|y))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w|y)")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_UNIT_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
            "h": 3600 * 10**9, "d": 86400 * 10**9, "w": 7 * 86400 * 10**9,
            "y": 365 * 86400 * 10**9}
TEMPLATE_FIELD = re.compile(r"\{\{\s*(?:\.([A-Za-z_][A-Za-z0-9_]*)|(__line__))\s*\}\}")
MAX_RANGE_NS = 10 * 365 * 86400 * 10**9
_OPS = ("|=", "|~", "!=", "!~", "=~", "==", ">=", "<=", "=", ">", "<", "|", "{", "}", "(",
        ")", "[", "]", ",")


class LogQLError(InvalidValue):
    """An invalid LogQL query; ``column`` is 1-based."""

    def __init__(self, message: str, column: int, query: str) -> None:
        pointer = " " * (column - 1) + "^"
        super().__init__(f"invalid LogQL at column {column}: {message}",
                         hint=f"{query}\n        {pointer}" if "\n" not in query else None)
        self.column = column
        self.detail = message


def parse_duration_ns(text: str) -> int:
    """A Prometheus/Loki duration (``5m``, ``1h30m``, ``250ms``) in nanoseconds."""
    if not _DURATION.fullmatch(text):
        raise ValueError(f"not a duration: {text!r}")
    return int(sum(float(n) * _UNIT_NS[u] for n, u in _DURATION_PART.findall(text)))


# -- the tree ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: str              # = != =~ !~
    value: str
    regex: re.Pattern[str] | None = None

    def matches(self, got: str) -> bool:
        if self.op == "=":
            return got == self.value
        if self.op == "!=":
            return got != self.value
        assert self.regex is not None
        hit = self.regex.fullmatch(got) is not None
        return hit if self.op == "=~" else not hit


@dataclass(frozen=True, slots=True)
class LineFilter:
    op: str              # |= != |~ !~
    value: str
    regex: re.Pattern[str] | None = None

    def keeps(self, line: str) -> bool:
        if self.op == "|=":
            return self.value in line
        if self.op == "!=":
            return self.value not in line
        assert self.regex is not None
        hit = self.regex.search(line) is not None
        return hit if self.op == "|~" else not hit


@dataclass(frozen=True, slots=True)
class Parser:
    kind: str            # json, logfmt


@dataclass(frozen=True, slots=True)
class Compare:
    """A label compared with a number (a duration is its seconds), or matched as a string."""

    name: str
    op: str
    number: float | None = None
    matcher: Matcher | None = None
    duration: bool = False  # the label's value is read as a Go duration (1.5s, 250ms)


@dataclass(frozen=True, slots=True)
class BoolExpr:
    op: str              # and, or
    left: LabelExpr
    right: LabelExpr


LabelExpr = Compare | BoolExpr


@dataclass(frozen=True, slots=True)
class LabelFilter:
    expr: LabelExpr


@dataclass(frozen=True, slots=True)
class LineFormat:
    template: str


Stage = LineFilter | Parser | LabelFilter | LineFormat


@dataclass(frozen=True, slots=True)
class LogQuery:
    matchers: tuple[Matcher, ...]
    stages: tuple[Stage, ...] = ()

    def line_substrings(self) -> list[str]:
        """The ``|=`` strings before any parser or line_format: every line kept contains
        them, so the store's full-text index can find the candidates."""
        out = []
        for s in self.stages:
            if isinstance(s, LineFilter):
                if s.op == "|=" and s.value:
                    out.append(s.value)
            elif isinstance(s, LineFormat):
                break
        return out


@dataclass(frozen=True, slots=True)
class RangeAgg:
    func: str
    query: LogQuery
    range_ns: int


@dataclass(frozen=True, slots=True)
class VectorAgg:
    op: str
    inner: RangeAgg | VectorAgg
    grouping: tuple[str, ...] = ()
    without: bool = False
    by: bool = field(default=False)


Expr = LogQuery | RangeAgg | VectorAgg


# -- lexing --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Token:
    kind: str            # op, name, string, duration, number, eof
    text: str
    col: int             # 1-based


def _string(query: str, i: int) -> tuple[str, int]:
    quote = query[i]
    j = i + 1
    if quote == "`":
        end = query.find("`", j)
        if end < 0:
            raise LogQLError("unterminated raw string", i + 1, query)
        return query[j:end], end + 1
    buf: list[str] = []
    while j < len(query) and query[j] != quote:
        if query[j] == "\\" and j + 1 < len(query):
            c = query[j + 1]
            buf.append({"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}.get(
                c, "\\" + c))
            j += 2
            continue
        buf.append(query[j])
        j += 1
    if j >= len(query):
        raise LogQLError("unterminated string", i + 1, query)
    return "".join(buf), j + 1


def tokenize(query: str) -> list[Token]:
    out: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c in " \t\r\n":
            i += 1
            continue
        if c in '"`':
            text, j = _string(query, i)
            out.append(Token("string", text, i + 1))
            i = j
            continue
        m = _DURATION.match(query, i)
        if m and (m.end() == n or not (query[m.end()].isalnum() or query[m.end()] == "_")):
            out.append(Token("duration", m.group(), i + 1))
            i = m.end()
            continue
        m = _NUMBER.match(query, i) if (c.isdigit() or c in ".-+") else None
        if m:
            out.append(Token("number", m.group(), i + 1))
            i = m.end()
            continue
        m = _NAME.match(query, i)
        if m:
            out.append(Token("name", m.group(), i + 1))
            i = m.end()
            continue
        for op in _OPS:
            if query.startswith(op, i):
                out.append(Token("op", op, i + 1))
                i += len(op)
                break
        else:
            raise LogQLError(f"unexpected character {c!r}", i + 1, query)
    out.append(Token("eof", "", n + 1))
    return out


# -- parsing -------------------------------------------------------------------------------------

class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.toks = tokenize(query)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def fail(self, message: str, tok: Token | None = None) -> LogQLError:
        return LogQLError(message, (tok or self.tok).col, self.query)

    def next(self) -> Token:
        t = self.tok
        self.i += 1
        return t

    def expect(self, kind: str, text: str | None = None) -> Token:
        t = self.tok
        if t.kind != kind or (text is not None and t.text != text):
            want = repr(text) if text is not None else f"a {kind}"
            got = "the end of the query" if t.kind == "eof" else repr(t.text)
            raise self.fail(f"expected {want}, found {got}")
        return self.next()

    def at(self, kind: str, text: str | None = None) -> bool:
        return self.tok.kind == kind and (text is None or self.tok.text == text)

    # query := log_query | metric
    def parse(self) -> Expr:
        expr: Expr = self.log_query() if self.at("op", "{") else self.metric()
        if not self.at("eof"):
            raise self.fail(f"unexpected {self.tok.text!r} after the end of the query")
        return expr

    def regex(self, tok: Token, value: str) -> re.Pattern[str]:
        try:
            return re.compile(value)
        except re.error as exc:
            raise self.fail(f"invalid regexp {value!r}: {exc}", tok) from None

    def matcher(self) -> Matcher:
        name = self.expect("name")
        op = self.tok
        if not (op.kind == "op" and op.text in ("=", "!=", "=~", "!~")):
            raise self.fail("expected a matcher operator (=, !=, =~ or !~)")
        self.next()
        value = self.expect("string")
        rx = self.regex(value, value.text) if op.text in ("=~", "!~") else None
        return Matcher(name.text, op.text, value.text, rx)

    def selector(self) -> tuple[Matcher, ...]:
        open_tok = self.expect("op", "{")
        matchers = [self.matcher()]
        while self.at("op", ","):
            self.next()
            matchers.append(self.matcher())
        self.expect("op", "}")
        if all(m.matches("") for m in matchers):
            raise self.fail("a stream selector needs at least one matcher that does not match "
                            'the empty value (as Loki requires: {job="x"}, not {job=~".*"})',
                            open_tok)
        return tuple(matchers)

    def log_query(self) -> LogQuery:
        matchers = self.selector()
        stages: list[Stage] = []
        while self.tok.kind == "op" and self.tok.text in ("|=", "!=", "|~", "!~", "|"):
            stages.append(self.stage())
        return LogQuery(matchers, tuple(stages))

    def stage(self) -> Stage:
        op = self.next()
        if op.text != "|":
            value = self.expect("string")
            rx = self.regex(value, value.text) if op.text in ("|~", "!~") else None
            return LineFilter(op.text, value.text, rx)
        if self.at("name") and self.tok.text in PARSERS and not self._is_comparison(1):
            return Parser(self.next().text)
        if self.at("name", "line_format") and not self._is_comparison(1):
            self.next()
            tok = self.expect("string")
            rest = TEMPLATE_FIELD.sub("", tok.text)
            if "{{" in rest or "}}" in rest:
                raise self.fail("line_format takes {{.label}} and {{__line__}} only here", tok)
            return LineFormat(tok.text)
        if self.at("name") or self.at("op", "("):
            return LabelFilter(self.label_or())
        raise self.fail("expected a parser (json, logfmt), line_format or a label filter "
                        "after '|'")

    def _is_comparison(self, k: int) -> bool:
        t = self.peek(k)
        return t.kind == "op" and t.text in ("=", "!=", "=~", "!~", "==", ">", ">=", "<", "<=")

    def label_or(self) -> LabelExpr:
        left = self.label_and()
        while self.at("name", "or"):
            self.next()
            left = BoolExpr("or", left, self.label_and())
        return left

    def label_and(self) -> LabelExpr:
        left = self.label_atom()
        while self.at("name", "and") or self.at("op", ","):
            self.next()
            left = BoolExpr("and", left, self.label_atom())
        return left

    def label_atom(self) -> LabelExpr:
        if self.at("op", "("):
            self.next()
            inner = self.label_or()
            self.expect("op", ")")
            return inner
        name = self.expect("name")
        op = self.tok
        if not self._is_comparison(0):
            raise self.fail("expected a comparison (=, !=, =~, !~, ==, >, >=, <, <=) after "
                            f"the label {name.text!r}")
        self.next()
        value = self.tok
        if value.kind == "string":
            self.next()
            if op.text in ("=", "!=", "=~", "!~"):
                rx = self.regex(value, value.text) if op.text in ("=~", "!~") else None
                return Compare(name.text, op.text, matcher=Matcher(name.text, op.text,
                                                                    value.text, rx))
            raise self.fail(f"{op.text} compares numbers; a string needs = or !=", op)
        if value.kind in ("number", "duration"):
            self.next()
            if op.text in ("=~", "!~"):
                raise self.fail(f"{op.text} takes a string", value)
            number = (float(value.text) if value.kind == "number"
                      else parse_duration_ns(value.text) / 1e9)
            return Compare(name.text, "==" if op.text == "=" else op.text, number=number,
                           duration=value.kind == "duration")
        raise self.fail("expected a string, number or duration to compare with")

    def metric(self) -> RangeAgg | VectorAgg:
        t = self.tok
        if t.kind == "name" and t.text in RANGE_FUNCS:
            return self.range_agg()
        if t.kind == "name" and t.text in AGGREGATIONS:
            return self.vector_agg()
        if t.kind == "eof":
            raise self.fail("empty query")
        raise self.fail(f"expected a stream selector '{{...}}', a range function "
                        f"({', '.join(RANGE_FUNCS)}) or an aggregation "
                        f"({', '.join(AGGREGATIONS)}), found {t.text!r}")

    def range_agg(self) -> RangeAgg:
        func = self.next().text
        self.expect("op", "(")
        query = self.log_query()
        self.expect("op", "[")
        dur = self.expect("duration")
        range_ns = parse_duration_ns(dur.text)
        if not 0 < range_ns <= MAX_RANGE_NS:
            raise self.fail("the range must be positive and at most 10 years", dur)
        self.expect("op", "]")
        self.expect("op", ")")
        return RangeAgg(func, query, range_ns)

    def grouping(self) -> tuple[str, ...]:
        self.expect("op", "(")
        names: list[str] = []
        if not self.at("op", ")"):
            names.append(self.expect("name").text)
            while self.at("op", ","):
                self.next()
                names.append(self.expect("name").text)
        self.expect("op", ")")
        return tuple(names)

    def vector_agg(self) -> VectorAgg:
        op = self.next().text
        grouping: tuple[str, ...] = ()
        mode = ""
        if self.at("name", "by") or self.at("name", "without"):
            mode = self.next().text
            grouping = self.grouping()
        self.expect("op", "(")
        inner = self.metric()
        self.expect("op", ")")
        if not mode and (self.at("name", "by") or self.at("name", "without")):
            mode = self.next().text
            grouping = self.grouping()
        return VectorAgg(op, inner, grouping, without=mode == "without", by=mode == "by")


def parse(query: str) -> Expr:
    """The syntax tree of a LogQL query; ``LogQLError`` (exit 2) with its column otherwise."""
    return _Parser(query).parse()


def parse_selector(text: str) -> tuple[Matcher, ...]:
    """A stream selector alone (what a Loki push names its stream with)."""
    p = _Parser(text)
    matchers = p.selector()
    if not p.at("eof"):
        raise p.fail(f"unexpected {p.tok.text!r} after the stream selector")
    return matchers
