"""LogQL's ``ip("...")`` filters, the ``|>``/``!>`` pattern line filters, ``rate_counter`` and
``approx_topk``, table-driven, each case with the Loki test or document it comes from (grafana/loki
at 65e30f8: pkg/logql/log/ip_test.go, docs/sources/query/ip.md, pkg/logql/log/pattern/
pattern_test.go, docs/sources/query/query_reference.md "Pattern match filter operators",
pkg/logql/engine_test.go, pkg/logql/range_vector.go, pkg/logql/syntax/parser_test.go,
docs/sources/query/metric_queries.md "Probabilistic aggregation"). The queries these refuse are
with the other invalid ones in test_logql_parse.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.unit.logs._logrows import store_of

from perflab.logs import LogEntry, QueryError, query_instant, query_range
from perflab.logs._ipmatch import IPPatternError, parse_ip_pattern
from perflab.logs._logql import LogQuery, PatternLineFilter, parse
from perflab.logs._pattern import parse_pattern
from perflab.logs._pipeline import run_pipeline
from perflab.store import canonical_labels

S = 10**9
T0 = 1_700_000_000 * S
VPN = {"job": "vpn"}
APACHE = {"job": "apache"}
APP = {"job": "app"}
DIST = {"service_name": "distributor"}

# ip_test.go Test_IPFilter's inputs, one stream, in this order (1 s apart)
VPN_LINES = [
    "vpn 192.168.0.5 connected to vm",                   # 0
    "vpn 192.168.0.1 connected to vm",                   # 1
    "vpn ::1 connected to vm",                           # 2
    "vpn 2001:db8::2 connected to vm",                   # 3
    "vpn 2001:db8::9 connected to vm",                   # 4
    "vpn 2001:dc8::1 and 2001:db8::2 connected to vm",   # 5
    "vpn 192.172.6.1 connected to vm",                   # 6
    "vpn 192.168.255.255 connected to vm",               # 7
    "vpn 192.168.0.0 192.168.0.1 connected to vm",       # 8
    "vpn 192.168.0.0 connected to vm",                   # 9
    "hello world!",                                      # 10
    "vpn connected to ::1",                              # 11
    "::1",                                               # 12
    "vpn 192.255.255.255 connected to vm",               # 13
    "vpn 2001:db9::3 connected to vm",                   # 14
]
# docs/sources/query/ip.md's access log
APACHE_LINES = [
    '3.180.71.3 - - [17/May/2015:08:05:32 +0000] "GET /downloads/product_1 HTTP/1.1" 304 0',
    '80.91.33.133 - - [17/May/2015:08:05:14 +0000] "GET /downloads/product_1 HTTP/1.1" 304 0',
    '46.4.66.76 - - [17/May/2015:08:05:45 +0000] "GET /downloads/product_1 HTTP/1.1" 404 318',
    '93.180.71.3 - - [17/May/2015:08:05:26 +0000] "GET /downloads/product_1 HTTP/1.1" 404 324',
]
APP_LINES = [
    "addr=192.168.4.2 level=error",      # 0
    "addr=192.168.4.7 level=info",       # 1
    "addr=10.10.15.3 level=error",       # 2
    "addr=2001:db8::5 level=error",      # 3
    "level=info",                        # 4: no addr
    "addr=172.16.0.1 level=warn",        # 5
]
# query_reference.md's distributor lines, and one the pattern does not match
DIST_LINES = [
    ('ts=2024-04-05T08:40:13.585911094Z caller=http.go:194 level=debug traceID=23e54a271db607cc '
    'orgID=3648 msg="POST /push.v1.PusherService/Push (200) 12.684035ms"'),
    ('ts=2024-04-05T08:41:06.551403339Z caller=http.go:194 level=debug traceID=54325a1a15b42e2d '
    'orgID=1218 msg="POST /push.v1.PusherService/Push (200) 1.664285ms"'),
    ('ts=2024-04-05T08:41:07.000000000Z caller=http.go:194 level=debug traceID=69d4271da1595bcb '
    'orgID=1218 msg="GET /ready (200) 1.1ms"'),
]
DOC_PATTERN = ('`<_> caller=http.go:194 level=debug <_> msg="POST '
               '/push.v1.PusherService/Push <_>`')


def _vpn(*idx: int) -> list[tuple[dict[str, str], list[str]]]:
    return [(VPN, [VPN_LINES[i] for i in sorted(idx, reverse=True)])] if idx else []


def _app(*idx: int) -> list[tuple[dict[str, str], list[str]]]:
    return [(APP, [APP_LINES[i] for i in sorted(idx, reverse=True)])] if idx else []


LOG_QUERIES: list[tuple[str, list[tuple[dict[str, str], list[str]]]]] = [
    # ip_test.go Test_IPFilter "single IPv4"
    ('{job="vpn"} |= ip("192.168.0.1")', _vpn(1, 8)),
    # "single IPv6" and "IPv6 at end of line": ::1 found mid-line, at the end, and alone
    ('{job="vpn"} |= ip("::1")', _vpn(2, 11, 12)),
    # "IPv4 range": 192.168.0.0 is below it, 192.255.255.255 above
    ('{job="vpn"} |= ip("192.168.0.1-192.189.10.12")', _vpn(0, 1, 6, 7, 8)),
    # "IPv6 range"
    ('{job="vpn"} |= ip("2001:db8::1-2001:db8::8")', _vpn(3, 5)),
    # "CIDR" (the pattern's host bits are ignored: 192.168.4.5/16 is 192.168.0.0/16)
    ('{job="vpn"} |= ip("192.168.4.5/16")', _vpn(0, 1, 7, 8, 9)),
    # "CIDR IPv6": the second address of line 5 matches, 2001:db9::3 does not
    ('{job="vpn"} |= ip("2001:db8::/32")', _vpn(3, 4, 5)),
    # Test_IPLineFilterTy "not equal operator": != keeps the lines without such an address
    ('{job="vpn"} != ip("192.168.0.0/16")', _vpn(2, 3, 4, 5, 6, 10, 11, 12, 13, 14)),
    # ip.md: |= "3.180.71.3" also finds 93.180.71.3, ip("3.180.71.3") only the address
    ('{job="apache"} |= "3.180.71.3"', [(APACHE, [APACHE_LINES[3], APACHE_LINES[0]])]),
    ('{job="apache"} |= ip("3.180.71.3")', [(APACHE, [APACHE_LINES[0]])]),
    ('{job="apache"} != ip("3.180.71.3")', [(APACHE, APACHE_LINES[3:0:-1])]),
    # ip.md label filter examples: chained, with or, an IPv6 range
    ('{job="app"} | logfmt | addr = ip("192.168.4.5/16") | addr != ip("192.168.4.2")', _app(1)),
    ('{job="app"} | logfmt | addr = ip("192.168.4.0/24") or addr = ip("10.10.15.0/24")',
     _app(0, 1, 2)),
    ('{job="app"} | logfmt | addr = ip("2001:db8::1-2001:db8::8") | level = "error"', _app(3)),
    # ip.go IPLabelFilter: a line without the label is dropped, by = and by != alike
    ('{job="app"} | logfmt | addr != ip("10.0.0.0/8")', _app(0, 1, 3, 5)),
    # query_reference.md "Pattern match filter operators": |> keeps the documented lines,
    # !> the others
    (f'{{service_name="distributor"}} |> {DOC_PATTERN}', [(DIST, DIST_LINES[1::-1])]),
    (f'{{service_name="distributor"}} !> {DOC_PATTERN}', [(DIST, DIST_LINES[2:])]),
    # pattern.go Test: a pattern ending on a literal must use up the line
    ('{service_name="distributor"} |> "ts=<_> caller=http.go:194"', []),
    ('{service_name="distributor"} |> "ts=<_> (200) <_>"', [(DIST, DIST_LINES[::-1])]),
    ('{service_name="distributor"} |> "<_>ms\\""', [(DIST, DIST_LINES[::-1])]),
    ('{service_name="distributor"} |> "<_>ms"', []),
    # ParseLineFilter(""): an empty pattern keeps only empty lines
    ('{service_name="distributor"} |> ""', []),
    ('{service_name="distributor"} !> ""', [(DIST, DIST_LINES[::-1])]),
]

def _entries() -> list[LogEntry]:
    entries: list[LogEntry] = []
    for labels, lines in ((VPN, VPN_LINES), (APACHE, APACHE_LINES), (APP, APP_LINES),
                          (DIST, DIST_LINES)):
        entries += [LogEntry(canonical_labels(labels), T0 + i * S, line)
                    for i, line in enumerate(lines)]
    # engine_test.go: {app="foo"} samples from 46 s on, value t+1 (incValue(1)); a constant
    # stream (constantValue(1)); and a counter with a reset
    entries += [LogEntry(canonical_labels({"app": "foo"}), T0 + t * S, f"foo={t + 1}")
                for t in range(46, 100)]
    entries += [LogEntry(canonical_labels({"app": "const"}), T0 + t * S, "foo=1")
                for t in range(46, 100)]
    entries += [LogEntry(canonical_labels({"app": "reset"}), T0 + t * S, f"foo={v}")
                for t, v in zip(range(1, 6), (1, 2, 3, 1, 2), strict=True)]
    # approx_topk: per-app line counts a=3, b=1, c=2
    entries += [LogEntry(canonical_labels({"app": app, "top": "yes"}), T0 + (200 + i) * S, "x")
                for i, app in enumerate("aaabcc")]
    return entries


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    yield from store_of(tmp_path_factory, "logql-gaps", _entries())


def _got(data: Any) -> dict[str, list[str]]:
    return {json.dumps(s["stream"], sort_keys=True): [line for _, line in s["values"]]
            for s in data["result"]}


def _expected(streams: list[tuple[dict[str, str], list[str]]], query: str,
              ) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for labels, lines in streams:
        if "| logfmt" in query:   # the parsed labels are part of each answer's stream
            for line in lines:
                parsed = dict(kv.split("=", 1) for kv in line.split())
                out.setdefault(json.dumps({**labels, **parsed}, sort_keys=True), []).append(line)
        else:
            out[json.dumps(labels, sort_keys=True)] = lines
    return out


@pytest.mark.parametrize(("query", "expected"), LOG_QUERIES, ids=[q for q, _ in LOG_QUERIES])
def test_log_query(filled, query, expected):
    data = query_range(filled, query, T0, T0 + 100 * S)
    assert _got(data) == _expected(expected, query)


def test_ip_label_filter_keeps_lines_with_an_error(filled):
    """ip.md: "An ip() label filter keeps a log line that already carries an __error__ label,
    whichever operation you use" (IPLabelFilter.filterTy: lbs.HasErr() -> true)."""
    for op in ("=", "!="):
        data: Any = query_range(filled, f'{{job="app"}} | json | addr {op} ip("1.2.3.4")', T0,
                                T0 + 100 * S)
        got = [line for s in data["result"] for _, line in s["values"]]
        assert sorted(got) == sorted(APP_LINES)
        assert {s["stream"]["__error__"] for s in data["result"]} == {"JSONParserErr"}


