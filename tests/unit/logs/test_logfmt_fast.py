"""The ingest reads a line's level and ids without parsing all its fields: for JSON and
well-formed logfmt lines, with or without structured metadata, they must be exactly what the
full fields (``line_fields``, as LogQL's parsers read them) say."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from perflab.logs import detect_ids, detect_level, line_fields
from perflab.logs._fields import _logfmt_facts, _logfmt_facts_exact, line_facts

_KEYS = st.sampled_from(["level", "lvl", "severity", "trace_id", "traceID", "span_id",
                         "spanId", "msg", "x", "dd.trace_id", "@l", "levelname"])
_VALUES = st.sampled_from(["info", "WARN", "error", "4bf92f3577b34da6a3ce929d0e0e4736",
                           "00f067aa0ba902b7", "", "zz", "0", "a b", 'q"uote', "ff"])


@st.composite
def structured_lines(draw):
    pairs = draw(st.lists(st.tuples(_KEYS, _VALUES), max_size=5))
    if draw(st.booleans()):
        return json.dumps(dict(pairs))
    text = " ".join(f"{k}={v}" if v and draw(st.booleans()) and " " not in v and '"' not in v
                    else f'{k}="{json.dumps(v)[1:-1]}"' for k, v in pairs)
    return draw(st.sampled_from(["", 'msg="level=error traceID=ff" ', "x=1 "])) + text \
        + draw(st.sampled_from(["", " ERROR here", " plain", ' msg="span_id=\\"ab\\""']))


@settings(max_examples=500, deadline=None)
@given(structured_lines(), st.lists(st.tuples(_KEYS, _VALUES), max_size=2))
def test_the_ingest_level_and_ids_are_the_full_fields_ones(line, metadata):
    fields = line_fields(line)
    fields.update(metadata)
    assert line_facts(line, tuple(metadata)) == (detect_level(line, fields), *detect_ids(fields))



@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=' \t="\\{}:,lvetracidspn_.@ERO1f', max_size=80))
def test_the_ingest_reader_never_raises(line):
    level, trace_id, span_id = line_facts(line)
    assert level is None or isinstance(level, str)
    assert trace_id is None or len(trace_id) == 16
    assert span_id is None or len(span_id) == 8


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.one_of(
    st.sampled_from(["level", "lvl", "trace_id", "dd.trace_id", "traceID", "span_id", "@l",
                     "severity", "severity_text", "levelname", "=", '"', " ", "\t", "\\",
                     "info", "ab", "x"]),
    st.text(alphabet=' \t="\\lvetracidspn_.@ERO1fx', max_size=6)), max_size=16))
def test_the_one_pass_reader_is_the_exact_one(parts):
    """The one-regexp reader of level and id pairs gives what the exact reader (a regexp a
    kind, the quotes counted) gives, on any line: it hands the lines it cannot read alike
    (tabs, backslashes, unpaired quotes) to the exact one."""
    line = "".join(parts)
    assert _logfmt_facts(line) == _logfmt_facts_exact(line)
