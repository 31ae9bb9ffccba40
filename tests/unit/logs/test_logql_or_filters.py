"""Line filters joined with ``or`` (Loki 2.9+), against the cases Loki's own tests pin:
pkg/logql/syntax/ast_test.go ``TestParseLogSelectorExpr_Pipeline`` (each query with lines and
whether the pipeline keeps them) and ``TestStringer`` (``!= "a" or "b"`` is ``!= "a" != "b"``:
the same lines kept); grammar from pkg/logql/syntax/expr.y (``orFilter``, ``lineFilters``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.unit.logs._logrows import store_of

from perflab.logs import LogEntry, parse, query_range
from perflab.logs._logql import AnyLineFilter, LineFilter, LogQLError, LogQuery
from perflab.logs._pipeline import run_pipeline
from perflab.store import Store, canonical_labels


def _keeps(query: str, line: str) -> bool:
    expr = parse(query)
    assert isinstance(expr, LogQuery)
    return run_pipeline(expr, {"app": "foo"}, line) is not None


# ast_test.go TestParseLogSelectorExpr_Pipeline: (query, [(line, kept)])
LOKI_CASES = [
    ('{app="foo"} |= "foo" or "bar"', [("foo", True), ("bar", True), ("none", False)]),
    ('{app="foo"} |= "test" |= "foo" or "bar"',
     [("test foo", True), ("test bar", True), ("none", False)]),
    ('{app="foo"} |= "test" |= "foo" or "bar" or "baz"',
     [("test foo", True), ("test bar", True), ("test baz", True), ("baz", False),
      ("bar", False), ("foo", False), ("none", False)]),
    ('{app="foo"} |= "test" |= "foo" or "bar" or "baz" |= "car"',
     [("car test foo", True), ("car test bar", True), ("car test baz", True), ("baz", False),
      ("bar", False), ("test", False), ("foo", False), ("car", False), ("none", False)]),
    ('{app="foo"} |= "foo" or "bar" |= "buzz" or "fizz"',
     [("foo buzz", True), ("bar fizz", True), ("foo", False), ("bar", False),
      ("none", False)]),
    ('{app="foo"} |~ "foo" or "bar"', [("foo", True), ("bar", True), ("none", False)]),
    ('{app="foo"} |~ "test" |~ "foo" or "bar"',
     [("test foo", True), ("test bar", True), ("none", False)]),
    ('{app="foo"} |~ "test" |~ "foo" or "bar" or "baz"',
     [("test foo", True), ("test bar", True), ("test baz", True), ("baz", False),
      ("bar", False), ("foo", False), ("none", False)]),
    ('{app="foo"} |~ "test" |~ "foo" or "bar" or "baz" |~ "car"',
     [("car test foo", True), ("car test bar", True), ("car test baz", True), ("baz", False),
      ("bar", False), ("test", False), ("foo", False), ("car", False), ("none", False)]),
    ('{app="foo"} != "foo" or "bar"', [("foo", False), ("bar", False), ("none", True)]),
    ('{app="foo"} != "test" != "foo" or "bar"',
     [("test", False), ("foo", False), ("bar", False), ("none", True)]),
    ('{app="foo"} != "test" != "foo" or "bar" or "baz"',
     [("test", False), ("foo", False), ("bar", False), ("baz", False), ("none", True)]),
    ('{app="foo"} != "test" != "foo" or "bar" or "baz" != "car"',
     [("test", False), ("foo", False), ("bar", False), ("baz", False), ("car", False),
      ("none", True)]),
    ('{app="foo"} !~ "foo" or "bar"', [("foo", False), ("bar", False), ("none", True)]),
    ('{app="foo"} !~ "test" !~ "foo" or "bar"',
     [("test", False), ("foo", False), ("bar", False), ("none", True)]),
    ('{app="foo"} !~ "test" !~ "foo" or "bar" or "baz"',
     [("test", False), ("foo", False), ("bar", False), ("baz", False), ("none", True)]),
    ('{app="foo"} !~ "test" !~ "foo" or "bar" or "baz" !~ "car"',
     [("test", False), ("foo", False), ("bar", False), ("baz", False), ("car", False),
      ("none", True)]),
    ('{app="foo"} |= ip("127.0.0.1") or "foo"',
     [("foo", True), ("bar", False), ("127.0.0.2", False), ("127.0.0.1", True)]),
    ('{app="foo"} != ip("127.0.0.1") or "foo"',
     [("foo", False), ("bar", True), ("127.0.0.2", True), ("127.0.0.1", False)]),
    ('{app="foo"} |> "<_>foo<_>" or "<_>bar<_>"',
     [("test foo test", True), ("test bar test", True), ("none", False)]),
    ('{app="foo"} |> "<_>foo<_>" or "<_>bar<_>" or "<_>baz<_>"',
     [("test foo test", True), ("test bar test", True), ("test baz test", True),
      ("none", False)]),
    ('{app="foo"} !> "foo" or "bar"', [("foo", False), ("bar", False), ("none", True)]),
    # expr.y: an ip() term may also end the chain, or end its first part (lineFilters:
    # lineFilter OR orFilter)
    ('{app="foo"} |= "foo" or ip("127.0.0.1")',
     [("foo", True), ("127.0.0.1", True), ("127.0.0.2", False)]),
    ('{app="foo"} |= "foo" or ip("10.0.0.0/8") or "bar"',
     [("foo", True), ("bar", True), ("at 10.1.2.3", True), ("11.0.0.1", False)]),
    ('{app="foo"} |= ip("127.0.0.1") or ip("::1")',
     [("127.0.0.1", True), ("::1", True), ("127.0.0.2", False)]),
]


@pytest.mark.parametrize(("query", "lines"), LOKI_CASES, ids=[c[0][12:] for c in LOKI_CASES])
def test_or_line_filters_keep_what_loki_keeps(query: str, lines: list[tuple[str, bool]]) -> None:
    for line, kept in lines:
        assert _keeps(query, line) is kept, (query, line)


# ast_test.go TestStringer: a negated filter's terms are each a negated filter
@pytest.mark.parametrize(("query", "same_as"), [
    ('{app="foo"} != "foo" or "bar"', '{app="foo"} != "foo" != "bar"'),
    ('{app="foo"} != "foo" or "bar" or "baz" != "car" != "a" or "b" or "c"',
     '{app="foo"} != "foo" != "bar" != "baz" != "car" != "a" != "b" != "c"'),
    ('{app="foo"} !~ "foo" or "bar" or "baz" !~ "car"',
     '{app="foo"} !~ "foo" !~ "bar" !~ "baz" !~ "car"'),
    ('{app="foo"} != ip("127.0.0.1") or "foo"', '{app="foo"} != ip("127.0.0.1") != "foo"'),
    ('{app="foo"} !> "<_> foo <_>" or "foo <_>" !> "foo <_> baz"',
     '{app="foo"} !> "<_> foo <_>" !> "foo <_>" !> "foo <_> baz"'),
])
def test_negated_or_is_one_negated_filter_a_term(query: str, same_as: str) -> None:
    assert parse(query) == parse(same_as)


def test_positive_or_is_one_stage_of_its_terms() -> None:
    got = parse('{app="foo"} |= "foo" or "bar" or "baz" != "car"')
    assert isinstance(got, LogQuery)
    assert got.stages == (AnyLineFilter((LineFilter("|=", "foo"), LineFilter("|=", "bar"),
                                         LineFilter("|=", "baz"))), LineFilter("!=", "car"))
    # an alternative is not a substring every line holds: the word index cannot narrow by it
    assert got.line_substrings() == []


@pytest.mark.parametrize(("query", "column", "message"), [
    ('{app="foo"} |= "foo" or', 24, "expected a string"),
    ('{app="foo"} |~ "foo" or ip("1.2.3.4")', 13, "ip() takes |= or !="),
    ('{app="foo"} |= ip("1.1.1.1") or ip("1.1.1.2") or "c"', 47,
     "ip() may be followed by 'or' once"),
    ('{app="foo"} |> "<_>a" or ip("1.1.1.1")', 26, "expected a string"),
    ('sum_over_time({app="foo"} | unwrap n |= "a" or "b" [1m])', 38,
     "only label filters may follow unwrap"),
])
def test_bad_or_filters_point_at_the_column(query: str, column: int, message: str) -> None:
    with pytest.raises(LogQLError) as info:
        parse(query)
    assert info.value.column == column
    assert message in str(info.value)


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    labels = canonical_labels({"app": "foo"})
    yield from store_of(tmp_path_factory, "or", [
        LogEntry(labels, (i + 1) * S, line) for i, line in enumerate(LINES)])


S = 10**9
LINES = ["GET /a 200", "GET /b 500 timeout", "POST /c 503", "GET /d 200 slow"]


def _lines(data: Any) -> list[str]:  # LokiData of streams
    return [v[1] for r in data["result"] for v in r["values"]]


def test_or_filters_through_the_store_and_a_metric_query(stored: Store) -> None:
    """End to end: the store's index pre-filter must not drop a line only one term holds."""
    got = query_range(stored, '{app="foo"} |= "timeout" or "503" or "slow"', 0, 10 * S,
                      backward=False)
    assert _lines(got) == LINES[1:]
    got = query_range(stored, '{app="foo"} != "timeout" or "503"', 0, 10 * S, backward=False)
    assert _lines(got) == [LINES[0], LINES[3]]
    matrix: Any = query_range(stored, 'sum(count_over_time({app="foo"} |= "500" or "503" [10s]))',
                              10 * S, 10 * S, step_ns=S)
    assert [float(v[1]) for r in matrix["result"] for v in r["values"]] == [2.0]
