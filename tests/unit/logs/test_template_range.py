"""LogQL templates on the shared Go template engine (perflab.gotemplate): ``range``, variables
and Loki's ``fromJson`` (grafana/loki docs/sources/query/template_functions.md, "fromJson"),
which the LogQL-only engine refused; Go's text/template rules for them (pkg.go.dev/text/template:
"Actions", "Variables")."""

from __future__ import annotations

import re

import pytest

from perflab.gotemplate import Dialect, ExecError, ParseError, execute
from perflab.gotemplate import parse as parse_go
from perflab.logs import parse
from perflab.logs._logql import LogQuery
from perflab.logs._pipeline import run_pipeline
from perflab.logs._template import Context, RenderError, TemplateSyntaxError, parse_template

QUERIES = '[{"query":"sum(rate(x[1m]))"},{"query":"up"}]'


def _render(template: str, labels: dict[str, str] | None = None, line: str = "") -> str:
    return parse_template(template).render(Context(labels or {}, line, 0))


def test_the_docs_fromjson_range_example_prints_each_query():
    # template_functions.md: "print a newline per queries stored as a json array in the log
    # line": {job="loki/querier"} |= "finish in prometheus" | logfmt | line_format `{{ range
    # $q := fromJson .queries }} {{ $q.query }} {{ end }}`
    query = parse('{job="loki/querier"} |= "finish in prometheus" | logfmt | line_format '
                  '`{{ range $q := fromJson .queries }} {{ $q.query }} {{ end }}`')
    assert isinstance(query, LogQuery)
    escaped = QUERIES.replace('"', '\\"')
    line = f'level=info msg="finish in prometheus" queries="{escaped}"'
    got = run_pipeline(query, {"job": "loki/querier"}, line)
    assert got is not None
    assert got[1] == " sum(rate(x[1m]))  up "
    assert "__error__" not in got[0]


@pytest.mark.parametrize(("template", "labels", "out"), [
    # template_functions.md: {{fromJson "{\"foo\": 55}"}}; Go prints the map (numbers are
    # float64, printed with %v)
    ('{{ fromJson "{\\"foo\\": 55}" }}', {}, "map[foo:55]"),
    # the docs: what cannot be decoded as JSON gives an empty string
    ("[{{ fromJson .a }}]", {"a": "not json"}, "[]"),
    ("{{ with fromJson .a }}{{ .b.c }}{{ end }}", {"a": '{"b": {"c": "deep"}}'}, "deep"),
    ("{{ range $i, $v := fromJson .a }}{{ $i }}={{ $v }};{{ end }}", {"a": '[1.5, 2, "x"]'},
     "0=1.5;1=2;2=x;"),
    # a map ranges by key, as Go's range over a map
    ("{{ range $k, $v := fromJson .a }}{{ $k }}:{{ $v }} {{ end }}", {"a": '{"b": 1, "a": 2}'},
     "a:2 b:1 "),
    ("{{ range fromJson .a }}{{ . }}{{ else }}none{{ end }}", {"a": "[]"}, "none"),
    ("{{ len (fromJson .a) }}", {"a": "[1, 2, 3]"}, "3"),
    ("{{ index (fromJson .a) 1 }}", {"a": '["x", "y"]'}, "y"),
    # variables: declared, assigned, the root $ (the labels), scoped to their block
    ("{{ $x := .a | upper }}{{ $x }}-{{ $x = lower $x }}{{ $x }}", {"a": "Hi"}, "HI-hi"),
    ("{{ range fromJson .a }}{{ $.b }}{{ . }} {{ end }}", {"a": "[1, 2]", "b": "#"},
     "#1 #2 "),
    ('{{ if .a }}{{ $y := "in" }}{{ $y }}{{ end }}', {"a": "1"}, "in"),
    ("{{ with $v := .a }}{{ $v }}{{ . }}{{ end }}", {"a": "z"}, "zz"),
])
def test_range_variables_and_fromjson(template, labels, out):
    assert _render(template, labels) == out