# ip_test.go Test_IPFilter, run on the matcher itself (the same inputs, the same indexes)
@pytest.mark.parametrize(("pattern", "lines", "matched"), [
    ("192.168.0.1", ["vpn 192.168.0.5 connected to vm", "vpn 192.168.0.1 connected to vm", "x",
                     "hello world!", ""], [1]),
    ("::1", ["vpn ::1 connected to vm", "vpn 192.168.0.1 connected to vm", "x", "hello world!",
             ""], [0]),
    ("::1", ["vpn connected to ::1", "::1", "vpn 192.168.0.1 connected to vm", "x", ""], [0, 1]),
    ("192.168.0.1-192.189.10.12", ["vpn 192.168.0.0 connected to vm",
                                   "vpn 192.168.0.0 192.168.0.1 connected to vm",
                                   "vpn 192.172.6.1 connected to vm",
                                   "vpn 192.255.255.255 connected to vm", "x", "hello world!",
                                   ""], [1, 2]),
    ("2001:db8::1-2001:db8::8", ["vpn 192.168.0.0 connected to vm",
                                 "vpn 2001:db8::2 connected to vm",
                                 "vpn 2001:db8::9 connected to vm",
                                 "vpn 2001:db8::5 connected to vm", "x", "hello world!", ""],
     [1, 3]),
    ("192.168.4.5/16", ["vpn 192.168.0.0 connected to vm", "vpn 192.168.0.1 connected to vm",
                        "vpn 192.172.6.1 connected to vm", "vpn 192.168.255.255 connected to vm",
                        "x", "hello world!", ""], [0, 1, 3]),
    ("2001:db8::/32", ["vpn 2001:db8::1 connected to vm", "vpn 2001:db9::3 connected to vm",
                       "vpn 2001:dc8::1 and 2001:db8::2 connected to vm",
                       "vpn 192.168.255.255 connected to vm", "x", "hello world!", ""], [0, 2]),
    # Loki skips an address-shaped run that does not parse whole (ip.go filter: i += iplen)
    ("2.3.4.5", ["1.2.3.4.5", "01.2.3.4", "x 2.3.4.5."], []),
])
def test_ip_filter_cases_from_loki(pattern, lines, matched):
    ip = parse_ip_pattern(pattern)
    assert [i for i, line in enumerate(lines) if ip.search(line)] == matched


