"""LogQL, the subset perflab evaluates: its syntax tree and a parser that points at the column.

Grammar (Loki's docs, "LogQL"; pkg/logql/syntax):

    query     := log_query | metric
    log_query := selector stage*
    selector  := '{' matcher (',' matcher)* '}'       matcher := name ('='|'!='|'=~'|'!~') string
    stage     := ('|=' | '!=' | '|~' | '!~') term ('or' term)*    line filters
               | ('|>' | '!>') string ('or' string)*   a pattern of literals and <_>
    term      := string | 'ip' '(' string ')'         ip(): an address, range or CIDR
               | '|' ('json' | 'logfmt' | 'unpack')    parsers
               | '|' 'pattern' string | '|' 'regexp' string
               | '|' label_expr                        label filters: and, or, ',' and ( )
               | '|' 'line_format' string | '|' 'label_format' name '=' (name | string), ...
               | '|' ('drop' | 'keep') name [op string], ... | '|' 'decolorize'
    unwrap    := '|' 'unwrap' (name | ('duration' | 'duration_seconds' | 'bytes') '(' name ')')
                 ('|' label_expr)*                     only label filters after it
    metric    := metric binop ['bool'] [('on'|'ignoring') '(' names ')'
                 [('group_left'|'group_right') ['(' names ')']]] metric
               | range_fn '(' [number ','] log_query [unwrap] '[' duration ']'
                 ['offset' duration] ')' [grouping]
               | agg [grouping] '(' [number ','] metric ')' [grouping]
               | 'vector' '(' number ')' | number | '(' metric ')'
               | 'label_replace' '(' metric ',' string ',' string ',' string ',' string ')'
    binop     := 'or' < 'and' 'unless' < comparisons < '+' '-' < '*' '/' '%' < '^' (right)

A label filter compares a label with a string (``=``, ``!=``, ``=~``, ``!~``), a number, a
duration or a byte size (``==``, ``!=``, ``>``, ``>=``, ``<``, ``<=``), or with
``ip("...")`` (``=``, ``!=``). Regexps are anchored
in matchers and label filters, unanchored in line filters, as in Loki. A line filter's terms
joined by ``or`` (Loki 2.9+, pkg/logql/syntax/expr.y ``orFilter``) all take its operator: ``|=``,
``|~`` and ``|>`` keep a line any term matches (``AnyLineFilter``); ``!=``, ``!~`` and ``!>``
keep a line no term matches, which is one negated filter a term (Loki's ``newOrLineFilter``:
"!(left or right) == (!left and !right)"). As in Loki's grammar, an ``ip()`` term may end a
chain of terms, or end its first part and be followed by more (``|= "a" or ip("b") or "c"``),
once. Errors are ``LogQLError`` with the 1-based column of the offending token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from perflab.errors import InvalidValue
from perflab.logs._ipmatch import IPMatcher, IPPatternError, parse_ip_pattern
from perflab.logs._pattern import Pattern, PatternError, parse_line_pattern, parse_pattern
from perflab.logs._template import Template, TemplateSyntaxError, parse_template
from perflab.logs._units import parse_go_bytes
from perflab.logs._vecops import scalar_op

LINE_RANGE_FUNCS = ("count_over_time", "rate", "bytes_over_time", "bytes_rate")
UNWRAP_RANGE_FUNCS = ("sum_over_time", "avg_over_time", "max_over_time", "min_over_time",
                      "first_over_time", "last_over_time", "stddev_over_time",
                      "stdvar_over_time", "quantile_over_time", "rate_counter")
RANGE_FUNCS = (*LINE_RANGE_FUNCS, *UNWRAP_RANGE_FUNCS, "absent_over_time")
# Loki: "Except for sum_over_time, absent_over_time, rate and rate_counter, unwrapped range
# aggregations support grouping" (docs/sources/query/metric_queries.md)
_GROUPABLE_RANGE = frozenset(UNWRAP_RANGE_FUNCS) - {"sum_over_time", "rate_counter"}
AGGREGATIONS = ("sum", "count", "avg", "min", "max", "stddev", "stdvar", "topk", "bottomk",
                "sort", "sort_desc", "approx_topk")
# approx_topk is Loki's count-min-sketch estimate of topk (docs/sources/query/metric_queries.md,
# "Probabilistic aggregation"): on data read exactly its answer is topk's
K_AGGREGATIONS = ("topk", "bottomk", "approx_topk")
PARSERS = ("json", "logfmt", "unpack")
CONVERSIONS = ("duration", "duration_seconds", "bytes")
# binary operators by precedence, lowest first (Prometheus's, which Loki follows)
PRECEDENCE = {"or": 1, "and": 2, "unless": 2, "==": 3, "!=": 3, ">": 3, ">=": 3, "<": 3,
              "<=": 3, "+": 4, "-": 4, "*": 5, "/": 5, "%": 5, "^": 6}
COMPARISONS = frozenset({"==", "!=", ">", ">=", "<", "<="})
SET_OPS = frozenset({"and", "or", "unless"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d|w|y))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w|y)")
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_BYTES = re.compile(r"\d+(?:\.\d+)?(?:[KkMmGgTtPpEe]i?)?[Bb]")
_UNIT_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
            "h": 3600 * 10**9, "d": 86400 * 10**9, "w": 7 * 86400 * 10**9,
            "y": 365 * 86400 * 10**9}
MAX_RANGE_NS = 10 * 365 * 86400 * 10**9
_OPS = ("|>", "!>", "|=", "|~", "!=", "!~", "=~", "==", ">=", "<=", "=", ">", "<", "|", "{",
        "}", "(", ")", "[", "]", ",", "+", "-", "*", "/", "%", "^")


_JSON_PATH_PART = re.compile(r"""
    (?:^|(?<=[\]])\.?|(?<=[^\]])\.)(?P<field>[^.\[\]"\s]+)
  | \[(?P<index>\d+)\]
  | \["(?P<quoted>(?:[^"\\]|\\.)*)"\]
  | (?P<bad>.)