@pytest.mark.parametrize(("template", "says"), [
    ("{{ $x }}", 'undefined variable "$x"'),
    ('{{ if .a }}{{ $y := "in" }}{{ end }}{{ $y }}', 'undefined variable "$y"'),  # its block
    ("{{ $x = 1 }}", 'undefined variable "$x"'),   # an assignment needs a declaration
    ("{{ upper ($x := .a) }}", "declarations are not allowed here"),
    ("{{ range }}{{ end }}", "missing value for range"),
    ("{{ range .a }}x", "an {{range}} without {{end}}"),
    ('{{ template "x" }}', "is not supported here"),
    ("{{ if .a }}{{ else with .b }}{{ end }}", "expected 'else' or 'else if cond'"),
    ("{{ x := 1 }}", "unexpected ':='"),
])
def test_template_refusals_at_parse_time(template, says):
    with pytest.raises(TemplateSyntaxError, match=re.escape(says)):
        parse_template(template)


@pytest.mark.parametrize(("template", "labels", "says"), [
    ("{{ range .a }}{{ end }}", {"a": "x"}, "range can't iterate over x"),
    ("{{ with fromJson .a }}{{ .b.c }}{{ end }}", {"a": '{"b": 1}'},
     "can't evaluate field c in type float64"),
    ('{{ "x" | .a }}', {}, "can't give argument to non-function .a"),
    ("{{ with fromJson .a }}{{ .b.c }}{{ end }}", {"a": '{"b": null}'},
     "nil pointer evaluating .c"),
])
def test_template_errors_on_a_line(template, labels, says):
    with pytest.raises(RenderError, match=re.escape(says)):
        _render(template, labels)


def test_a_render_error_marks_the_line_and_keeps_it():
    query = parse('{job="t"} | line_format `{{ range .a }}{{ . }}{{ end }}`')
    assert isinstance(query, LogQuery)
    got = run_pipeline(query, {"job": "t", "a": "x"}, "LINE")
    assert got is not None
    assert got[1] == "LINE"
    assert got[0]["__error__"] == "TemplateFormatErr"


# -- the engine's own rules, for any dialect ---------------------------------------------------

PLAIN = Dialect(where="in tests", unquote=lambda s: s[1:-1])


def test_functions_unknown_to_the_dialect_fail_when_run():
    nodes = parse_go("{{ nosuch }}", PLAIN)
    with pytest.raises(ExecError, match='function "nosuch" not defined'):
        execute(nodes, {}, {})


def test_a_failing_call_names_the_function_and_passthrough_keeps_its_error():
    nodes = parse_go("{{ boom 1 }}", PLAIN)

    def boom(_x: int) -> str:
        raise KeyError("k")

    with pytest.raises(ExecError, match="error calling boom"):
        execute(nodes, {}, {"boom": boom})

    def own(_x: int) -> str:
        raise LookupError("mine")

    with pytest.raises(LookupError, match="mine"):
        execute(nodes, {}, {"boom": own}, passthrough=(LookupError,))


def test_else_with_is_go_123s_unless_the_dialect_refuses_it():
    text = "{{ with .a }}A{{ else with .b }}B{{ else }}C{{ end }}"
    assert execute(parse_go(text, PLAIN), {"b": "1"}, {}) == "B"
    assert execute(parse_go(text, PLAIN), {}, {}) == "C"
    with pytest.raises(ParseError) as err:
        parse_go(text, Dialect(where="", unquote=str, else_with=False))
    assert err.value.offset == text.index("with .b")


def test_output_and_steps_are_bounded():
    nodes = parse_go("{{ range $i := 200000 }}x{{ end }}", PLAIN)
    with pytest.raises(ExecError, match="runs too long"):
        execute(nodes, {}, {})
    big = parse_go("{{ range $i := 20 }}{{ $.s }}{{ end }}", PLAIN)
    with pytest.raises(ExecError, match="output is too long"):
        execute(big, {"s": "y" * 100_000}, {})
