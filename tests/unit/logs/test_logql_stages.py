"""The pieces LogQL's stages are made of, against the cases Loki's own tests pin: pattern
matching (pkg/logql/log/pattern/pattern_test.go), templates (pkg/logql/log/fmt_test.go),
sizes and durations (go-humanize's ParseBytes, Go's time.ParseDuration); and fuzzing: a
template only fails with TemplateSyntaxError (parsing) or RenderError (a line's values)."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perflab.logs import _logfmt as _logfmt_module
from perflab.logs import parse
from perflab.logs._gotime import go_format, go_parse
from perflab.logs._logql import LogQuery
from perflab.logs._pattern import PatternError, parse_pattern
from perflab.logs._pipeline import run_pipeline
from perflab.logs._template import (
    Context,
    RenderError,
    TemplateSyntaxError,
    go_float,
    go_printf,
    parse_template,
)
from perflab.logs._units import parse_go_bytes, parse_go_duration_s


@pytest.mark.parametrize(("pattern", "line", "values"), [
    # pattern_test.go fixtures: (expr, in, expected captures)
    ("foo <foo> bar", "foo buzz bar", ["buzz"]),
    ("foo <foo> bar<fuzz>", "foo buzz bar", ["buzz", ""]),
    ("<foo>foo <bar> bar", "foo buzz bar", ["", "buzz"]),
    ("<foo> bar<fuzz>", " bar", ["", ""]),
    ("<foo>bar<baz>", " bar ", [" ", " "]),
    ("<foo>", " bar ", [" bar "]),
    ("<path>?<_>", "/api/plugins/versioncheck?slugIn=x", ["/api/plugins/versioncheck"]),
    ("<path>?<_>", "/api/plugins/status", ["/api/plugins/status"]),
    ("<_> <id> [<level>] [<no>] [<component>] ",
     "2020-08-06T14:25:02.835618Z 0 [Note] [MY-012487] [InnoDB] DDL log recovery : begin",
     ["0", "Note", "MY-012487", "InnoDB"]),
    ("<level>  [<component>]<_> in <duration>.<_>",
     ("INFO  [Service Thread] 2021-05-19 07:40:12,130 GCInspector.java:284 - ParNew GC in "
     "248ms.  CMS Old Gen: 5043436640 -> 5091062064"), ["INFO", "Service Thread", "248ms"]),
    ('<_> msg="<method> <path> (<status>) <duration>"',
     ('level=debug ts=2021-05-19T07:54:26.864644382Z caller=logging.go:66 traceID=7fbb92fd0eb9c65d'
     ' msg="POST /loki/api/v1/push (204) 1.238734ms"'),
     ["POST", "/loki/api/v1/push", "204", "1.238734ms"]),
    ("<_> <_> <level> | <component>: <_> peer <peer_id> <_> tcp <ip>:<_>",
     ("2021-05-19 08:16:50.181436 W | rafthttp: health check for peer fd8275e521cfb532 could "
     "not connect: dial tcp 10.32.85.85:2380: connect: connection refused"),
     ["W", "rafthttp", "fd8275e521cfb532", "10.32.85.85"]),
    ("foo <x>", "bar baz", []),                      # a leading literal anchors the match
    ("<x>", "", []),                                 # an empty line matches nothing
])
def test_pattern_matches_as_loki(pattern, line, values):
    assert [v for _, v in parse_pattern(pattern).matches(line)] == values


@pytest.mark.parametrize(("pattern", "says"), [
    ("<_> foo", "at least one named capture"),
    ("foo", "at least one named capture"),
    ("<a><b>", "consecutive capture"),
    ("<a> <a>", "duplicate capture name"),
])
def test_invalid_patterns(pattern, says):
    with pytest.raises(PatternError, match=says):
        parse_pattern(pattern)


def test_a_pattern_reads_angle_brackets_that_are_not_captures_as_text():
    p = parse_pattern("<1x> <a>")
    assert p.matches("<1x> yes") == [("a", "yes")]


L = {"foo": "blip", "bar": "blop"}


@pytest.mark.parametrize(("template", "labels", "ts", "line"), [
    # fmt_test.go TestLineFormatter_Format: (template, labels, ts, expected line)
    ("foo {{.foo | ToUpper }} buzz{{  .bar  }}", L, 0, "foo BLIP buzzblop"),
    ("{{ add .foo 1 | sub .bar | mul .baz | div .bazz}}",
     {"foo": "1", "bar": "3", "baz": "10", "bazz": "20"}, 0, "2"),
    ("{{ addf .foo 1.5 | subf .bar 1.5 | mulf .baz | divf .bazz }}",
     {"foo": "1.5", "bar": "5", "baz": "10.5", "bazz": "20.2"}, 0, "3.8476190476190477"),
    ("{{ round (addf .foo 1.5 | subf .bar | mulf .baz | divf .bazz) 5 .2}}",
     {"foo": "1.5", "bar": "3.5", "baz": "10.5", "bazz": "20.4"}, 0, "3.88572"),
    ("min is {{ min .foo .bar .baz }} and max is {{ max .foo .bar .baz }}",
     {"foo": "5", "bar": "10", "baz": "15"}, 0, "min is 5 and max is 15"),
    ("minf is {{ minf .foo .bar .baz }} and maxf is {{maxf .foo .bar .baz}}",
     {"foo": "5.3", "bar": "10.5", "baz": "15.2"}, 0, "minf is 5.3 and maxf is 15.2"),
    ("ceil is {{ ceil .foo }} and floor is {{floor .foo }}", {"foo": "5.3"}, 0,
     "ceil is 6 and floor is 5"),
    ("mod is {{ mod .foo 3 }}", {"foo": "20"}, 0, "mod is 2"),
    ('{{ "2.5" | float64 | int | add 10}}', {}, 0, "12"),
    (('{{ sub (unixEpoch (toDate "2006-01-02" "2021-11-02")) (unixEpoch (toDate "2006-01-02" '
     '"2021-11-01")) }}'), {}, 0, "86400"),
    ('{{ date "2006-01-02" (toDate "2006-01-02" "2021-11-02") }}', {}, 0, "2021-11-02"),
    ("{{ div (unixEpoch now) (unixEpoch now) }}", {}, 0, "1"),
    ("{{ __line__ }} bar {{ .bar }}", {"bar": "2"}, 0, "1 bar 2"),
    ('{{.foo | default "-" }}{{.bar | default "-"}}{{.unknown | default "-"}}',
     {"foo": "blip", "bar": ""}, 0, "blip--"),
    ('{{ __timestamp__ | date "2006-01-02" }} bar {{ .bar }}', {"bar": "2"},
     1656331200000000000, "2022-06-27 bar 2"),
    ("{{ __timestamp__ | unixEpoch }} bar {{ .bar }}", {"bar": "2"}, 1656353124120000000,
     "1656353124 bar 2"),
    ("{{ .foo | bytes }}", {"foo": "3 kB"}, 0, "3000"),
    ("{{ .foo | bytes }}", {"foo": "3MB"}, 0, "3e+06"),
    ("{{ .foo | duration }}", {"foo": "3ms"}, 0, "0.003"),
    ("{{ .foo | duration_seconds }}", {"foo": "3m10s"}, 0, "190"),
    ('{{ .foo | toDateInZone "2006-01-02T15:04:05.999999999Z" "UTC" | unixEpochMillis }}',
     {"foo": "2023-03-10T01:32:40.340485723Z"}, 0, "1678411960340"),
    ('{{ .foo | toDateInZone "2006-01-02T15:04:05.999999999Z" "UTC" | unixEpochNanos }}',
     {"foo": "2023-03-10T01:32:40.340485723Z"}, 0, "1678411960340485723"),
    ("{{ .foo | b64enc }}", {"foo": "i'm a string, encode me!"}, 0,
     "aSdtIGEgc3RyaW5nLCBlbmNvZGUgbWUh"),
    ("{{ .foo | b64dec }}", {"foo": "aSdtIGEgc3RyaW5nLCBlbmNvZGUgbWUh"}, 0,
     "i'm a string, encode me!"),
    ("{{ alignLeft 4 .foo }}", {"foo": "hello"}, 0, "hell"),
    ("{{ alignRight 4 .foo }}", {"foo": "hello"}, 0, "ello"),
    ("{{.foo}}  ", {"foo": "bar"}, 0, "bar  "),
    ("{{.missing}}", {"foo": "bar"}, 0, ""),
    # template_functions.md examples
    ('{{ .cluster | replace "-cluster" "" }}', {"cluster": "eu-cluster"}, 0, "eu"),
    ('{{ substr 6 11 "hello world"}}', {}, 0, "world"),
    ('{{ trunc -5 "hello world"}}', {}, 0, "world"),
    ('{{ trimAll "$" "$5.00" }}', {}, 0, "5.00"),
    ('{{ title "hello world"}}', {}, 0, "Hello World"),
    ('{{ repeat 3 "hello" }}', {}, 0, "hellohellohello"),
    ('{{ regexReplaceAll "(\\\\w+)@(\\\\w+)" .e "${2}:$1" }}', {"e": "ann@example"}, 0,
     "example:ann"),
    ('{{ printf "%-5.5s|%d|%05.1f|%q|%v" .a 7 3.14159 .a 2.5 }}', {"a": "GETTING"}, 0,
     'GETTI|7|003.1|"GETTING"|2.5'),
    ("{{- .a -}}  x {{/* a comment */}}", {"a": "y"}, 0, "yx "),
    ("{{ if_missing := 1 }}", {}, 0, None),
])
def test_templates_render_as_loki(template, labels, ts, line):
    if line is None:
        with pytest.raises(TemplateSyntaxError):
            parse_template(template)
        return
    assert parse_template(template).render(Context(labels, "1", ts)) == line


@pytest.mark.parametrize("template", [
    "{{.foo | now}}",            # fmt_test.go "template_error": wrong number of arguments
    "{{ div 1 0 }}",
    '{{ toDate "2006-01-02" "nope" }}',
    '{{ repeat 100000000 "xx" }}',
    "{{ .foo | bytes }}",
    '{{ toDateInZone "2006" "Europe/Paris" "2021" }}',
])
def test_render_errors(template):
    with pytest.raises(RenderError):
        parse_template(template).render(Context({"foo": "blip"}, "", 0))


@pytest.mark.parametrize(("text", "value"), [
    ("42MB", 42e6), ("1.5KiB", 1536), ("20B", 20), ("3 kB", 3000), ("5 MiB", 5 * 2**20),
    ("3k", 3000), ("1G", 1e9), ("1,000", 1000), ("512", 512),
])
def test_sizes_as_go_humanize(text, value):
    assert parse_go_bytes(text) == value


@pytest.mark.parametrize("text", ["", "1.5XB", "abc", "-1KB", "1e400"])
def test_sizes_that_do_not_parse(text):
    with pytest.raises(ValueError, match=r"."):
        parse_go_bytes(text)


@pytest.mark.parametrize(("text", "seconds"), [
    ("1.5s", 1.5), ("1h30m", 5400), ("-250ms", -0.25), ("0", 0), ("24s30ms", 24.03),
    ("2µs", 2e-6), (".5m", 30),
])
def test_durations_as_go(text, seconds):
    assert parse_go_duration_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1", "1d", "s", "1.5", "--1s"])
def test_durations_that_do_not_parse(text):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_go_duration_s(text)


@pytest.mark.parametrize(("v", "text"), [
    (3e6, "3e+06"), (3000.0, "3000"), (0.003, "0.003"), (1e-5, "1e-05"),
    (1234567.0, "1.234567e+06"), (-2.5, "-2.5"), (float("nan"), "NaN"), (float("-inf"), "-Inf"),
])
def test_floats_print_as_go(v, text):
    assert go_float(v) == text


def test_printf_reports_what_go_reports():
    assert go_printf("%d %s", ["x"]) == "%!d(string=x) %!s(MISSING)"
    assert go_printf("%s", ["a", 1]) == "a%!(EXTRA int64=1)"
    assert go_printf("100%%", []) == "100%"


def test_go_layouts_format_and_parse():
    ns = 1_700_000_002_250_000_000
    assert go_format("2006-01-02T15:04:05.000Z07:00 Mon Jan _2 3PM", ns) == \
        "2023-11-14T22:13:22.250Z Tue Nov 14 10PM"
    assert go_parse("2006-01-02 15:04:05 -0700", "2023-11-14 23:13:22 +0100") == \
        1_700_000_002 * 10**9
    with pytest.raises(ValueError, match="cannot parse"):
        go_parse("2006-01-02", "14/11/2023")


FRAGMENTS = ["{{", "}}", " ", ".a", ".b", "|", "(", ")", '"x"', "`y`", "1", "-2.5", "upper",
             "printf", '"%d %s %5.2f"', "default", "div", "divf", "add", "substr", "trunc",
             "repeat", "__line__", "__timestamp__", "date", '"2006"', "unixEpoch", "bytes",
             "toDate", "regexReplaceAll", '"("', "b64dec", "round", "true", "{{-", "-}}", "$",
             "{{ if ", "{{ else }}", "{{ else if ", "{{ end }}", "eq", "lt", "and", "not"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=20).map("".join),
       st.dictionaries(st.sampled_from(["a", "b"]), st.text(max_size=8)))
def test_templates_fail_only_with_their_own_errors(text, labels):
    try:
        template = parse_template(text)
    except TemplateSyntaxError:
        return
    with contextlib.suppress(RenderError):
        template.render(Context(labels, "line", 1_700_000_000 * 10**9))


@pytest.mark.parametrize(("template", "out"), [
    # the rest of template_functions.md's string, logic and maths functions
    ('{{ Replace .a "o" "0" -1 }}|{{ Trim .b "-" }}|{{ TrimLeft .b "-" }}|{{ TrimRight .b "-" }}',
     "f00|x|x-|-x"),
    ('{{ TrimPrefix .a "f" }}|{{ TrimSuffix .a "o" }}|{{ TrimSpace "  y " }}|{{ Title .a }}',
     "oo|fo|y|Foo"),
    ('{{ indent 2 "a\\nb" }}|{{ nindent 1 "c" }}', "  a\n  b|\n c"),
    ('{{ contains "oo" .a }} {{ hasPrefix "f" .a }} {{ hasSuffix "x" .a }} {{ eq .a "foo" }}',
     "true true false true"),
    ('{{ count "o" .a }} {{ urlencode "a b&c" }} {{ urldecode "a+b%26c" }}', "2 a+b%26c a b&c"),
    ('{{ regexReplaceAllLiteral "o+" .a "$1" }} {{ regexReplaceAll "(?P<x>o)" .a "[$x]" }}',
     "f$1 f[o][o]"),
    ('{{ printf "%x %X %c %t %e %5.1f%%" 255 "hi" 65 true 1500.0 2.25 }}',
     "ff 6869 A true 1.500000e+03   2.2%"),
    ('{{ printf "%d" 1.5 }} {{ printf "%s" }} {{ printf "%*d" 5 }}',
     "%!d(float64=1.5) %!s(MISSING) %!d(BADWIDTH)"),
    ("{{ unixToTime .ms | unixEpoch }} {{ unixToTime .s }}",
     "1700000000 2023-11-14 22:13:20 +0000 UTC"),
    ("{{ mul 3 .n }} {{ divf 1 4 }} {{ mulf 1.5 2 }} {{ div -7 2 }} {{ mod -7 3 }}",
     "21 0.25 3 -3 -1"),
    ("{{ int .f }} {{ float64 .n }} {{ add .f 1 }} {{ toDate }}", None),
    ('{{ int .f }} {{ float64 .n }} {{ add .f 1 .bad }} {{ add "3.0" "0x1f" }}',
     "0 7 1 34"),   # spf13/cast: "2.9" is not an integer (0), "3.0" is 3
    ("{{ ToUpper (lower .a) }}{{ true }}{{ 1.5 }}", "FOOtrue1.5"),
])
def test_more_template_functions(template, out):
    labels = {"a": "foo", "b": "-x-", "ms": "1700000000000", "s": "1700000000", "n": "7",
              "f": "2.9", "bad": "x"}
    if out is None:
        with pytest.raises(RenderError):
            parse_template(template).render(Context(labels, "", 0))
        return
    assert parse_template(template).render(Context(labels, "", 0)) == out


LV = '{{ if eq .level "error" }}E{{ else if .x }}X{{ else }}-{{ end }}'


@pytest.mark.parametrize(("template", "labels", "out"), [
    # Go text/template's if/else and its comparison and logic functions
    (LV, {"level": "error"}, "E"),
    (LV, {"level": "info", "x": "1"}, "X"),
    (LV, {"level": "info"}, "-"),
    ("{{- if and .a (not .b) -}} yes {{- end -}}!", {"a": "1"}, "yes!"),
    ("{{ if or .b .c }}y{{ else }}n{{ end }}", {"c": "0"}, "y"),    # "0" is a non-empty string
    ("{{ if gt (int .n) 5 }}big{{ end }}{{ if le 2.5 2.5 }}=={{ end }}", {"n": "7"}, "big=="),
    ('{{ if ne .a "x" }}{{ if lt .a "b" }}a<b{{ end }}{{ end }}', {"a": "a"}, "a<b"),
])
def test_template_conditions(template, labels, out):
    assert parse_template(template).render(Context(labels, "", 0)) == out


def test_comparing_a_string_with_a_number_is_a_render_error():
    with pytest.raises(RenderError, match="incompatible types"):
        parse_template("{{ if lt .a 5 }}x{{ end }}").render(Context({"a": "1"}, "", 0))


@pytest.mark.parametrize(("template", "says"), [
    ("{{ }}", "missing value"),
    ("{{ .a | }}", "missing value"),
    ("{{ (upper .a }}", "unclosed '('"),
    ("{{ .a .b }}", "can't give argument to non-function"),
    ("{{ /* open }}", "unclosed comment"),
    ("{{ ) }}", "missing value"),
    ("{{ .a ) }}", "unexpected ')'"),
    ("{{ end }}", "unexpected {{end}}"),
    ("{{ if .a }}{{ else }}{{ else }}{{ end }}", "after {{else}}"),
    ("{{ if }}{{ end }}", "missing value for if"),
    ("{{ if .a }}{{ else .b }}{{ end }}", "expected 'else' or 'else if cond'"),
    ("{{ if .a }}{{ end .b }}", "unexpected words after end"),
])
def test_template_syntax_errors(template, says):
    with pytest.raises(TemplateSyntaxError, match=re.escape(says)):
        parse_template(template)


def test_go_layouts_cover_the_reference_elements():
    ns = 1_700_000_002_000_000_000     # Tuesday 2023-11-14 22:13:22 UTC
    assert go_format("Monday January _2 2 1 06 002 3:4:5 pm 15 MST -07:00 -0700 Z0700 "
                     ".999", ns) == \
        "Tuesday November 14 14 11 23 318 10:13:22 pm 22 UTC +00:00 +0000 Z "
    assert go_parse("2006-01-02T15:04:05.000Z07:00", "2023-11-14T22:13:22.250Z") == \
        ns + 250_000_000
    with pytest.raises(ValueError, match="not supported"):
        go_parse("Jan 2", "Nov 14")
    with pytest.raises(ValueError, match="twice"):
        go_parse("2006 2006", "2023 2023")


def _pipe(query: str, stream: dict[str, str], line: str) -> dict[str, str] | None:
    expr = parse(query)
    assert isinstance(expr, LogQuery)
    got = run_pipeline(expr, stream, line)
    return None if got is None else got[0]


FB = {"foo": "bar"}


@pytest.mark.parametrize(("stream", "line", "labels", "strict"), [
    # pkg/logql/log/parser_test.go Test_logfmtParser_Parse: (labels, line, want, wantStrict)
    (FB, "foobar====wqe=sdad1r", FB, {**FB, "__error__": "LogfmtParserErr"}),
    ({}, "buzz=foo bar=\ufffdf", {"bar": " f", "buzz": "foo"}, None),
    (FB, "buzz bar=foo", {**FB, "bar": "foo"}, None),
    (FB, 'foobar="foo bar"', {**FB, "foobar": "foo bar"}, None),
    ({}, 'foobar="foo\\nbar\\tbaz"', {"foobar": "foo\nbar\tbaz"}, None),
    ({}, 'foobar="foo\nbar\tbaz"', {"foobar": "foo\nbar\tbaz"}, None),
    ({}, 'foobar="foo ba\\\\r baz"', {"foobar": "foo ba\\r baz"}, None),
    (FB, 'foobar="foo bar" latency=10ms', {**FB, "foobar": "foo bar", "latency": "10ms"}, None),
    (FB, 'foobar="foo bar" foobar=10ms', {**FB, "foobar": "foo bar"}, None),
    (FB, 'foo="foo bar" foobar=10ms', {**FB, "foo_extracted": "foo bar", "foobar": "10ms"},
     None),
    (FB, 'foo="foo bar" foo.bar=10ms test-dash=foo',
     {**FB, "foo_extracted": "foo bar", "foo_bar": "10ms", "test_dash": "foo"}, None),
    ({}, 'a="unterminated b=1', {}, {"__error__": "LogfmtParserErr"}),
    ({}, 'a=1 =2 b=x"y c=3', {"a": "1", "c": "3"}, {"a": "1", "__error__": "LogfmtParserErr"}),
])
def test_logfmt_reads_lines_as_loki(stream, line, labels, strict):
    assert _pipe('{x="y"} | logfmt', stream, line) == labels
    assert _pipe('{x="y"} | logfmt --strict', stream, line) == (strict or labels)


DOC = json.dumps({"protocol": "HTTP/2.0", "none": None, "servers": ["129.0.1.1", "10.2.1.3"],
                  "request": {"time": "6.032", "method": "GET", "host": "foo.grafana.net",
                              "size": "55", "headers": {"Accept": "*/*",
                                                        "User-Agent": "curl/7.68.0"}},
                  "response": {"status": 401, "size": "228", "latency_seconds": "6.031"}})


@pytest.mark.parametrize(("query", "labels"), [
    # docs/sources/query/log_queries/_index.md, "JSON" with parameters
    ('| json first_server="servers[0]", ua="request.headers[\\"User-Agent\\"]"',
     {"first_server": "129.0.1.1", "ua": "curl/7.68.0"}),
    ('| json server_list="servers", headers="request.headers"',
     {"server_list": '["129.0.1.1","10.2.1.3"]',
      "headers": '{"Accept": "*/*", "User-Agent": "curl/7.68.0"}'}),
    ("| json servers, protocol", {"servers": '["129.0.1.1","10.2.1.3"]',
                                  "protocol": "HTTP/2.0"}),
    ('| json status="response.status", nope="a.b[3]", job="protocol"',
     {"status": "401", "nope": "", "job_extracted": "HTTP/2.0"}),
    ('| json job="nope", x="response.missing"', {"x": ""}),   # job: the stream's stays
    ('| json n="none"', {"n": ""}),
])
def test_json_with_parameters(query, labels):
    assert _pipe('{x="y"} ' + query, {"job": "j"}, DOC) == {"job": "j", **labels}


def test_json_with_parameters_marks_a_line_that_is_not_json():
    assert _pipe('{x="y"} | json a="b"', {}, "nope") == {"__error__": "JSONParserErr"}


def test_logfmt_with_parameters():
    # log_queries/_index.md "logfmt": `| logfmt host, fwd_ip="fwd"`
    line = 'ts=2021-01-01 host=grafana.net fwd="8.8.8.8" fwd="1.1.1.1"'
    assert _pipe('{x="y"} | logfmt host, fwd_ip="fwd", nope', {}, line) == {
        "host": "grafana.net", "fwd_ip": "8.8.8.8", "nope": ""}


@contextlib.contextmanager
def _no_fast_path() -> Iterator[None]:
    saved = _logfmt_module._PAIR
    _logfmt_module._PAIR = re.compile(r"(?!)")  # never matches
    try:
        yield
    finally:
        _logfmt_module._PAIR = saved


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=' \t\n=" \\\\ab1\ufffdn', max_size=30))
def test_logfmt_fast_path_decodes_as_the_state_machine(line):
    """Well-formed pairs are read by one regexp; the result must be the decoder's own."""
    slow = _logfmt_module._Decoder(line)
    slow_pairs = []
    while not slow.eol():
        with _no_fast_path():
            ok = slow.scan()
        if ok:
            slow_pairs.append((slow.key, slow.value))
    fast = _logfmt_module._Decoder(line)
    fast_pairs = []
    while not fast.eol():
        if fast.scan():
            fast_pairs.append((fast.key, fast.value))
    assert fast_pairs == slow_pairs
