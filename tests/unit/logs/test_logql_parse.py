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
    ('{app="x"} | line_format "{{ if .a }}x{{ end }}"', 25, "is not supported here"),
    ('{app="x"} | line_format "{{ .a | nope }}"', 25, 'function "nope" not defined'),
    ('topk(3, {app="x"})', 9, "a log query is not a metric"),
    ('{app="x"} | json | (a="b"', 26, "expected ')'"),
    ('{app="unterminated}', 6, "unterminated string"),
    ('{app="x"} | level=~5', 20, "takes a string"),
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
@given(st.text(alphabet='{}()[]|=!~"`,.<>0123456789 abcjsonlogfmtrate_sumby', max_size=60))
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