""", re.VERBOSE)


def _unescape_path(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


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


JsonPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class IPLineFilter:
    """``|= ip("...")`` keeps a line holding an address the pattern holds; ``!=`` the others."""

    op: str              # |= !=
    ip: IPMatcher

    def keeps(self, line: str) -> bool:
        return self.ip.search(line) == (self.op == "|=")


@dataclass(frozen=True, slots=True)
class PatternLineFilter:
    """``|> "pattern"`` keeps a line the whole pattern matches; ``!>`` the others."""

    op: str              # |> !>
    pattern: Pattern

    def keeps(self, line: str) -> bool:
        return self.pattern.test(line) == (self.op == "|>")


SingleLineFilter = LineFilter | IPLineFilter | PatternLineFilter


@dataclass(frozen=True, slots=True)
class AnyLineFilter:
    """``|= "a" or "b"`` (also ``|~``, ``|>``, with ``ip()`` terms): keeps a line any of its
    filters keeps."""

    filters: tuple[SingleLineFilter, ...]

    def keeps(self, line: str) -> bool:
        return any(f.keeps(line) for f in self.filters)


@dataclass(frozen=True, slots=True)
class Parser:
    """``| json``, ``| logfmt``, ``| unpack``; with ``params`` (label, path or key) only those
    (``| json ua="request.headers[\"User-Agent\"]"``, ``| logfmt host, ip="fwd"``)."""

    kind: str            # json, logfmt, unpack
    params: tuple[tuple[str, JsonPath], ...] = ()
    strict: bool = False      # logfmt --strict
    keep_empty: bool = False  # logfmt --keep-empty


@dataclass(frozen=True, slots=True)
class PatternParser:
    pattern: Pattern


@dataclass(frozen=True, slots=True)
class RegexpParser:
    regex: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class Decolorize:
    pass


@dataclass(frozen=True, slots=True)
class Compare:
    """A label compared with a number (a duration is its seconds, a size its bytes), or
    matched as a string."""

    name: str
    op: str
    number: float | None = None
    matcher: Matcher | None = None
    ip: IPMatcher | None = None  # name = ip("...") (op "=") or != ip("...")
    duration: bool = False  # the label's value is read as a Go duration (1.5s, 250ms)
    bytes: bool = False     # ... or as a humanized size (20KB, 1.5MiB)


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
    template: Template


@dataclass(frozen=True, slots=True)
class LabelFormat:
    """``dst=src`` renames (the source goes), ``dst="{{...}}"`` renders a template."""

    items: tuple[tuple[str, str | Template], ...]


@dataclass(frozen=True, slots=True)
class LabelSelect:
    """``| drop`` (keep=False) or ``| keep``: names, or names with a matcher on the value."""

    keep: bool
    items: tuple[tuple[str, Matcher | None], ...]


Stage = (LineFilter | IPLineFilter | PatternLineFilter | AnyLineFilter | Parser | PatternParser
         | RegexpParser | Decolorize | LabelFilter | LineFormat | LabelFormat | LabelSelect)
# stages after which a line is not the stored text: |= filters after them cannot use the index
_REWRITES_LINE = (LineFormat, Decolorize)


@dataclass(frozen=True, slots=True)
class LogQuery:
    matchers: tuple[Matcher, ...]
    stages: tuple[Stage, ...] = ()

    def line_substrings(self) -> list[str]:
        """The ``|=`` strings before any stage that rewrites the line: every line kept
        contains them, so the store's full-text index can find the candidates."""
        out = []
        for s in self.stages:
            if isinstance(s, LineFilter):
                if s.op == "|=" and s.value:
                    out.append(s.value)
            elif isinstance(s, PatternLineFilter):
                if s.op == "|>":  # a matching line holds every literal of the pattern
                    out.extend(text for cap, text in s.pattern.nodes if not cap)
            elif isinstance(s, _REWRITES_LINE) or (isinstance(s, Parser) and s.kind == "unpack"):
                break
        return out