@pytest.mark.parametrize("pattern", [
    "192.168.0.1 - 192.189.10.12",   # ip_test.go "wrong IP range syntax extra space"
    "192.168.0.2-1.0.0.0",           # Test_IPLabelFilterTy "pattern-invalid"
    "192.168.0.1-::2", "10.0.0.0/33", "10.0.0.0/255.0.0.0", "fe80::1%eth0", "", "ip",
])
def test_invalid_ip_patterns(pattern):
    with pytest.raises(IPPatternError, match="ip: invalid pattern"):
        parse_ip_pattern(pattern)


# pattern_test.go's fixtures: (expression, line, Matcher.Test's answer)
PATTERN_FIXTURES = [
    ("foo <foo> bar", "foo buzz bar", True),
    ("foo <foo> bar<fuzz>", "foo buzz bar", False),
    ("<foo>foo <bar> bar", "foo buzz bar", False),
    ("<foo> bar<fuzz>", " bar", False),
    ("<foo>bar<baz>", " bar ", True),
    ("<foo> bar<baz>", " bar ", False),
    ("<foo>bar <baz>", " bar ", False),
    ("<foo>", " bar ", True),
    ("<path>?<_>", ("/api/plugins/versioncheck?slugIn=snuids-trafficlights-panel,input,gel"
     "&grafanaVersion=7.0.0-beta1"), True),
    ("<path>?<_>", "/api/plugins/status", False),
    ('<ip> <userid> <user> [<_>] "<method> <path> <_>" <status> <size>',
     ('127.0.0.1 user-identifier frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif '
     'HTTP/1.0" 200 2326'), True),
    ('<ip> - - [<_>] "<method> <path> <_>" <status> <size> ',
     ('35.191.8.106 - - [19/May/2021:07:21:49 +0000] "GET /api/plugins/versioncheck HTTP/1.1" '
     '200 107 "-" "Go-http-client/2.0"'), False),
    ("<_> <id> [<level>] [<no>] [<component>] ",
     "2020-08-06T14:25:02.835618Z 0 [Note] [MY-012487] [InnoDB] DDL log recovery : begin",
     False),
    ("<level>  [<component>]<_> in <duration>.<_>",
     ("INFO  [Service Thread] 2021-05-19 07:40:12,130 GCInspector.java:284 - ParNew GC in "
     "248ms.  CMS Old Gen: 5043436640 -> 5091062064"), True),
    ('<_> msg="<method> <path> (<status>) <duration>"',
     ("level=debug ts=2021-05-19T07:54:26.864644382Z caller=logging.go:66 "
     'traceID=7fbb92fd0eb9c65d msg="POST /loki/api/v1/push (204) 1.238734ms"'), True),
    ("<_> <_> <level> | <component>: <_> peer <peer_id> <_> tcp <ip>:<_>",
     ("2021-05-19 08:16:50.181436 W | rafthttp: health check for peer fd8275e521cfb532 could "
     "not connect: dial tcp 10.32.85.85:2380: connect: connection refused"), True),
    ("<_>] <level> [Log partition=<part>, dir=<dir>] ",
     ("[2021-05-19 08:35:28,681] INFO [Log partition=p-636-L-fs-117, dir=/data/kafka-logs] "
     "Deleting segment 455976081 (kafka.log.Log)"), False),
    ("unicode <emoji> character", "unicode 🤷 character", True),
    ("unicode ▶ <what>", "unicode ▶ character", True),
]


