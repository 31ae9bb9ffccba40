"""The ingest write path: span rows bind cheaply and come back from the store as they went in."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from _spandata import proc, sid, span, tid, write

from perflab.store import Store, insert_spans, span_stats
from perflab.trace import SpanEvent, SpanLink, decode_protobuf, encode_request, get_trace
from perflab.trace._decode import MAX_ATTRS, MAX_KEY, MAX_VALUE
from perflab.trace._model import WARN_TRUNCATED
from perflab.trace._write import span_rows


def _full_span():
    s = span(1, 2, 1, "api", "GET /items", 0, 5, status=2,
             attrs={"http.route": "/items", "n": 3, "ok": True, "xs": [1.5, "a"]},
             events=(SpanEvent(7, "retry", {"attempt": 2}),))
    s.links = (SpanLink(tid(9), sid(9), {"why": "batch"}),)
    return s


def test_rows_hold_only_values_sqlite3_binds_without_its_adapter_lookup():
    """bytes and None cost sqlite3 an adapter lookup each (a formatted AttributeError): the
    rows the ingest path writes hold ints, strs and bytearrays only."""
    rows, _ = span_rows([span(1, 1, None, "api", "GET /", 0, 5), _full_span()])
    for row in rows:
        assert {type(v) for v in row} <= {int, str, bytearray}, row


def test_spans_read_back_as_written_with_and_without_optional_fields(tmp_path):
    bare = span(1, 1, None, "api", "GET /", 0, 5)
    full = _full_span()
    with Store.open(tmp_path / "s.db") as store:
        write(store, [bare, full])
        trace = get_trace(store, tid(1))
        assert trace is not None
        got = {s.span_id: s for s in trace.spans}
    b, f = got[sid(1)], got[sid(2)]
    assert (b.parent_id, b.status_message, b.attrs, b.events, b.links) == (None, "", {}, (), ())
    assert isinstance(b.trace_id, bytes)
    assert b.process.service == "api"
    assert f.parent_id == sid(1)
    assert (f.status, f.status_message) == (2, "failed")
    assert f.attrs == full.attrs
    assert f.events == full.events
    assert f.links == full.links
    assert f.process == proc("api")


def _decoded_one(attrs):
    s = span(1, 1, None, "api", "GET /", 0, 5, attrs=attrs)
    return decode_protobuf(encode_request([s]).SerializeToString()).spans[0]


@pytest.mark.parametrize(("attrs", "expected", "cut"), [
    ({"s": "x", "i": -3, "b": False, "d": 1.5}, {"s": "x", "i": -3, "b": False, "d": 1.5},
     False),
    ({"s": "x" * (MAX_VALUE + 1)}, {"s": "x" * MAX_VALUE}, True),
    ({"k" * (MAX_KEY + 1): 1}, {"k" * MAX_KEY: 1}, True),
    ({"d": math.inf, "n": 1}, {"d": "inf", "n": 1}, False),
    ({"xs": [1, "a"], "n": 1}, {"xs": [1, "a"], "n": 1}, False),
    ({f"a{i}": i for i in range(MAX_ATTRS + 1)}, {f"a{i}": i for i in range(MAX_ATTRS)}, True),
])
def test_attributes_within_and_beyond_the_limits(attrs, expected, cut):
    """Plain attributes take the fast path, the rest the careful one: both give the same
    values, and a cut says so."""
    got = _decoded_one(attrs)
    assert got.attrs == expected
    assert bool(got.flags & WARN_TRUNCATED) == cut


def test_attribute_json_is_the_compact_encoders_text():
    from perflab.trace._write import _DUMPS, _ENCODER  # noqa: PLC0415

    values: list[object] = [{"a": 1, "é": "ü", "xs": [1.5, True, None, 'q"x']}, [], {}, "s"]
    for value in values:
        assert _DUMPS(value) == _ENCODER.encode(value)
    with pytest.raises(ValueError, match="JSON"):
        _DUMPS({"nan": math.nan})


def test_a_batch_is_written_whole_and_a_span_sent_twice_once(tmp_path):
    """Every span of a batch is stored with its trace (its trace ids named by the rows' catalog,
    as ingest does, or read from the rows, as other writers do); a span sent twice, in one
    batch and again in a later one, is stored once; optional fields read back as written."""
    batch = [span(1 + i // 7, 1 + i, None if i % 7 == 0 else i, "api", f"op{i % 3}", i, 1,
                  attrs={"i": i} if i % 2 else None) for i in range(600)]
    again = [span(1, 1, None, "api", "op0", 0, 1), batch[300]]
    with Store.open(tmp_path / "s.db") as store:
        rows, catalog = span_rows([*batch[:300], batch[5], *batch[300:]])
        assert catalog.trace_ids == [tid(n) for n in range(1, 87)]
        assert insert_spans(store, rows, catalog) == 600
        rows, catalog = span_rows(again)
        assert insert_spans(store, rows, replace(catalog, trace_ids=None)) == 0
        assert span_stats(store)[0] == 600
        for n in (1, 37, 86):
            trace = get_trace(store, tid(n))
            assert trace is not None
            want = {s.span_id: s for s in batch if s.trace_id == tid(n)}
            assert {s.span_id: (s.parent_id, s.name, s.start_ns, s.attrs)
                    for s in trace.spans} == {
                k: (s.parent_id, s.name, s.start_ns, s.attrs) for k, s in want.items()}