@dataclass(frozen=True, slots=True)
class Unwrap:
    """``| unwrap [conv(]name[)]``: the label whose value is the sample, then label filters
    (only those may follow, to drop conversion errors)."""

    name: str
    conversion: str = ""  # "", duration (duration_seconds), bytes
    post: tuple[LabelFilter, ...] = ()


@dataclass(frozen=True, slots=True)
class Grouping:
    names: tuple[str, ...]
    without: bool = False


@dataclass(frozen=True, slots=True)
class RangeAgg:
    func: str
    query: LogQuery
    range_ns: int
    offset_ns: int = 0
    unwrap: Unwrap | None = None
    param: float | None = None          # quantile_over_time's φ
    grouping: Grouping | None = None    # unwrapped ranges only


@dataclass(frozen=True, slots=True)
class VectorAgg:
    op: str
    inner: MetricExpr
    grouping: tuple[str, ...] = ()
    without: bool = False
    by: bool = field(default=False)
    param: int | None = None            # topk, bottomk


@dataclass(frozen=True, slots=True)
class VectorMatching:
    on: bool                            # on(...) rather than ignoring(...)
    labels: tuple[str, ...]
    group: str = ""                     # "", left, right
    include: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BinOp:
    op: str
    lhs: MetricExpr
    rhs: MetricExpr
    return_bool: bool = False
    matching: VectorMatching | None = None


@dataclass(frozen=True, slots=True)
class Number:
    value: float


@dataclass(frozen=True, slots=True)
class VectorLit:
    value: float


@dataclass(frozen=True, slots=True)
class LabelReplace:
    inner: MetricExpr
    dst: str
    replacement: str
    src: str
    regex: re.Pattern[str]


MetricExpr = RangeAgg | VectorAgg | BinOp | Number | VectorLit | LabelReplace
Expr = LogQuery | MetricExpr