@pytest.mark.parametrize(("expr", "line", "matches"), PATTERN_FIXTURES,
                         ids=[e for e, _, _ in PATTERN_FIXTURES])
def test_pattern_test_as_loki(expr, line, matches):
    assert parse_pattern(expr).test(line) is matches


def test_a_pattern_line_filter_gives_its_literals_to_the_index():
    got = parse('{a="b"} |> "<_> caller=<_> msg=x" !> "y<_>"')
    assert isinstance(got, LogQuery)
    assert isinstance(got.stages[0], PatternLineFilter)
    assert got.line_substrings() == [" caller=", " msg=x"]


# pkg/logql/engine_test.go (rate_counter cases) and range_vector.go's extrapolatedRate
INSTANT: list[tuple[str, int, list[tuple[dict[str, str], float]]]] = [
    # incValue(1) from 46 s: 15 samples in (30 s, 60 s], 14.5 / 30
    ('rate_counter({app="foo"} | logfmt | unwrap foo [30s])', 60,
     [({"app": "foo"}, 0.4833333333333334)]),
    # the same with rate: (47 + ... + 61) / 30 = 27
    ('rate({app="foo"} | logfmt | unwrap foo [30s])', 60, [({"app": "foo"}, 27.0)]),
    # constantValue(1): (1 - 1) / 30 = 0
    ('rate_counter({app="const"} | logfmt | unwrap foo [30s])', 60, [({"app": "const"}, 0.0)]),
    # 1 2 3 1 2 at 1..5 s: increase 1 + 3 (the reset), start extrapolated by half the 1 s
    # spacing: 4 times 4.5 over 4, per 10 s
    ('rate_counter({app="reset"} | logfmt | unwrap foo [10s])', 5, [({"app": "reset"}, 0.45)]),
    # one sample in the window: no rate, 0 (len(samples) < 2)
    ('rate_counter({app="reset"} | logfmt | unwrap foo [1s])', 5, [({"app": "reset"}, 0.0)]),
    ('sum(rate_counter({app=~"foo|const"} | logfmt | unwrap foo [30s]))', 60,
     [({}, 0.4833333333333334)]),
    # metric_queries.md: approx_topk on exact data answers as topk
    ('approx_topk(2, sum by (app) (count_over_time({top="yes"}[1m])))', 210,
     [({"app": "a"}, 3.0), ({"app": "c"}, 2.0)]),
    ('topk(2, sum by (app) (count_over_time({top="yes"}[1m])))', 210,
     [({"app": "a"}, 3.0), ({"app": "c"}, 2.0)]),
    ('approx_topk(1, count_over_time({top="yes"}[1m]))', 210,
     [({"app": "a", "top": "yes"}, 3.0)]),
]


