"""LogQL's semantics, table-driven: each query with the answer Loki gives on the same lines.

The expected answers follow Loki's documentation ("LogQL: Log queries", "Metric queries") and
the behaviour its tests pin (pkg/logql/log/parser_test.go, label_filter_test.go,
pkg/logql/engine_test.go): selectors' regexps are anchored, line filters are case-sensitive
substrings, ``|~`` is unanchored; a parsed field named like a stream label gets ``_extracted``;
a line a parser cannot read gets ``__error__``, which numeric filters let through and a metric
query refuses; range functions look at (t - range, t]; log queries read [start, end), newest
first unless ``forward``, and keep the first ``limit`` lines.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from tests.unit.logs._logrows import store_of

from perflab.logs import LogEntry, QueryError, query_instant, query_range
from perflab.store import canonical_labels

S = 10**9
T0 = 1_700_000_000 * S

API_PROD = {"app": "api", "env": "prod"}
API_DEV = {"app": "api", "env": "dev"}
WEB = {"app": "web", "env": "prod", "level": "info"}
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"

LINES = {
    "a1": (API_PROD, 1, 'level=info msg="GET /users" status=200 duration=12ms'),
    "a2": (API_PROD, 2, 'level=error msg="GET /orders" status=500 duration=1.5s'),
    "a3": (API_PROD, 3, 'level=warn msg="slow query" status=200 duration=800ms'),
    "b1": (API_DEV, 4, ('{"level":"info","msg":"started","status":200,'
                        '"user":{"id":7,"name":"ann"},"tags":["x"]}')),
    "b2": (API_DEV, 5, f'{{"level":"error","msg":"db down","status":503,"trace_id":"{TRACE}"}}'),
    "c1": (WEB, 6, "level=debug path=/index user=bob"),
    "c2": (WEB, 7, 'not logfmt "unclosed'),
    "c3": (WEB, 8, "GET /health 200"),
}


def _lf(level: str, msg: str, status: str, duration: str) -> dict[str, str]:
    return {**API_PROD, "level": level, "msg": msg, "status": status, "duration": duration}


A1 = _lf("info", "GET /users", "200", "12ms")
A2 = _lf("error", "GET /orders", "500", "1.5s")
A3 = _lf("warn", "slow query", "200", "800ms")
B1 = {**API_DEV, "level": "info", "msg": "started", "status": "200", "user_id": "7",
      "user_name": "ann"}
B2 = {**API_DEV, "level": "error", "msg": "db down", "status": "503", "trace_id": TRACE}
C1 = {**WEB, "level_extracted": "debug", "path": "/index", "user": "bob"}
PROD_LOGFMT = '{app="api", env="prod"} | logfmt'

# (query, {labels: [line ids or literal lines, in answer order]}); backward over [T0, T0+10s)
LOG_QUERIES: list[tuple[str, list[tuple[dict[str, str], list[str]]]]] = [
    ('{app="api"}', [(API_PROD, ["a3", "a2", "a1"]), (API_DEV, ["b2", "b1"])]),
    ('{app="api", env="prod"}', [(API_PROD, ["a3", "a2", "a1"])]),
    ('{app="api", env!="prod"}', [(API_DEV, ["b2", "b1"])]),
    ('{app=~"ap.*"}', [(API_PROD, ["a3", "a2", "a1"]), (API_DEV, ["b2", "b1"])]),
    ('{app=~"ap"}', []),                                      # anchored
    ('{app!~"api", env="prod"}', [(WEB, ["c3", "c2", "c1"])]),
    ('{app=~"api|web", env="dev"}', [(API_DEV, ["b2", "b1"])]),
    ('{env="prod"}', [(API_PROD, ["a3", "a2", "a1"]), (WEB, ["c3", "c2", "c1"])]),
    ('{nothing="here"}', []),
    ('{app="api", nothing=""}', [(API_PROD, ["a3", "a2", "a1"]), (API_DEV, ["b2", "b1"])]),
    ('{app="api"} |= "GET"', [(API_PROD, ["a2", "a1"])]),
    ('{app="api"} != "GET"', [(API_PROD, ["a3"]), (API_DEV, ["b2", "b1"])]),
    ('{app="api"} |~ `status=5\\d\\d`', [(API_PROD, ["a2"])]),
    ('{app="api"} |~ "slow"', [(API_PROD, ["a3"])]),        # unanchored
    ('{app="api"} !~ "GET|slow"', [(API_DEV, ["b2", "b1"])]),
    ('{app="api"} |= "GET" |= "orders"', [(API_PROD, ["a2"])]),
    ('{app="api"} |= "GET" != "orders"', [(API_PROD, ["a1"])]),
    ('{app="web"} |= "he"', [(WEB, ["c3"])]),                # shorter than a trigram
    ('{app="api"} |= "get"', []),                            # case-sensitive
    ('{app="api"} |~ "(?i)get"', [(API_PROD, ["a2", "a1"])]),
    ('{app="api"} |= ""', [(API_PROD, ["a3", "a2", "a1"]), (API_DEV, ["b2", "b1"])]),
    ('{app="api"} |= "\\"db down\\""', [(API_DEV, ["b2"])]),
    (PROD_LOGFMT, [(A3, ["a3"]), (A2, ["a2"]), (A1, ["a1"])]),
    (PROD_LOGFMT + ' | level="error"', [(A2, ["a2"])]),
    (PROD_LOGFMT + " | status >= 500", [(A2, ["a2"])]),
    (PROD_LOGFMT + " | status == 200", [(A1, ["a1"]), (A3, ["a3"])]),
    (PROD_LOGFMT + " | status != 200", [(A2, ["a2"])]),
    (PROD_LOGFMT + " | status < 300", [(A1, ["a1"]), (A3, ["a3"])]),
    (PROD_LOGFMT + " | duration > 1s", [(A2, ["a2"])]),
    (PROD_LOGFMT + " | duration >= 800ms", [(A2, ["a2"]), (A3, ["a3"])]),
    (PROD_LOGFMT + " | duration < 100ms", [(A1, ["a1"])]),
    (PROD_LOGFMT + " | duration <= 12ms", [(A1, ["a1"])]),
    (PROD_LOGFMT + ' | level="error" or level="warn"', [(A2, ["a2"]), (A3, ["a3"])]),
    (PROD_LOGFMT + " | status=200 and duration>500ms", [(A3, ["a3"])]),
    (PROD_LOGFMT + " | status=200, duration>500ms", [(A3, ["a3"])]),
    (PROD_LOGFMT + " | status=200 | duration>500ms", [(A3, ["a3"])]),
    (PROD_LOGFMT + ' | level=~"err.*|warn"', [(A2, ["a2"]), (A3, ["a3"])]),
    (PROD_LOGFMT + ' | level=~"err"', []),                  # anchored
    (PROD_LOGFMT + ' | level!~"err.*"', [(A1, ["a1"]), (A3, ["a3"])]),
    (PROD_LOGFMT + ' | (level="info" or level="warn") and status=200',
     [(A1, ["a1"]), (A3, ["a3"])]),
    (PROD_LOGFMT + ' | missing=""', [(A3, ["a3"]), (A2, ["a2"]), (A1, ["a1"])]),
    (PROD_LOGFMT + " | missing > 1", []),                  # a numeric filter needs the label
    (PROD_LOGFMT + ' | msg="GET /users" | status=200', [(A1, ["a1"])]),
    ('{app="api", env="prod"} |= "slow" | logfmt | status=200', [(A3, ["a3"])]),
    ('{env="dev"} | json', [(B2, ["b2"]), (B1, ["b1"])]),   # arrays are left out
    ('{env="dev"} | json | user_name="ann"', [(B1, ["b1"])]),
    ('{env="dev"} | json | user_id=7', [(B1, ["b1"])]),
    ('{env="dev"} | json | status > 500', [(B2, ["b2"])]),
    ('{env="dev"} | json | msg=~"db.*"', [(B2, ["b2"])]),
    ('{app="web"} |= "path" | logfmt', [(C1, ["c1"])]),      # level=debug: level_extracted
    # logfmt skips the pairs it cannot read; only --strict marks the line
    # (pkg/logql/log/parser_test.go Test_logfmtParser_Parse "not logfmt": want vs wantStrict)
    ('{app="web"} |= "unclosed" | logfmt', [(WEB, ["c2"])]),
    ('{app="web"} |= "unclosed" | logfmt --strict',
     [({**WEB, "__error__": "LogfmtParserErr"}, ["c2"])]),
    ('{app="web"} |= "unclosed" | logfmt --strict | __error__=""', []),
    ('{app="web"} |= "unclosed" | logfmt --keep-empty', [({**WEB, "not": "", "logfmt": ""},
                                                          ["c2"])]),
    ('{app="web"} | json', [({**WEB, "__error__": "JSONParserErr"}, ["c3", "c2", "c1"])]),
    ('{app="web"} | json | __error__!="JSONParserErr"', []),
    ('{app="web"} | json | status > 5', [({**WEB, "__error__": "JSONParserErr"},
                                          ["c3", "c2", "c1"])]),  # errors pass numeric filters
    (PROD_LOGFMT + " | msg > 5", [({**A1, "__error__": "LabelFilterErr"}, ["a1"]),
                                  ({**A2, "__error__": "LabelFilterErr"}, ["a2"]),
                                  ({**A3, "__error__": "LabelFilterErr"}, ["a3"])]),
    (PROD_LOGFMT + ' | line_format "{{.level}}: {{.msg}}"',
     [(A3, ["=warn: slow query"]), (A2, ["=error: GET /orders"]), (A1, ["=info: GET /users"])]),
    (PROD_LOGFMT + ' | status >= 500 | line_format "{{ .msg }} ({{.duration}})"',
     [(A2, ["=GET /orders (1.5s)"])]),
    (PROD_LOGFMT + ' | line_format "{{.msg}}" |= "users"', [(A1, ["=GET /users"])]),
    ('{app="web"} | line_format "[{{__line__}}]" |= "[GET"', [(WEB, ["=[GET /health 200]"])]),
    ('{app="web"} | line_format "{{.nope}}x"', [(WEB, ["=x", "=x", "=x"])]),
]


# Streams for the stages and functions added later; each has `job` and no `app` or `env`, so
# the queries above do not see them. Lines from Loki's docs and tests, as cited per case.
NGINX = {"job": "nginx"}
SVC1 = {"job": "svc", "host": "h1"}
SVC2 = {"job": "svc", "host": "h2"}
PACKED = {"job": "packed"}
COLOR = {"job": "color"}
RX = {"job": "rx"}
VARLOGS = {"job": "varlogs"}
CLF = ('127.0.0.1 user-identifier frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif '
       'HTTP/1.0" 200 2326')
VERSIONCHECK = ("/api/plugins/versioncheck?slugIn=snuids-trafficlights-panel,input,gel"
                "&grafanaVersion=7.0.0-beta1")
COMBINED = (f'35.191.8.106 - - [19/May/2021:07:21:49 +0000] "GET {VERSIONCHECK} HTTP/1.1" 200 '
            '107 "-" "Go-http-client/2.0" "80.153.74.144, 34.120.177.193" "TLSv1.3" "DE" "DEBW"')


def _json(**kw: str) -> str:
    return json.dumps(kw).replace('":"', '": "').replace('","', '", "')


LINES.update({
    # pkg/logql/log/pattern/pattern_test.go: Common and Combined Log Format fixtures
    "n1": (NGINX, 1, CLF),
    "n2": (NGINX, 2, COMBINED),
    "s1": (SVC1, 1, "level=info method=GET path=/a status=200 latency=10ms size=1KB took=0.5"),
    "s2": (SVC2, 2, "level=info method=POST path=/a status=201 latency=250ms size=2KiB took=1.5"),
    "s3": (SVC1, 3, "level=error method=GET path=/b status=500 latency=1.5s size=3MB took=abc"),
    "s4": (SVC2, 4, "level=info method=GET path=/b status=200 latency=20ms size=512B took=2"),
    # docs/sources/query/log_queries/_index.md, "unpack"
    "p1": (PACKED, 1, ('{"container": "myapp", "pod": "pod-3223f", '
                      '"_entry": "original log message"}')),
    "p2": (PACKED, 2, '{"a": "b"}'),
    "p3": (PACKED, 3, "not json"),
    "k1": (COLOR, 1, "\x1b[31merror\x1b[0m: disk full"),
    # docs/sources/query/log_queries/_index.md, "Regular expression"
    "r1": (RX, 1, "POST /api/prom/api/v1/query_range (200) 1.5s"),
    "r2": (RX, 2, "nothing to see"),
    # docs/sources/query/log_queries/_index.md, "Drop Labels" and "Keep Labels"
    "v1": (VARLOGS, 1, _json(level="info", method="GET", path="/", host="grafana.net",
                             status="200")),
    "v2": (VARLOGS, 2, _json(level="info", method="POST", path="/", host="grafana.net",
                             status="200")),
    "v3": (VARLOGS, 3, _json(app="some-api-service", level="info", method="GET", path="/",
                             host="grafana.net", status="200")),
    "v4": (VARLOGS, 4, _json(app="other-service", level="info", method="GET", path="/",
                             host="grafana.net", status="200")),
})
GN = {"host": "grafana.net", "status": "200"}
CLF_PATTERN = '`<ip> <userid> <user> [<_>] "<method> <path> <_>" <status> <size>`'
COMBINED_PATTERN = '`<ip> - - [<_>] "<method> <path> <_>" <status> <size> `'
RX_DOC = r"`(?P<method>\w+) (?P<path>[\w|/]+) \((?P<status>\d+?)\) (?P<duration>.*)`"

LOG_QUERIES += [
    # pattern: pkg/logql/log/pattern/pattern_test.go (fixtures "Common Log Format", "Combined")
    ('{job="nginx"} |= "frank" | pattern ' + CLF_PATTERN,
     [({**NGINX, "ip": "127.0.0.1", "userid": "user-identifier", "user": "frank",
        "method": "GET", "path": "/apache_pb.gif", "status": "200", "size": "2326"}, ["n1"])]),
    ('{job="nginx"} |= "Go-http" | pattern ' + COMBINED_PATTERN,
     [({**NGINX, "ip": "35.191.8.106", "method": "GET", "path": VERSIONCHECK,
        "status": "200", "size": "107"}, ["n2"])]),
    # a capture named like a stream label: _extracted (log_queries/_index.md, "Parser expression")
    ('{job="nginx"} |= "frank" | pattern "<job> <_>"',
     [({**NGINX, "job_extracted": "127.0.0.1"}, ["n1"])]),
    ('{job="nginx"} | pattern "<ip> <_>" | ip="127.0.0.1"',
     [({**NGINX, "ip": "127.0.0.1"}, ["n1"])]),
    # anchored at the line's start when it begins with a literal (log_queries/_index.md)
    ('{job="nginx"} | pattern "[<_>] <x>"', [(NGINX, ["n2", "n1"])]),
    # a missing literal: the capture takes the rest of the line (pattern.go Matches)
    ('{job="nginx"} |= "frank" | pattern "<ip> - - <_>"', [({**NGINX, "ip": CLF}, ["n1"])]),
    # regexp: log_queries/_index.md "Regular expression"; a line it does not match is kept
    ('{job="rx"} | regexp ' + RX_DOC,
     [({**RX, "method": "POST", "path": "/api/prom/api/v1/query_range", "status": "200",
        "duration": "1.5s"}, ["r1"]), (RX, ["r2"])]),
    ('{job="rx"} | regexp `(?P<verb>[A-Z]+) ` | verb="POST"', [({**RX, "verb": "POST"}, ["r1"])]),
    # unpack: log_queries/_index.md "unpack"; pkg/logql/log/parser_test.go Test_unpackParser
    ('{job="packed"} | unpack',
     [({**PACKED, "__error__": "JSONParserErr"}, ["p3"]), (PACKED, ["p2"]),
      ({**PACKED, "container": "myapp", "pod": "pod-3223f"}, ["=original log message"])]),
    ('{job="packed"} | unpack != "container" | __error__=""',
     [(PACKED, ["p2"]),
      ({**PACKED, "container": "myapp", "pod": "pod-3223f"}, ["=original log message"])]),
    # decolorize: log_queries/_index.md "Removing color codes"
    ('{job="color"} | decolorize', [(COLOR, ["=error: disk full"])]),
    ('{job="color"} | decolorize |= "error: disk"', [(COLOR, ["=error: disk full"])]),
    ('{job="color"} |= "error: disk"', []),
    # drop and keep: log_queries/_index.md "Drop Labels expression", "Keep Labels expression"
    ('{job="varlogs"} | json | drop level, method="GET"',
     [({**VARLOGS, **GN, "path": "/"}, ["v1"]),
      ({**VARLOGS, **GN, "path": "/", "method": "POST"}, ["v2"]),
      ({**VARLOGS, **GN, "path": "/", "app": "some-api-service"}, ["v3"]),
      ({**VARLOGS, **GN, "path": "/", "app": "other-service"}, ["v4"])]),
    ('{job="varlogs"} | json | drop level, path, app=~"some-api.*"',
     [({**VARLOGS, **GN, "method": "GET"}, ["v3", "v1"]),
      ({**VARLOGS, **GN, "method": "POST"}, ["v2"]),
      ({**VARLOGS, **GN, "method": "GET", "app": "other-service"}, ["v4"])]),
    ('{job="varlogs"} | json | keep level, method="GET"',
     [({"level": "info", "method": "GET"}, ["v4", "v3", "v1"]), ({"level": "info"}, ["v2"])]),
    ('{job="varlogs"} | json | keep level, tenant, app=~"some-api.*"',
     [({"app": "some-api-service", "level": "info"}, ["v3"]),
      ({"level": "info"}, ["v4", "v2", "v1"])]),
    ('{job="color"} | json | drop __error__', [(COLOR, ["k1"])]),
    ('{job="color"} | json | keep job',                     # keep leaves __error__
     [({**COLOR, "__error__": "JSONParserErr"}, ["k1"])]),
    # label_format: log_queries/_index.md "Labels format expression"; fmt_test.go
    ('{job="svc"} | logfmt | keep host, status | label_format code=status',
     [({"code": "200", "host": "h1"}, ["s1"]), ({"code": "500", "host": "h1"}, ["s3"]),
      ({"code": "201", "host": "h2"}, ["s2"]), ({"code": "200", "host": "h2"}, ["s4"])]),
    (('{job="svc"} |= "POST" | logfmt | keep method, path | label_format route="{{.method}} '
     '{{.path}}"'), [({"method": "POST", "path": "/a", "route": "POST /a"}, ["s2"])]),
    ('{job="svc"} | logfmt | keep host, status | label_format status="{{div .status 100}}xx"',
     [({"host": "h1", "status": "2xx"}, ["s1"]), ({"host": "h1", "status": "5xx"}, ["s3"]),
      ({"host": "h2", "status": "2xx"}, ["s4", "s2"])]),
    # items in order (fmt.go LabelsFormatter.Process): the rename moves status at once, the
    # templates read the labels as they were at the first template
    (('{job="svc"} |= "POST" | logfmt | keep method, status | label_format code=status, '
     'a="{{.code}}/{{.status}}/{{.b}}", b="{{.method}}"'),
     [({"method": "POST", "code": "201", "a": "201//", "b": "POST"}, ["s2"])]),
    # line_format's functions: docs/sources/query/template_functions.md; fmt_test.go
    (('{job="svc"} |= "POST" | logfmt | line_format `{{ .method | ToLower }} {{ ToUpper .path '
     '}} {{ printf "%-6s" .level }}|` | keep host'), [({"host": "h2"}, ["=post /A info  |"])]),
    (('{job="svc"} |= "POST" | logfmt | line_format `{{ .nope | default "-" }} {{ trim "  x  " '
     '}} {{ __line__ | trunc 10 }}` | keep host'), [({"host": "h2"}, ["=- x level=info"])]),
    (('{job="svc"} |= "POST" | line_format `{{ __timestamp__ | unixEpoch }} {{ __timestamp__ | '
     'date "2006-01-02T15:04:05Z07:00" }}`'), [(SVC2, ["=1700000002 2023-11-14T22:13:22Z"])]),
    ('{job="svc"} |= "POST" | line_format "{{ __timestamp__ }}"',
     [(SVC2, ["=2023-11-14 22:13:22 +0000 UTC"])]),
    (('{job="svc"} |= "POST" | logfmt | line_format "{{ .size | bytes }} {{ .latency | '
     'duration }}" | keep host'), [({"host": "h2"}, ["=2048 0.25"])]),
    (('{job="svc"} | logfmt | keep host, level | line_format `{{ if eq .level "error" }}!!'
     '{{ else }}ok{{ end }}`'), [({"host": "h1", "level": "error"}, ["=!!"]),
                                ({"host": "h1", "level": "info"}, ["=ok"]),
                                ({"host": "h2", "level": "info"}, ["=ok", "=ok"])]),
    # a call that fails: TemplateFormatErr, the line kept (fmt_test.go "template_error")
    ('{job="svc"} |= "POST" | line_format "{{.host | now}}"',
     [({**SVC2, "__error__": "TemplateFormatErr"}, ["s2"])]),
    # sizes in label filters: log_queries/_index.md "Label filter expression" (Bytes)
    ('{job="svc"} | logfmt | size > 1.5KB | keep host',
     [({"host": "h1"}, ["s3"]), ({"host": "h2"}, ["s2"])]),
    ('{job="svc"} | logfmt | latency >= 250ms and size <= 2KiB | keep host',
     [({"host": "h2"}, ["s2"])]),
]


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    yield from store_of(tmp_path_factory, "logql", [
        LogEntry(canonical_labels(labels), T0 + sec * S, line)
        for labels, sec, line in LINES.values()])


def _expected(streams: list[tuple[dict[str, str], list[str]]]) -> dict[str, list[str]]:
    out = {}
    for labels, ids in streams:
        out[json.dumps(labels, sort_keys=True)] = [
            i[1:] if i.startswith("=") else LINES[i][2] for i in ids]
    return out


def _got(data) -> dict[str, list[str]]:
    return {json.dumps(s["stream"], sort_keys=True): [line for _, line in s["values"]]
            for s in data["result"]}


@pytest.mark.parametrize(("query", "expected"), LOG_QUERIES, ids=[q for q, _ in LOG_QUERIES])
def test_log_query(filled, query, expected):
    data = query_range(filled, query, T0, T0 + 10 * S)
    assert data["resultType"] == "streams"
    assert _got(data) == _expected(expected)


def test_log_query_times_are_the_lines_ns(filled):
    data: Any = query_range(filled, '{app="web"} |= "GET"', T0, T0 + 10 * S)
    assert data["result"][0]["values"] == [[str(T0 + 8 * S), "GET /health 200"]]


@pytest.mark.parametrize(("query", "limit", "backward", "expected"), [
    ('{app="api"}', 2, True, [(API_DEV, ["b2", "b1"])]),          # the newest two overall
    ('{app="api"}', 2, False, [(API_PROD, ["a1", "a2"])]),        # the oldest two overall
    ('{env="prod"}', 100, False, [(API_PROD, ["a1", "a2", "a3"]), (WEB, ["c1", "c2", "c3"])]),
    ('{app="api"}', 4, True, [(API_PROD, ["a3", "a2"]), (API_DEV, ["b2", "b1"])]),
])
def test_limit_and_direction(filled, query, limit, backward, expected):
    data = query_range(filled, query, T0, T0 + 10 * S, limit=limit, backward=backward)
    assert _got(data) == _expected(expected)


def test_start_is_inclusive_and_end_exclusive(filled):
    data = query_range(filled, '{app="api", env="prod"}', T0 + 1 * S, T0 + 3 * S)
    assert _got(data) == _expected([(API_PROD, ["a2", "a1"])])


E = {"app": "api", "env": "prod"}
D = {"app": "api", "env": "dev"}
ALL = '{app=~".+"}'

# (query, evaluated at T0 + seconds, [(labels, value)])
INSTANT: list[tuple[str, int, list[tuple[dict[str, str], float]]]] = [
    ('count_over_time({app="api"}[1m])', 10, [(D, 2), (E, 3)]),
    (f"sum(count_over_time({ALL}[1m]))", 10, [({}, 8)]),
    (f"sum by (env) (count_over_time({ALL}[1m]))", 10, [({"env": "dev"}, 2),
                                                         ({"env": "prod"}, 6)]),
    (f"sum(count_over_time({ALL}[1m])) by (app)", 10, [({"app": "api"}, 5),
                                                        ({"app": "web"}, 3)]),
    ('sum without (env) (count_over_time({app="api"}[1m]))', 10, [({"app": "api"}, 5)]),
    ('rate({app="api"}[10s])', 10, [(D, 0.2), (E, 0.3)]),
    ('bytes_over_time({app="web"}[1m])', 10,
     [(WEB, float(sum(len(LINES[i][2]) for i in ("c1", "c2", "c3"))))]),
    ('bytes_rate({app="web"}[1m])', 10,
     [(WEB, sum(len(LINES[i][2]) for i in ("c1", "c2", "c3")) / 60)]),
    ('count_over_time({app="api"} |= "GET" [1m])', 10, [(E, 2)]),
    ('sum by (level) (count_over_time({app="api", env="prod"} | logfmt [1m]))', 10,
     [({"level": "error"}, 1), ({"level": "info"}, 1), ({"level": "warn"}, 1)]),
    ('sum by (level) (count_over_time({app="api"} | logfmt --strict | __error__="" [1m]))', 10,
     [({"level": "error"}, 1), ({"level": "info"}, 1), ({"level": "warn"}, 1)]),
    # not --strict: the JSON lines give no pair, and no error
    ('sum by (level) (count_over_time({app="api"} | logfmt [1m]))', 10,
     [({"level": "error"}, 1), ({"level": "info"}, 1), ({"level": "warn"}, 1), ({}, 2)]),
    (f"max(count_over_time({ALL}[1m]))", 10, [({}, 3)]),
    (f"min(count_over_time({ALL}[1m]))", 10, [({}, 2)]),
    (f"avg(count_over_time({ALL}[1m]))", 10, [({}, 8 / 3)]),
    (f"count(count_over_time({ALL}[1m]))", 10, [({}, 3)]),
    ('count_over_time({app="api"}[2s])', 3, [(E, 2)]),
    ('count_over_time({app="api"}[1s])', 2, [(E, 1)]),             # (t - range, t]
    ('count_over_time({app="api"}[1s])', 1, [(E, 1)]),
    ('count_over_time({app="api"}[1s])', 0, []),                   # no line: no sample
    ('sum by (level) (count_over_time({app="web"}[1m]))', 10, [({"level": "info"}, 3)]),
    ('sum by (level) (count_over_time({app="web"} |= "path" | logfmt [1m]))', 10,
     [({"level": "info"}, 1)]),                                    # the stream's level wins
    ('sum by (level_extracted) (count_over_time({app="web"} |= "path" | logfmt [1m]))', 10,
     [({"level_extracted": "debug"}, 1)]),
    ('count_over_time({env="dev"} | json | status >= 500 [1m])', 10, [(B2, 1)]),
    ('sum(count_over_time({env="dev"} | json | status >= 500 [1m]))', 10, [({}, 1)]),
    (f"sum(rate({ALL}[5s]))", 5, [({}, 1.0)]),
    ('sum by (nope) (count_over_time({app="api"}[1m]))', 10, [({}, 5)]),
    ('max by (app) (count_over_time({env="prod"}[1m]))', 10, [({"app": "api"}, 3),
                                                              ({"app": "web"}, 3)]),
]


LF = '{job="svc"} | logfmt'
H1, H2 = {"host": "h1"}, {"host": "h2"}
API = 'count_over_time({app="api"}[1m])'          # at T0+10: D 2, E 3
BY_ENV = f"sum by (env) (count_over_time({ALL}[1m]))"   # dev 2, prod 6
INSTANT += [
    # unwrapped ranges: docs/sources/query/metric_queries.md "Unwrapped range aggregations";
    # pkg/logql/range_vector.go (population stddev/stdvar, Prometheus's quantile)
    (f"max_over_time({LF} | unwrap duration(latency) [1m]) by (host)", 10, [(H1, 1.5),
                                                                            (H2, 0.25)]),
    (f"min_over_time({LF} | unwrap duration(latency) [1m]) by (host)", 10, [(H1, 0.01),
                                                                            (H2, 0.02)]),
    (f"avg_over_time({LF} | unwrap duration_seconds(latency) [1m]) by (host)", 10,
     [(H1, 0.755), (H2, 0.135)]),
    (f"first_over_time({LF} | unwrap duration(latency) [1m]) by (host)", 10, [(H1, 0.01),
                                                                              (H2, 0.25)]),
    (f"last_over_time({LF} | unwrap duration(latency) [1m]) by (host)", 10, [(H1, 1.5),
                                                                             (H2, 0.02)]),
    (f"stddev_over_time({LF} | unwrap duration(latency) [1m]) by (host)", 10, [(H1, 0.745),
                                                                               (H2, 0.115)]),
    (f"stdvar_over_time({LF} | unwrap duration(latency) [1m]) by (host)", 10,
     [(H1, 0.555025), (H2, 0.013225)]),
    (f"quantile_over_time(0.5, {LF} | unwrap duration(latency) [1m]) by (host)", 10,
     [(H1, 0.755), (H2, 0.135)]),
    (f"quantile_over_time(0.99, {LF} | unwrap duration(latency) [1m]) by (host)", 10,
     [(H1, 1.4851), (H2, 0.2477)]),
    # grouping on the range aggregation merges the streams' samples before the quantile
    (f"quantile_over_time(0.5, {LF} | unwrap duration(latency) [1m]) by (job)", 10,
     [({"job": "svc"}, 0.135)]),
    (f"quantile_over_time(2, {LF} | unwrap duration(latency) [1m]) by (job)", 10,
     [({"job": "svc"}, math.inf)]),
    ((f"max_over_time({LF} | keep host, path, latency | unwrap duration(latency) [1m]) "
     "without (path)"), 10, [(H1, 1.5), (H2, 0.25)]),
    (f"sum by (host) (sum_over_time({LF} | unwrap bytes(size) [1m]))", 10,
     [(H1, 3_001_000), (H2, 2560)]),          # 1KB + 3MB (SI); 2KiB + 512B
    # a value that does not convert: SampleExtractionErr, dropped by | __error__=""
    (f'sum_over_time({LF} | keep host, took | unwrap took | __error__="" [1m])', 10,
     [(H1, 0.5), (H2, 3.5)]),
    ('sum_over_time({job="svc"}[1m] | logfmt | keep host, took | unwrap took | __error__="")',
     10, [(H1, 0.5), (H2, 3.5)]),            # the range after the selector, as Loki allows
    (f'rate({LF} | keep host, took | unwrap took | __error__="" [10s])', 10,
     [(H1, 0.05), (H2, 0.35)]),
    (f"sum_over_time({LF} | keep host, nope | unwrap nope [1m])", 10, []),  # no label: no sample
    # absent_over_time: metric_queries.md; labels from the selector's = matchers
    ('absent_over_time({app="nope", env="x"}[1m])', 10, [({"app": "nope", "env": "x"}, 1)]),
    ('absent_over_time({app=~"no.*", job="x"}[1m])', 10, [({"job": "x"}, 1)]),
    ('absent_over_time({app="api"}[1m])', 10, []),
    (f"absent_over_time({LF} | keep host, nope | unwrap nope [1m])", 10, [({"job": "svc"}, 1)]),
    # offset: metric_queries.md "Offset modifier"
    ('count_over_time({app="api"}[1s] offset 1s)', 4, [(E, 1)]),
    ('count_over_time({app="api"}[1m] offset 5s)', 10, [(D, 2), (E, 3)]),
    ('count_over_time({app="api"}[1m] offset 6s)', 10, [(D, 1), (E, 3)]),
    # binary operators: Prometheus's "Operators" docs, which Loki follows
    # (pkg/logql/evaluator.go vectorBinop; pkg/logql/syntax/ast_test.go, engine_test.go)
    (f"{API} * 2", 10, [(D, 4), (E, 6)]),
    (f"{API} - 1 * 2", 10, [(D, 0), (E, 1)]),                       # * before -
    (f"{API} ^ 2", 10, [(D, 4), (E, 9)]),
    (f"{API} % 2", 10, [(D, 0), (E, 1)]),
    ("2 ^ 3 ^ 2 * vector(1)", 10, [({}, 512)]),                    # ^ is right-associative
    (f"(1 + 2) * {API}", 10, [(D, 6), (E, 9)]),
    (f"{API} > 2", 10, [(E, 3)]),                                   # a filter: the value kept
    (f"2 < {API}", 10, [(E, 3)]),
    (f"{API} > bool 2", 10, [(D, 0), (E, 1)]),
    (f"{API} == 3", 10, [(E, 3)]),
    (f"{API} != bool 3", 10, [(D, 1), (E, 0)]),
    (f"{API} / {API}", 10, [(D, 1), (E, 1)]),
    (f"{API} >= bool {API}", 10, [(D, 1), (E, 1)]),
    (f"{BY_ENV} / on() group_left sum(count_over_time({ALL}[1m]))", 10,
     [({"env": "dev"}, 0.25), ({"env": "prod"}, 0.75)]),
    (f"{API} / ignoring(env) group_left sum by (app) ({API})", 10, [(D, 0.4), (E, 0.6)]),
    (f"sum by (app) ({API}) * on(app) group_right {API}", 10, [(D, 10), (E, 15)]),
    (f"sum by (app, env) ({API}) - on(env) {BY_ENV}", 10,
     [({"env": "dev"}, 0), ({"env": "prod"}, -3)]),                # one-to-one keeps on()
    (f'{API} and count_over_time({{env="prod"}}[1m])', 10, [(E, 3)]),
    (f'{API} unless count_over_time({{env="prod"}}[1m])', 10, [(D, 2)]),
    (f'{API} or count_over_time({{env="prod"}}[1m])', 10, [(D, 2), (E, 3), (WEB, 3)]),
    (f'{API} and on(env) count_over_time({{app="web"}}[1m])', 10, [(E, 3)]),
    # vector(): metric_queries.md "Functions" (the `or vector(0)` example)
    ('sum(count_over_time({app="nope"}[1m])) or vector(0)', 10, [({}, 0)]),
    ('sum(count_over_time({app="api"}[1m])) or vector(0)', 10, [({}, 5)]),
    # aggregations: metric_queries.md "Built-in aggregation operators"
    (f"topk(2, count_over_time({ALL}[1m]))", 10, [(E, 3), (WEB, 3)]),
    (f"bottomk(1, count_over_time({ALL}[1m]))", 10, [(D, 2)]),
    (f"topk by (app) (1, count_over_time({ALL}[1m]))", 10, [(E, 3), (WEB, 3)]),
    (f"bottomk(1, count_over_time({ALL}[1m])) by (app)", 10, [(D, 2), (WEB, 3)]),
    (f"stdvar(count_over_time({ALL}[1m]))", 10, [({}, 2 / 9)]),
    (f"stddev by (env) (count_over_time({ALL}[1m]))", 10, [({"env": "dev"}, 0),
                                                           ({"env": "prod"}, 0)]),
    # label_replace: Prometheus's docs (anchored regexp, $1 expansion; "" removes the label)
    (f'label_replace({API}, "stage", "$1-x", "env", "(p.*)")', 10,
     [(D, 2), ({**E, "stage": "prod-x"}, 3)]),
    (f'label_replace({API}, "stage", "${{1}}", "env", "p")', 10, [(D, 2), (E, 3)]),
    ('label_replace(count_over_time({app="web"}[1m]), "app", "", "app", "web")', 10,
     [({"env": "prod", "level": "info"}, 3)]),
]


@pytest.mark.parametrize(("query", "at", "expected"), INSTANT, ids=[q for q, _, _ in INSTANT])
def test_instant_metric_query(filled, query, at, expected):
    data: Any = query_instant(filled, query, T0 + at * S)
    assert data["resultType"] == "vector"
    got = {json.dumps(r["metric"], sort_keys=True): float(r["value"][1]) for r in data["result"]}
    assert got == pytest.approx({json.dumps(lab, sort_keys=True): v for lab, v in expected})
    assert all(r["value"][0] == 1_700_000_000 + at for r in data["result"])


def test_range_metric_query_is_a_matrix(filled):
    """count_over_time over [2s] at each 1 s step from T0+1s to T0+4s: windows are
    left-open, so each line counts in two neighbouring steps."""
    data = query_range(filled, 'count_over_time({app="api", env="prod"}[2s])', T0 + S,
                       T0 + 4 * S, step_ns=S)
    assert data == {"resultType": "matrix", "result": [
        {"metric": E, "values": [[1_700_000_001, "1"], [1_700_000_002, "2"],
                                 [1_700_000_003, "2"], [1_700_000_004, "1"]]}]}


def test_rate_values_keep_their_fraction(filled):
    data: Any = query_range(filled, 'rate({app="api", env="prod"}[4s])', T0 + 4 * S, T0 + 4 * S,
                       step_ns=S)
    assert data["result"][0]["values"] == [[1_700_000_004, "0.75"]]


def test_a_metric_query_over_lines_with_parser_errors_is_refused(filled):
    with pytest.raises(QueryError, match="pipeline error: 'LogfmtParserErr'") as info:
        query_instant(filled, 'count_over_time({app="api"} | logfmt --strict [1m])',
                      T0 + 10 * S)
    assert '__error__=""' in (info.value.hint or "")


@pytest.mark.parametrize("func", ["count_over_time", "rate", "bytes_over_time", "bytes_rate"])
@pytest.mark.parametrize("window", [
    (1, 1, 0, 10), (2, 1, 1, 9), (3, 2, 0, 10), (5, 3, 2, 11), (10, 10, 0, 20), (1, 4, 1, 9),
    (7, 1, 4, 4),
])  # (range, step, start, end) in seconds from T0
@pytest.mark.parametrize("filters", ["", ' |= "GET"', ' |= "e" |= "level"'])
def test_counts_from_sql_equal_the_line_by_line_evaluation(filled, func, window, filters):
    """Stage-less range functions are counted by SQLite per bucket; ``line_format
    "{{__line__}}"`` changes nothing but sends the same query through the pipeline line by
    line: both must give the same series."""
    range_s, step_s, start_s, end_s = window
    fast = f'{func}({{app=~".+"}}{filters} [{range_s}s])'
    slow = f'{func}({{app=~".+"}}{filters} | line_format "{{{{__line__}}}}" [{range_s}s])'
    args = (T0 + start_s * S, T0 + end_s * S)
    assert query_range(filled, fast, *args, step_ns=step_s * S) == \
        query_range(filled, slow, *args, step_ns=step_s * S)


def _matrix(data: Any) -> dict[str, list[list[Any]]]:
    return {json.dumps(r["metric"], sort_keys=True): r["values"] for r in data["result"]}


def _t(*secs: int) -> list[int]:
    return [1_700_000_000 + s for s in secs]


@pytest.mark.parametrize(("query", "start", "end", "expected"), [
    # offset shifts each window back; the points keep the steps' times
    ('count_over_time({app="api", env="prod"}[1s] offset 1s)', 2, 4,
     [(E, [(2, "1"), (3, "1"), (4, "1")])]),
    # absent_over_time: 1 at the steps whose window has no line
    ('absent_over_time({app="api", env="prod"}[1s])', 0, 5,
     [(E, [(0, "1"), (4, "1"), (5, "1")])]),
    # topk per step: a series has points only where it is among the k
    ('topk(1, count_over_time({app="api"}[1s]))', 1, 5,
     [(D, [(4, "1"), (5, "1")]), (E, [(1, "1"), (2, "1"), (3, "1")])]),
    ('sum(count_over_time({app="api"}[1s])) or vector(0)', 0, 6,
     [({}, [(0, "0"), (1, "1"), (2, "1"), (3, "1"), (4, "1"), (5, "1"), (6, "0")])]),
    ("vector(2) * 3", 0, 2, [({}, [(0, "6"), (1, "6"), (2, "6")])]),
    # a division by zero is NaN in Loki (pkg/logql/syntax/ast.go MergeBinOp), not +Inf
    ('count_over_time({app="api", env="prod"}[2s]) / 0', 1, 1, [(E, [(1, "NaN")])]),
    ('count_over_time({app="api", env="prod"}[2s]) % 0', 1, 1, [(E, [(1, "NaN")])]),
    ('quantile_over_time(2, {job="svc"} | logfmt | unwrap duration(latency) [1m]) by (job)',
     4, 4, [({"job": "svc"}, [(4, "+Inf")])]),
    ('-1 * count_over_time({app="api", env="prod"}[2s]) ^ 0.5 < 0', 1, 1,
     [(E, [(1, "-1")])]),
])
def test_range_metric_operators(filled, query, start, end, expected):
    data = query_range(filled, query, T0 + start * S, T0 + end * S, step_ns=S)
    assert _matrix(data) == {json.dumps(lab, sort_keys=True): [[_t(s)[0], v] for s, v in pts]
                             for lab, pts in expected}


def test_sort_orders_an_instant_vector_by_value(filled):
    """sort/sort_desc: the only instant answers Loki orders by value (metric_queries.md,
    "Result ordering"); anything else is ordered by labels."""
    query = f"sort(count_over_time({ALL}[1m]))"
    data: Any = query_instant(filled, query, T0 + 10 * S)
    assert [(r["metric"], r["value"][1]) for r in data["result"]] == [
        (D, "2"), (E, "3"), (WEB, "3")]
    data = query_instant(filled, f"sort_desc(count_over_time({ALL}[1m]))", T0 + 10 * S)
    assert [r["value"][1] for r in data["result"]] == ["3", "3", "2"]
    assert data["result"][-1]["metric"] == D
    data = query_instant(filled, f"bottomk(3, count_over_time({ALL}[1m]))", T0 + 10 * S)
    assert [r["metric"] for r in data["result"]] == [D, E, WEB]
    # sort anywhere in the query keeps the order (evaluator.go Sortable); by groups, sorted
    # within each group
    data = query_instant(filled, f"sort_desc by (app) (count_over_time({ALL}[1m])) * 2",
                         T0 + 10 * S)
    assert [(r["metric"], r["value"][1]) for r in data["result"]] == [
        (E, "6"), (D, "4"), (WEB, "6")]


@pytest.mark.parametrize(("query", "says"), [
    # Loki refuses a metric series with __error__ (pkg/logqlmodel: pipeline error)
    (f"sum_over_time({LF} | unwrap took [1m])", "'SampleExtractionErr'"),
    (f"sum_over_time({LF} | unwrap latency [1m])", "'SampleExtractionErr'"),  # not a float
    # one-to-one matching needs one series per match on each side
    (f"{BY_ENV} / on() sum by (app) (count_over_time({ALL}[1m]))", "duplicate series"),
    (f"{API} / on(app) sum by (app) ({API})", "many-to-one matching must be explicit"),
    ("(1 + 2) > bool 1", "is a number, not a vector"),
    ("2 * 3", "is a number, not a vector"),
    (f'label_replace({API}, "env", "", "env", ".*")', "same labelset"),
])
def test_queries_loki_refuses_when_evaluated(filled, query, says):
    with pytest.raises(QueryError, match=re.escape(says)):
        query_instant(filled, query, T0 + 10 * S)
