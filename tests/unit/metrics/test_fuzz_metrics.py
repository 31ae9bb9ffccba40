"""Every parser of untrusted metrics input raises only its documented errors (Hypothesis).

PromQL text (PromQLError), exposition text (ExpositionError), remote-write bodies
(BadEncoding, PayloadTooLarge), OTLP metrics (DecodeError, PayloadTooLarge), InfluxDB lines
(InfluxError), rule and config YAML (UsageError: InvalidFile, InvalidValue; RuleFileError is
one), alert templates (TemplateError), the series notation (PromQLError); and evaluating
whatever parses (PromQLError only).
"""

from __future__ import annotations

import contextlib
import json

import cramjam
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from perflab.errors import UsageError
from perflab.metrics import MemoryQueryable, PromQLError, instant_query, parse
from perflab.metrics._config import config_from_doc, parse_yaml
from perflab.metrics._exposition import ExpositionError, split_series
from perflab.metrics._exposition import parse as parse_exposition
from perflab.metrics._influx import InfluxError, parse_lines
from perflab.metrics._labels import from_dict
from perflab.metrics._remote_write import decode_write_request, encode_write_request
from perflab.metrics._rulefile import parse_rule_text
from perflab.metrics._seriesdesc import parse_series
from perflab.metrics._template import TemplateError, parse_template
from perflab.serving import BadEncoding, PayloadTooLarge

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PROMQL_ATOMS = ["up", "x", "rate(", "sum", " by ", "(", ")", "[5m]", "[1m:10s]", "{", "}",
                'a="b"', "=~", "!~", ",", " + ", " / ", " > bool ", " and ", " or ", " on(",
                "group_left", "offset 1m", " @ 100", "@ start()", "1", "0.5", "-", "topk(",
                "histogram_quantile(", "label_replace(", '"', "'", "`", "\\", "\n", "\x00",
                "absent(", "quantile_over_time(", "time()", "vector(", "scalar(", "Inf", "NaN"]

STORE = MemoryQueryable()
for i in range(10):
    STORE.add(from_dict({"__name__": "up", "job": "a"}), i * 15_000, float(i % 2))
    STORE.add(from_dict({"__name__": "x", "le": "0.5"}), i * 15_000, float(i))
    STORE.add(from_dict({"__name__": "x", "le": "+Inf"}), i * 15_000, float(2 * i))


@FUZZ
@given(st.one_of(st.text(max_size=80),
                 st.lists(st.sampled_from(PROMQL_ATOMS), max_size=12).map("".join)))
def test_promql_text_raises_only_promql_errors(text):
    try:
        node = parse(text)
    except PromQLError:
        return
    with contextlib.suppress(PromQLError):
        instant_query(STORE, node, 100_000)


@FUZZ
@given(st.one_of(st.text(max_size=200), st.lists(st.sampled_from(
    ["a", "a_total", "{", "}", 'x="y"', ",", " ", "1", "1.5", "+Inf", "NaN", "# HELP a x",
     "# TYPE a counter", "# TYPE a bogus", "# EOF", "\n", '"', "\\", "1e3", "-", "_"]),
    max_size=30).map("".join)), st.booleans())
def test_exposition_raises_only_exposition_errors(text, openmetrics):
    try:
        page = parse_exposition(text, openmetrics=openmetrics)
    except ExpositionError:
        return
    for series, _, _ in page.samples:
        with contextlib.suppress(ExpositionError):
            split_series(series)


@FUZZ
@given(st.one_of(st.binary(max_size=300),
                 st.binary(max_size=300).map(lambda b: bytes(cramjam.snappy.compress_raw(b))),
                 st.lists(st.tuples(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)),
                                             max_size=3),
                                    st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1),
                                                       st.floats()), max_size=3)),
                          max_size=3).map(encode_write_request)))
def test_remote_write_bodies_raise_only_bad_encoding_or_too_large(body):
    with contextlib.suppress(BadEncoding, PayloadTooLarge):
        decode_write_request(body, limit=1 << 16)


@FUZZ
@given(st.one_of(st.binary(max_size=200), st.lists(st.sampled_from(
    [b"m", b",", b"t=v", b" ", b"f=1", b"f=1i", b'f="s"', b"f=t", b"\\", b"=", b"\n", b"123",
     b"-", b"#"]), max_size=20).map(b"".join)),
    st.sampled_from(["ns", "ms", "s", "x"]))
def test_influx_lines_raise_only_influx_errors(body, precision):
    with contextlib.suppress(InfluxError):
        parse_lines(body, precision=precision)


YAML_ATOMS = ["groups:", "\n", "  - name: g", "    rules:", "      - alert: A",
              "      - record: a:b", "        expr: up", "        expr: 'rate(x'",
              "        for: 5m",
              "        for: bogus", "        labels: {a: '{{ $value'}", "  ", "- ", "[", "]", ":",
              "{{", "'", '"', "scrape_configs:", "  - job_name: j", "    static_configs:",
              "      - targets: ['a:1']", "global: {scrape_interval: 0s}"]


@FUZZ
@given(st.one_of(st.text(max_size=200), st.lists(st.sampled_from(YAML_ATOMS), max_size=14)
                 .map("".join)))
def test_rule_and_config_yaml_raise_only_invalid_input(text):
    with contextlib.suppress(UsageError):
        parse_rule_text(text, "rules.yml")
    with contextlib.suppress(UsageError):
        config_from_doc(parse_yaml(text, "p.yml"), "p.yml")