@pytest.mark.parametrize(("query", "at", "expected"), INSTANT, ids=[q for q, _, _ in INSTANT])
def test_instant_metric_query(filled, query, at, expected):
    data: Any = query_instant(filled, query, T0 + at * S)
    got = {json.dumps(r["metric"], sort_keys=True): float(r["value"][1]) for r in data["result"]}
    assert got == pytest.approx({json.dumps(lab, sort_keys=True): v for lab, v in expected})


def test_approx_topk_is_only_for_instant_queries(filled):
    """metric_queries.md: "approx_topk is only supported for instant queries"."""
    with pytest.raises(QueryError, match="only supported for instant queries"):
        query_range(filled, 'approx_topk(1, count_over_time({top="yes"}[1m]))', T0,
                    T0 + 300 * S, step_ns=60 * S)


# line_format with {{with}}: the templates of fmt_test.go TestLineFormatter_RequiredLabelNames,
# rendered as Go's text/template runs them ("If the value of the pipeline is empty, dot is
# unaffected and T0 is executed; otherwise, dot is set to the value of the pipeline and T1 is
# executed"); Loki's templates run with missingkey=zero, so a missing label is "" (empty)
WITH_FOO = '{{with .foo}}{{printf "%q" .}} {{end}}'
WITH_ELSE = '{{with .foo}}{{printf "%q" .}} {{else}} {{ .buzz | lower }} {{end}}'


@pytest.mark.parametrize(("template", "labels", "line", "error"), [
    (WITH_FOO, {"foo": "bar"}, '"bar" ', None),
    (WITH_FOO, {}, "", None),
    (WITH_FOO, {"foo": ""}, "", None),
    (WITH_ELSE, {"foo": "x", "buzz": "BUZZ"}, '"x" ', None),
    (WITH_ELSE, {"buzz": "BUZZ"}, " buzz ", None),
    ("{{ with .foo | upper }}<{{ . }}>{{ end }}", {"foo": "x"}, "<X>", None),
    ("{{ if .a }}{{ with .b }}{{ . }}{{ end }}{{ end }}", {"a": "1", "b": "z"}, "z", None),
    ("{{ with . }}{{ .a }}{{ end }}", {"a": "1"}, "1", None),
    # at the top, dot is Loki's map[string]string of labels, as fmt.Sprint prints it
    ("{{ . }}", {"b": "2", "a": "1"}, "map[a:1 b:2 job:t]", None),
    # a field of a string: Go's "can't evaluate field bar in type string"; Loki keeps the line
    ("{{ with .foo }}{{ .bar }}{{ end }}", {"foo": "x", "bar": "y"}, "LINE",
     "TemplateFormatErr"),
])
def test_line_format_with(template, labels, line, error):
    query = parse(f'{{job="t"}} | line_format `{template}`')
    assert isinstance(query, LogQuery)
    got = run_pipeline(query, {"job": "t", **labels}, "LINE")
    assert got is not None
    assert got[1] == line
    assert got[0].get("__error__") == error