def is_scalar(expr: MetricExpr) -> bool:
    """Whether an expression is a number at every step (a literal, or literals combined)."""
    if isinstance(expr, Number):
        return True
    return isinstance(expr, BinOp) and is_scalar(expr.lhs) and is_scalar(expr.rhs)


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
        m = _BYTES.match(query, i) if c.isdigit() else None
        if m and (m.end() == n or not (query[m.end()].isalnum() or query[m.end()] == "_")):
            out.append(Token("bytes", m.group(), i + 1))
            i = m.end()
            continue
        m = _NUMBER.match(query, i) if (c.isdigit() or c == ".") else None
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

    def fail_inside(self, message: str, tok: Token, offset: int) -> LogQLError:
        """An error at ``offset`` in a string token's text: that column when the text up to it
        is written as is (no escapes before it), else the string's own column."""
        start = tok.col  # 0-based index of the text after the opening quote
        if self.query[start:start + offset] == tok.text[:offset]:
            return LogQLError(message, start + offset + 1, self.query)
        return self.fail(message, tok)

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
        stages, unwrap = self.stages(allow_unwrap=False)
        assert unwrap is None
        return LogQuery(matchers, tuple(stages))

    def stages(self, *, allow_unwrap: bool) -> tuple[list[Stage], Unwrap | None]:
        stages: list[Stage] = []
        unwrap: Unwrap | None = None
        while self.tok.kind == "op" and self.tok.text in ("|=", "!=", "|~", "!~", "|>", "!>",
                                                          "|"):
            if self.at("op", "|") and self.peek().kind == "name" and \
                    self.peek().text == "unwrap" and not self._is_comparison(2):
                if not allow_unwrap or unwrap is not None:
                    raise self.fail("unwrap is only allowed in a range aggregation, once",
                                    self.peek())
                self.next()
                unwrap = self.unwrap()
                continue
            if not self.at("op", "|"):  # a line filter: one stage, or a negated one per term
                if unwrap is not None:
                    raise self.fail("only label filters may follow unwrap")
                stages.extend(self.line_filters(self.next()))
                continue
            stage_tok = self.peek()
            stage = self.stage()
            if unwrap is not None:
                if not isinstance(stage, LabelFilter):
                    raise self.fail("only label filters may follow unwrap", stage_tok)
                unwrap = Unwrap(unwrap.name, unwrap.conversion, (*unwrap.post, stage))
                continue
            stages.append(stage)
        return stages, unwrap

    def unwrap(self) -> Unwrap:
        self.expect("name", "unwrap")
        name = self.expect("name")
        if name.text in CONVERSIONS and self.at("op", "("):
            self.next()
            label = self.expect("name")
            self.expect("op", ")")
            conv = "bytes" if name.text == "bytes" else "duration"
            return Unwrap(label.text, conv)
        return Unwrap(name.text)

    def line_filters(self, op: Token) -> list[Stage]:
        """A line filter after its operator, with its ``or`` terms: one stage for ``|=``,
        ``|~``, ``|>`` (``AnyLineFilter`` when there are several terms), a stage a term for
        ``!=``, ``!~``, ``!>`` (a line no term matches)."""
        terms = [self.line_filter(op)]
        ip_inside = False  # an ip() term followed by more: Loki's grammar allows it once
        while self.at("name", "or"):  # never a binary operator here: a range or ')' is next
            if isinstance(terms[-1], IPLineFilter):
                if ip_inside:
                    raise self.fail("ip() may be followed by 'or' once in a line filter "
                                    "(as in Loki's grammar)")
                ip_inside = True
            self.next()
            terms.append(self.line_filter(op))
        if len(terms) == 1 or op.text.startswith("!"):
            return list(terms)
        return [AnyLineFilter(tuple(terms))]

    def line_filter(self, op: Token) -> SingleLineFilter:
        """One term of a line filter after its operator: a string, ``ip("...")`` or (``|>``,
        ``!>``) a pattern."""
        if op.text in ("|>", "!>"):
            tok = self.expect("string")
            try:
                return PatternLineFilter(op.text, parse_line_pattern(tok.text))
            except PatternError as exc:
                raise self.fail_inside(f"invalid pattern: {exc}", tok, exc.offset) from None
        if self._at_ip():
            if op.text not in ("|=", "!="):
                raise self.fail(f"ip() takes |= or != in a line filter, not {op.text}", op)
            return IPLineFilter(op.text, self.ip_call())
        value = self.expect("string")
        rx = self.regex(value, value.text) if op.text in ("|~", "!~") else None
        return LineFilter(op.text, value.text, rx)

    def stage(self) -> Stage:
        op = self.next()
        assert op.text == "|", op  # line filters are read by line_filters
        # a stage's keyword, unless a label filter on a label so named (`| json="x"`);
        # `| json != "x"` is the parser, then a line filter, as Loki's lexer reads it
        nxt = self.peek()
        is_filter = self._is_comparison(1) and nxt.text not in ("!=", "!~")
        word = self.tok.text if self.at("name") and not is_filter else ""
        if word in PARSERS:
            return self.parser()
        if word == "decolorize":
            self.next()
            return Decolorize()
        if word == "pattern":
            self.next()
            tok = self.expect("string")
            try:
                return PatternParser(parse_pattern(tok.text))
            except PatternError as exc:
                raise self.fail_inside(f"invalid pattern: {exc}", tok, exc.offset) from None
        if word == "regexp":
            self.next()
            tok = self.expect("string")
            rx = self.regex(tok, tok.text)
            if not rx.groupindex:
                raise self.fail("the regexp needs at least one named capture, as "
                                "(?P<name>...)", tok)
            return RegexpParser(rx)
        if word == "line_format":
            self.next()
            return LineFormat(self.template(self.expect("string")))
        if word == "label_format":
            self.next()
            return self.label_format()
        if word in ("drop", "keep"):
            self.next()
            return self.label_select(keep=word == "keep")
        if self.at("name") or self.at("op", "("):
            return LabelFilter(self.label_or())
        raise self.fail("expected a parser (json, logfmt, unpack, pattern, regexp), "
                        "line_format, label_format, drop, keep, decolorize or a label "
                        "filter after '|'")

    def parser(self) -> Parser:
        kind = self.next().text
        strict = keep_empty = False
        while kind == "logfmt" and self.at("op", "-") and self.peek().text == "-":
            dash = self.next()
            self.next()
            flag = self.expect("name")
            if flag.text == "strict":
                strict = True
            elif flag.text == "keep" and self.at("op", "-") and self.peek().text == "empty":
                self.next()
                self.next()
                keep_empty = True
            else:
                raise self.fail("logfmt takes --strict and --keep-empty", dash)
        params: list[tuple[str, JsonPath]] = []
        if kind != "unpack" and self.at("name"):
            while True:
                label = self.expect("name")
                if self.at("op", "="):
                    self.next()
                    tok = self.expect("string")
                    path = self.json_path(tok) if kind == "json" else (tok.text,)
                else:
                    path = (label.text,)
                params.append((label.text, path))
                if not self.at("op", ","):
                    break
                self.next()
        return Parser(kind, tuple(params), strict, keep_empty)

    def json_path(self, tok: Token) -> JsonPath:
        """``a.b[0]["c d"]``: fields by name or quoted, array items by index."""
        out: list[str | int] = []
        for m in _JSON_PATH_PART.finditer(tok.text):
            if m.group("bad") is not None:
                raise self.fail(f"invalid JSON expression {tok.text!r}", tok)
            if m.group("index") is not None:
                out.append(int(m.group("index")))
            elif m.group("quoted") is not None:
                out.append(_unescape_path(m.group("quoted")))
            else:
                out.append(m.group("field"))
        if not out:
            raise self.fail("empty JSON expression", tok)
        return tuple(out)

    def template(self, tok: Token) -> Template:
        try:
            return parse_template(tok.text)
        except TemplateSyntaxError as exc:
            raise self.fail_inside(f"invalid template: {exc}", tok, exc.offset) from None

    def label_format(self) -> LabelFormat:
        items: list[tuple[str, str | Template]] = []
        seen: set[str] = set()
        while True:
            dst = self.expect("name")
            if dst.text in seen:
                raise self.fail(f"label_format names {dst.text!r} twice; use two stages", dst)
            if dst.text == "__error__":
                raise self.fail("__error__ cannot be formatted (drop it, or filter on it)", dst)
            seen.add(dst.text)
            self.expect("op", "=")
            if self.at("string"):
                items.append((dst.text, self.template(self.next())))
            else:
                items.append((dst.text, self.expect("name").text))
            if not self.at("op", ","):
                return LabelFormat(tuple(items))
            self.next()

    def label_select(self, *, keep: bool) -> LabelSelect:
        items: list[tuple[str, Matcher | None]] = []
        while True:
            name = self.expect("name")
            if self.tok.kind == "op" and self.tok.text in ("=", "!=", "=~", "!~"):
                self.i -= 1
                items.append((name.text, self.matcher()))
            else:
                items.append((name.text, None))
            if not self.at("op", ","):
                return LabelSelect(keep, tuple(items))
            self.next()

    def _at_ip(self) -> bool:
        return self.at("name", "ip") and self.peek().kind == "op" and self.peek().text == "("

    def ip_call(self) -> IPMatcher:
        """``ip("pattern")``: an address, a range or a CIDR prefix."""
        self.expect("name", "ip")
        self.expect("op", "(")
        tok = self.expect("string")
        self.expect("op", ")")
        try:
            return parse_ip_pattern(tok.text)
        except IPPatternError as exc:
            raise self.fail(str(exc), tok) from None

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
        if self._at_ip():
            if op.text not in ("=", "!="):
                raise self.fail(f"ip() takes = or != in a label filter, not {op.text}", op)
            return Compare(name.text, op.text, ip=self.ip_call())
        if value.kind == "string":
            self.next()
            if op.text in ("=", "!=", "=~", "!~"):
                rx = self.regex(value, value.text) if op.text in ("=~", "!~") else None
                return Compare(name.text, op.text, matcher=Matcher(name.text, op.text,
                                                                    value.text, rx))
            raise self.fail(f"{op.text} compares numbers; a string needs = or !=", op)
        sign = 1.0
        if value.kind == "op" and value.text in ("-", "+") and \
                self.peek().kind in ("number", "duration", "bytes"):
            sign = -1.0 if value.text == "-" else 1.0
            self.next()
            value = self.tok
        if value.kind in ("number", "duration", "bytes"):
            self.next()
            if op.text in ("=~", "!~"):
                raise self.fail(f"{op.text} takes a string", value)
            if value.kind == "number":
                number = float(value.text)
            elif value.kind == "duration":
                number = parse_duration_ns(value.text) / 1e9
            else:
                number = parse_go_bytes(value.text)
            return Compare(name.text, "==" if op.text == "=" else op.text, number=sign * number,
                           duration=value.kind == "duration", bytes=value.kind == "bytes")
        raise self.fail("expected a string, number, duration or size to compare with")

    # -- metric queries: binary operators by precedence climbing --------------------------------

    def metric(self, min_prec: int = 1) -> MetricExpr:
        lhs = self.unary()
        while True:
            t = self.tok
            op = t.text if (t.kind == "op" or t.text in SET_OPS) and t.kind != "string" else ""
            prec = PRECEDENCE.get(op, 0)
            if not prec or prec < min_prec:
                return lhs
            self.next()
            return_bool = False
            if self.at("name", "bool"):
                if op not in COMPARISONS:
                    raise self.fail("bool is only allowed after a comparison operator")
                self.next()
                return_bool = True
            matching = self.vector_matching(op)
            rhs = self.metric(prec if op == "^" else prec + 1)
            lhs = self.binop(t, BinOp(op, lhs, rhs, return_bool, matching))

    def binop(self, tok: Token, node: BinOp) -> MetricExpr:
        op, lhs, rhs, return_bool, matching = (node.op, node.lhs, node.rhs, node.return_bool,
                                               node.matching)
        scalars = (is_scalar(lhs), is_scalar(rhs))
        if op in SET_OPS and any(scalars):
            raise self.fail(f"{op} is only allowed between two vectors", tok)
        if op in COMPARISONS and all(scalars) and not return_bool:
            raise self.fail("comparisons between scalars must use bool", tok)
        if matching is not None and any(scalars):
            raise self.fail("vector matching (on, ignoring) is only allowed between vectors",
                            tok)
        if all(scalars):  # fold constants, as Loki does
            assert isinstance(lhs, (Number, BinOp))
            assert isinstance(rhs, (Number, BinOp))
            return Number(scalar_op(op, _const(lhs), _const(rhs), return_bool=True))
        return node

    def vector_matching(self, op: str) -> VectorMatching | None:
        if not (self.at("name", "on") or self.at("name", "ignoring")):
            return None
        on = self.next().text == "on"
        labels = self.grouping()
        group, include = "", tuple[str, ...]()
        if self.at("name", "group_left") or self.at("name", "group_right"):
            tok = self.next()
            if op in SET_OPS:
                raise self.fail(f"no grouping allowed for {op!r}", tok)
            group = tok.text.removeprefix("group_")
            include = self.grouping() if self.at("op", "(") else ()
            if on and set(include) & set(labels):
                raise self.fail("a label in group_x() cannot also be in on()", tok)
        return VectorMatching(on, labels, group, include)

    def unary(self) -> MetricExpr:
        if self.tok.kind == "op" and self.tok.text in ("-", "+"):
            sign = self.next()
            inner = self.metric(PRECEDENCE["^"])  # -2^2 is -(2^2), as in Prometheus
            if not is_scalar(inner):
                raise self.fail("a sign is only allowed before a number here", sign)
            assert isinstance(inner, (Number, BinOp))
            return Number(-_const(inner) if sign.text == "-" else _const(inner))
        return self.primary()

    def primary(self) -> MetricExpr:
        t = self.tok
        if t.kind == "op" and t.text == "(":
            self.next()
            inner = self.metric()
            self.expect("op", ")")
            return inner
        if t.kind == "number":
            self.next()
            return Number(float(t.text))
        if t.kind == "name" and t.text in RANGE_FUNCS and self.peek().text == "(":
            return self.range_agg()
        if t.kind == "name" and t.text in AGGREGATIONS:
            return self.vector_agg()
        if t.kind == "name" and t.text == "vector" and self.peek().text == "(":
            self.next()
            self.expect("op", "(")
            value = self.signed_number()
            self.expect("op", ")")
            return VectorLit(value)
        if t.kind == "name" and t.text == "label_replace" and self.peek().text == "(":
            return self.label_replace()
        if t.kind == "eof" and self.i == 0:
            raise self.fail("empty query")
        if t.kind == "op" and t.text == "{":
            raise self.fail("a log query is not a metric: count it, as count_over_time("
                            "{...}[5m])")
        found = "the end of the query" if t.kind == "eof" else repr(t.text)
        raise self.fail(f"expected a stream selector '{{...}}', a range function "
                        f"({', '.join(RANGE_FUNCS[:4])}, ...), an aggregation "
                        f"({', '.join(AGGREGATIONS[:5])}, ...), vector() or a number, "
                        f"found {found}")

    def signed_number(self) -> float:
        sign = 1.0
        if self.tok.kind == "op" and self.tok.text in ("-", "+"):
            sign = -1.0 if self.next().text == "-" else 1.0
        return sign * float(self.expect("number").text)

    def label_replace(self) -> LabelReplace:
        self.next()
        self.expect("op", "(")
        inner = self.metric()
        args: list[Token] = []
        for _ in range(4):
            self.expect("op", ",")
            args.append(self.expect("string"))
        self.expect("op", ")")
        dst, repl, src, rx = args
        if not _NAME.fullmatch(dst.text):
            raise self.fail(f"invalid destination label name {dst.text!r}", dst)
        regex = self.regex(rx, "(?:" + rx.text + ")")  # anchored by fullmatch
        return LabelReplace(inner, dst.text, repl.text, src.text, regex)

    def range_agg(self) -> RangeAgg:
        func_tok = self.next()
        func = func_tok.text
        self.expect("op", "(")
        param: float | None = None
        if func == "quantile_over_time":
            param = self.signed_number()
            self.expect("op", ",")
        matchers = self.selector()
        stages, unwrap = self.stages(allow_unwrap=True)
        self.expect("op", "[")
        dur = self.expect("duration")
        range_ns = parse_duration_ns(dur.text)
        if not 0 < range_ns <= MAX_RANGE_NS:
            raise self.fail("the range must be positive and at most 10 years", dur)
        self.expect("op", "]")
        offset_ns = 0
        if self.at("name", "offset"):
            self.next()
            off = self.expect("duration")
            offset_ns = parse_duration_ns(off.text)
            if offset_ns > MAX_RANGE_NS:
                raise self.fail("the offset must be at most 10 years", off)
        if not stages and unwrap is None:   # Loki also reads {sel}[5m] | pipeline
            stages, unwrap = self.stages(allow_unwrap=True)
        self.expect("op", ")")
        grouping: Grouping | None = None
        if self.at("name", "by") or self.at("name", "without"):
            mode = self.next()
            if func not in _GROUPABLE_RANGE or unwrap is None:
                raise self.fail(f"grouping is not allowed for {func}", mode)
            grouping = Grouping(self.grouping(), without=mode.text == "without")
        if func in UNWRAP_RANGE_FUNCS and unwrap is None:
            raise self.fail(f"{func} needs an unwrapped range: {func}({{...}} | unwrap "
                            "label [1m])", func_tok)
        if func in ("count_over_time", "bytes_over_time", "bytes_rate") and unwrap:
            raise self.fail(f"{func} does not take an unwrapped range", func_tok)
        return RangeAgg(func, LogQuery(matchers, tuple(stages)), range_ns, offset_ns, unwrap,
                        param, grouping)

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
        op_tok = self.next()
        op = op_tok.text
        grouping: tuple[str, ...] = ()
        mode = ""
        if self.at("name", "by") or self.at("name", "without"):
            mode = self.next().text
            grouping = self.grouping()
        self.expect("op", "(")
        param: int | None = None
        if op == "approx_topk" and mode:
            raise self.fail("grouping not allowed for approx_topk aggregation (sum by (...) "
                            "inside it instead)", op_tok)
        if op in K_AGGREGATIONS:
            k_tok = self.tok
            k = self.signed_number()
            if k != int(k) or k <= 0:
                raise self.fail(f"{op}'s k must be a whole number greater than 0", k_tok)
            param = int(k)
            self.expect("op", ",")
        inner = self.metric()
        if is_scalar(inner):
            raise self.fail(f"{op} takes a vector, not a number (vector(...) makes one)",
                            op_tok)
        self.expect("op", ")")
        if not mode and (self.at("name", "by") or self.at("name", "without")):
            mode_tok = self.next()
            if op == "approx_topk":
                raise self.fail("grouping not allowed for approx_topk aggregation (sum by "
                                "(...) inside it instead)", mode_tok)
            mode = mode_tok.text
            grouping = self.grouping()
        return VectorAgg(op, inner, grouping, without=mode == "without", by=mode == "by",
                         param=param)


def _const(expr: Number | BinOp) -> float:
    assert isinstance(expr, Number)  # binop() folds constants as it builds them
    return expr.value


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