@FUZZ
@given(st.lists(st.sampled_from(["{{", "}}", " $labels.x ", " $value ", "if", "else", "end",
                                 "range", " | ", "humanize", "printf", '"%d"', "(", ")", "-",
                                 "text", "$x := 1", ".", "with", "/*", "*/"]), max_size=16)
       .map("".join))
def test_templates_raise_only_template_errors(text):
    with contextlib.suppress(TemplateError):
        parse_template(text)


@FUZZ
@given(st.lists(st.sampled_from(['a{b="c"}', "x", " ", "1", "+", "-", "x3", "_", "stale",
                                 "Inf", "{", "}", "=", "1e9", "x99999999"]), max_size=12)
       .map("".join))
def test_series_notation_raises_only_promql_errors(text):
    with contextlib.suppress(PromQLError):
        parse_series(text)


_OTLP_JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(),
              st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(
                                ["resourceMetrics", "scopeMetrics", "metrics", "name", "unit",
                                 "gauge", "sum", "histogram", "summary", "dataPoints",
                                 "asDouble", "asInt", "timeUnixNano", "attributes", "key",
                                 "value", "stringValue", "bucketCounts", "explicitBounds",
                                 "aggregationTemporality", "isMonotonic", "flags",
                                 "exemplars", "quantileValues", "resource", "scope"]),
                                inner, max_size=4)),
    max_leaves=30)


_ANY = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(),
                 st.text(max_size=6), st.lists(st.integers(-5, 2**65), max_size=4))
_POINT = st.fixed_dictionaries({}, optional={
    "asDouble": st.floats(), "asInt": st.integers(-(2**63), 2**63 - 1).map(str),
    "timeUnixNano": st.integers(0, 2**64 - 1).map(str), "flags": st.integers(0, 3),
    "count": st.integers(0, 2**64 - 1).map(str), "sum": st.floats(),
    "bucketCounts": st.lists(st.integers(0, 2**64 - 1).map(str), max_size=4),
    "explicitBounds": st.lists(st.floats(), max_size=4),
    "quantileValues": st.lists(st.fixed_dictionaries(
        {"quantile": st.floats(), "value": st.floats()}), max_size=3),
    "attributes": st.lists(st.fixed_dictionaries(
        {"key": st.text(max_size=6), "value": st.fixed_dictionaries({}, optional={
            "stringValue": st.text(max_size=6), "intValue": st.integers(-5, 5).map(str),
            "doubleValue": st.floats(), "boolValue": st.booleans(),
            "arrayValue": st.just({"values": [{"stringValue": "a"}]})})}), max_size=3)})
_METRIC = st.builds(
    lambda name, unit, kind, temporality, mono, points: {
        "name": name, "unit": unit, kind: {"aggregationTemporality": temporality,
                                           "isMonotonic": mono, "dataPoints": points}},
    st.text(max_size=12), st.sampled_from(["", "s", "ms", "By/s", "{x}", "1", "%", "m/"]),
    st.sampled_from(["gauge", "sum", "histogram", "summary", "exponentialHistogram"]),
    st.integers(-1, 3), st.booleans(), st.lists(_POINT, max_size=3))
_REQUEST = st.builds(lambda metrics: {"resourceMetrics": [{"scopeMetrics": [
    {"metrics": metrics}]}]}, st.lists(_METRIC, max_size=3))


@FUZZ
@given(st.one_of(st.binary(max_size=300),
                 st.one_of(_OTLP_JSON_VALUES, _REQUEST).map(lambda doc: json.dumps(doc).encode())))
def test_otlp_metrics_bodies_raise_only_decode_errors(body):
    """Any body, through both decoders: a DecodeError or PayloadTooLarge, never another."""
    from perflab.metrics._otlp_metrics import (  # noqa: PLC0415
        DecodeError,
        decode_json,
        decode_protobuf,
    )

    for decode in (decode_protobuf, decode_json):
        with contextlib.suppress(DecodeError, PayloadTooLarge):
            decode(body)


SAMPLE_LINE_ATOMS = ["a", "a_total", "{", "}", 'x="y"', 'x="} 1"', ",", " ", "  ", "\t", "1",
                     "1.5", "-2", "+3", ".5", "1e3", "1e", "1_0", "0x1", "NaN", "+Inf", "\r",
                     " # {} 1", "1700000000", "_", "#"]


@FUZZ
@given(st.lists(st.lists(st.sampled_from(SAMPLE_LINE_ATOMS), min_size=1, max_size=8).map(
    "".join).filter(lambda line: not line.startswith("#")), max_size=5), st.booleans())
@example(['a{x="y"} 1_0'], False)
@example(['a{x="y"} 0x1'], False)
@example(['a{x="y"} 1e'], False)
@example(['a{x="y"} 5\r'], False)
@example(['a{x="y"} -nan'], False)
@example(['a{x="y"} +infinity'], False)
@example(['a{x="y"} 1 # {} 1', 'a{x="} 2"} 3'], True)
def test_the_common_line_shortcut_reads_what_the_exact_path_reads(lines, openmetrics):
    """A sample line read by parse's shortcut gives what the exact path gives for it (the
    same line indented never takes the shortcut): the same samples, or the same error."""
    def read(text):
        try:
            return parse_exposition(text, openmetrics=openmetrics, require_eof=False).samples
        except ExpositionError as exc:
            return str(exc)

    assert read("\n".join(lines)) == read("\n".join(" " + line for line in lines))
