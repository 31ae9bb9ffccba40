"""LogQL's parser: invalid queries are one error that names the column (exit 2), every
input raises only ``LogQLError``; and what a line says about itself (fields, level, ids)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perflab.errors import EXIT_USAGE
from perflab.logs import LogQLError, detect_ids, detect_level, line_fields, parse
from perflab.logs._logql import RangeAgg, VectorAgg

SETTINGS = settings(max_examples=300, deadline=None)


@pytest.mark.parametrize(("query", "column", "says"), [
    ("", 1, "empty query"),
    ('{app="x"', 9, "expected '}'"),
    ('{app="x"} |= ', 14, "expected a string"),
    ('{app=~"("}', 7, "invalid regexp"),
    ('{app="x"} | unknown', 20, "expected a comparison"),
    ('{app="x"} | status >= "a"', 20, "compares numbers"),
    ('{app=~".*"}', 1, "at least one matcher"),
    ('{app="x"} |~ "["', 14, "invalid regexp"),
    ('count_over_time({app="x"})', 26, "expected '['"),
    ('count_over_time({app="x"}[5x])', 27, "expected a duration"),
    ('rate({app="x"}[1m]) extra', 21, "after the end"),
    ('{app="x"} | line_format "{{ define .a }}x{{ end }}"', 29, "is not supported here"),
    ('{app="x"} | line_format "{{ if .a }}x"', 26, "without {{end}}"),
    ('{app="x"} | line_format "{{ .a | nope }}"', 34, 'function "nope" not defined'),
    ('topk(3, {app="x"})', 9, "a log query is not a metric"),
    ('{app="x"} | json | (a="b"', 26, "expected ')'"),
    ('{app="unterminated}', 6, "unterminated string"),
    ('{app="x"} | level=~5', 20, "takes a string"),
    # grafana/loki's parser_test.go refuses approx_topk with a grouping
    ('approx_topk(2, count_over_time({ foo = "bar" }[5h])) by (foo)', 54, "grouping not allowed"),
    ('approx_topk by (foo) (2, count_over_time({foo="bar"}[5h]))', 1, "grouping not allowed"),
    ('approx_topk(0, count_over_time({foo="bar"}[5h]))', 13, "greater than 0"),
    # metric_queries.md: no grouping for rate_counter; it needs an unwrapped range
    ('rate_counter({a="b"} | unwrap x [1m]) by (a)', 39, "grouping is not allowed"),
    ('rate_counter({a="b"}[1m])', 1, "needs an unwrapped range"),
    # ip.md: only |= and != in a line filter, only = and != in a label filter
    ('{a="b"} |~ ip("1.2.3.4")', 9, "ip() takes |= or !="),
    ('{a="b"} | x > ip("1.2.3.4")', 13, "ip() takes = or !="),
    ('{a="b"} |= ip("192.168.0.1 - 192.189.10.12")', 15, "ip: invalid pattern"),
    ('{a="b"} | x = ip("192.168.0.2-1.0.0.0")', 18, "ip: invalid pattern"),
    # pattern/ast.go validateNoNamedCaptures, validateNoConsecutiveCaptures
    ('{a="b"} |> "x <name> y"', 15, "named captures are not allowed"),
    ('{a="b"} !> "x <_><_>"', 18, "consecutive capture"),
    # text/template: with needs its pipeline and its {{end}}; Go's "else with" is not taken
    ('{a="b"} | line_format "{{ with }}"', 24, "missing value for with"),
    ('{a="b"} | line_format "x{{ with .a }}y"', 25, "an {{with}} without {{end}}"),
    ('{a="b"} | line_format "{{ with .a }}x{{ else with .b }}y{{ end }}"', 46,
     "expected {{end}} or {{else}} in a with"),
])
def test_invalid_queries_point_at_the_column(query, column, says):
    with pytest.raises(LogQLError) as info:
        parse(query)
    err = info.value
    assert (err.column, says in err.message) == (column, True), err.message
    assert err.exit_code == EXIT_USAGE
    assert err.hint is not None
    assert err.hint.splitlines()[1].index("^") - 8 == column - 1


def test_aggregation_grouping_before_or_after():
    a = parse('sum by (x) (rate({a="b"}[1m]))')
    b = parse('sum(rate({a="b"}[1m])) by (x)')
    assert a == b
    assert isinstance(a, VectorAgg)
    assert isinstance(a.inner, RangeAgg)
    assert a.inner.range_ns == 60 * 10**9


@SETTINGS
@given(st.text(alphabet='{}()[]|=!~"`,.<>+-*/%^0123456789 abcjsonlogfmtrate_sumbyunwp',
               max_size=60))
def test_the_parser_raises_only_logql_errors(text):
    with contextlib.suppress(LogQLError):
        parse(text)


@SETTINGS
@given(st.text(max_size=200))
def test_line_parsers_never_raise(line):
    fields = line_fields(line)
    detect_level(line, fields)
    detect_ids(fields)


@pytest.mark.parametrize(("line", "fields", "level"), [
    ('{"level":"info","a":{"b":1,"c":[1]},"d":true,"e":null}',
     {"level": "info", "a_b": "1", "d": "true", "e": ""}, "info"),
    ('lvl=warn msg="a \\"q\\"" x', {"lvl": "warn", "msg": 'a "q"', "x": ""}, "warn"),
    ("2026-12-03 ERROR something broke", {}, "error"),
    ('{"severity":"CRITICAL"}', {"severity": "CRITICAL"}, "critical"),
    ('{"@l":"Fatal"}', {"_l": "Fatal"}, "critical"),
    ("plain text", {}, None),
    ('{"my-key.x":1}', {"my_key_x": "1"}, None),
    ('{"a":1.50,"b":1e3,"c":-0,"d":12345678901234567890}',
     {"a": "1.50", "b": "1e3", "c": "-0", "d": "12345678901234567890"}, None),  # as written
])
def test_fields_and_level(line, fields, level):
    got = line_fields(line)
    assert got == fields
    assert detect_level(line, got) == level


@pytest.mark.parametrize(("fields", "ids"), [
    ({"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"},
     ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")),
    ({"traceID": "a3ce929d0e0e4736"}, ("0000000000000000a3ce929d0e0e4736", None)),  # 64-bit
    ({"trace_id": "zz"}, (None, None)),
    ({"trace_id": "0" * 32}, (None, None)),                                           # invalid
    ({"dd_trace_id": "ff"}, ("000000000000000000000000000000ff", None)),
])
def test_trace_and_span_ids(fields, ids):
    t, s = detect_ids(fields)
    assert (t and t.hex(), s and s.hex()) == ids


R = 'rate({a="b"}[1m])'


@pytest.mark.parametrize(("query", "at", "says"), [
    ('sum_over_time({a="b"}[1m])', "sum_over_time", "needs an unwrapped range"),
    ('count_over_time({a="b"} | unwrap x [1m])', "count_over_time",
     "does not take an unwrapped range"),
    ('sum_over_time({a="b"} | unwrap x [1m]) by (y)', "by", "grouping is not allowed"),
    ('count_over_time({a="b"}[1m]) by (y)', "by", "grouping is not allowed"),
    ('{a="b"} | unwrap x', "unwrap", "only allowed in a range aggregation"),
    ('sum_over_time({a="b"} | unwrap x | json [1m])', "json",
     "only label filters may follow unwrap"),
    ('quantile_over_time({a="b"} | unwrap x [1m])', "{", "expected a number"),
    ('count_over_time({a="b"}[1m] offset x)', "x)", "expected a duration"),
    ('{a="b"} | pattern "<_> foo"', "<_>", "at least one named capture"),
    ('{a="b"} | pattern "<a><b>"', "<b>", "consecutive capture"),
    ('{a="b"} | pattern "<a> x <a>"', '<a>"', "duplicate capture name"),
    ('{a="b"} | pattern "\\"<a>\\" <a>"', '"\\"<a>', "duplicate capture name"),  # escapes
    ('{a="b"} | regexp "(\\\\w+)"', '"(', "needs at least one named capture"),
    ('{a="b"} | regexp "(?P<x>"', '"(', "invalid regexp"),
    ('{a="b"} | label_format x=y, x="z"', 'x="z"', "names 'x' twice"),
    ('{a="b"} | label_format __error__="z"', "__error__", "cannot be formatted"),
    ('{a="b"} | line_format "{{ .a"', "{{", "unclosed action"),
    ('{a="b"} | line_format "x {{ $x }}"', "$x", 'undefined variable "$x"'),
    ('{a="b"} | line_format `{{ .a | nope }}`', "nope", 'function "nope" not defined'),
    ('{a="b"} | drop', "<eof>", "expected a name"),
    ("1 > 2", ">", "must use bool"),
    ("vector(1) and 1", "and", "only allowed between two vectors"),
    (f"{R} + bool 1", "bool", "only allowed after a comparison"),
    (f"{R} * on(x) 2", "*", "only allowed between vectors"),
    (f"{R} and on(x) group_left {R}", "group_left", "no grouping allowed for 'and'"),
    (f"topk(0, {R})", "0", "greater than 0"),
    (f"topk(1.5, {R})", "1.5", "whole number"),
    ("sum(1)", "sum", "takes a vector"),
    (f'label_replace({R}, "1x", "", "a", "b")', '"1x"', "invalid destination label"),
    (f'label_replace({R}, "x", "", "a", "(")', '"("', "invalid regexp"),
    (f"- {R}", "-", "a sign is only allowed before a number"),
    (f"{R} +", "<eof>", "expected a stream selector"),
    (f"({R}", "<eof>", "expected ')'"),
])
def test_invalid_metric_queries_point_at_the_column(query, at, says):
    with pytest.raises(LogQLError) as info:
        parse(query)
    column = len(query) + 1 if at == "<eof>" else query.index(at) + 1
    assert (info.value.column, says in info.value.message) == (column, True), \
        info.value.message


@pytest.mark.parametrize(("a", "b"), [
    ("1 + 2 * 3 - vector(1)", "7 - vector(1)"),                 # constants fold by precedence
    ("2 ^ 3 ^ 2 + vector(0)", "512 + vector(0)"),
    (f"{R} > bool 1 or {R} and {R}", f"({R} > bool 1) or ({R} and {R})"),
    (f"{R} + {R} * {R}", f"{R} + ({R} * {R})"),
    (f"sum by (x) ({R}) / ignoring(y) group_left (z) {R}",
     f"(sum({R}) by (x)) / ignoring (y) group_left(z) ({R})"),
    ('count_over_time({a="b"} |= "x" [1m])', 'count_over_time({a="b"}[1m] |= "x")'),
    ("-2 * vector(1)", "(0 - 2) * vector(1)"),
])
def test_equivalent_queries_parse_the_same(a, b):
    assert parse(a) == parse(b)


FRAGMENTS = ['{a="b"}', "|", "|=", '"x"', "`<a> <_>`", "json", "logfmt", "unpack", "pattern",
             "regexp", "unwrap", "duration(", "bytes(", "x", ")", "(", "[1m]", "[", "]",
             "offset", "5m", "1.5", "-", "+", "*", "/", "%", "^", ">", "==", "bool", "on",
             "ignoring", "group_left", "and", "or", "unless", "by", "without", ",", "sum",
             "topk", "sort", "rate", "sum_over_time", "quantile_over_time", "absent_over_time",
             "vector", "label_replace", "line_format", '"{{ .a | upper }}"', "label_format",
             "drop", "keep", "decolorize", "=", "20KB", '"{{"', "__error__", "0"]


@SETTINGS
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=25).map(" ".join))
def test_the_parser_raises_only_logql_errors_on_token_soup(text):
    with contextlib.suppress(LogQLError):
        parse(text)
