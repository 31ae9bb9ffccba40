"""Every span decoder, fed arbitrary input, raises only its documented errors (DecodeError for
a body that does not decode, PayloadTooLarge for too many spans) and what it returns can be
written to the store."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perflab.serving import PayloadTooLarge
from perflab.trace import DecodeError, decode_json, decode_protobuf, decode_zipkin
from perflab.trace._write import span_rows

DOCUMENTED = (DecodeError, PayloadTooLarge)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=5),
    max_leaves=30)
hexish = st.text("0123456789abcdefABCDEFxz-", max_size=40)
trace_ids = st.binary(min_size=16, max_size=16).map(bytes.hex) | hexish
span_ids = st.binary(min_size=8, max_size=8).map(bytes.hex) | hexish


def _check(decode, body: bytes) -> None:
    try:
        decoded = decode(body)
    except DOCUMENTED:
        return
    span_rows(decoded.spans)  # what was accepted can be stored (JSON-able, ids right)
    for s in decoded.spans:
        assert len(s.trace_id) == 16
        assert len(s.span_id) == 8
        assert s.duration_ns >= 0


@FUZZ
@given(st.binary(max_size=2000))
def test_protobuf_bytes(body):
    _check(decode_protobuf, body)


@FUZZ
@given(st.binary(max_size=500) | json_values.map(lambda v: json.dumps(v).encode()))
def test_otlp_json_anything(body):
    _check(decode_json, body)


def _otlp_doc(spans, resource, scope):
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": scope,
                                                                     "spans": spans}]}]}


def _span_obj(noise: st.SearchStrategy) -> st.SearchStrategy:
    """OTLP/JSON span objects; ``noise`` is what a field may hold instead of its own type."""
    value = st.one_of(
        st.fixed_dictionaries({"stringValue": st.text(max_size=8)}),
        st.fixed_dictionaries({"intValue": st.integers(-(2**63), 2**63 - 1).map(str)}),
        st.fixed_dictionaries({"doubleValue": st.floats(allow_nan=False)}),
        st.fixed_dictionaries({"arrayValue": st.fixed_dictionaries({"values": st.lists(
            st.fixed_dictionaries({"boolValue": st.booleans()}), max_size=3)})}),
        st.fixed_dictionaries({"kvlistValue": st.fixed_dictionaries({"values": st.lists(
            st.fixed_dictionaries({"key": st.text(max_size=3), "value": st.fixed_dictionaries(
                {"bytesValue": st.just("AAEC")})}), max_size=2)})}), noise)
    return st.fixed_dictionaries({"traceId": trace_ids, "spanId": span_ids}, optional={
        "parentSpanId": span_ids | noise, "name": st.text(max_size=20) | noise,
        "kind": st.integers(-3, 9) | noise,
        "startTimeUnixNano": st.integers(0, 2**64 - 1).map(str) | noise,
        "endTimeUnixNano": st.integers(0, 2**64 - 1) | noise,
        "attributes": st.lists(st.fixed_dictionaries({"key": st.text(max_size=8),
                                                      "value": value}), max_size=4) | noise,
        "status": st.fixed_dictionaries({"code": st.integers(-1, 5),
                                         "message": st.text(max_size=5)}) | noise,
        "links": st.lists(st.fixed_dictionaries({"traceId": trace_ids, "spanId": span_ids}),
                          max_size=2) | noise,
        "events": st.lists(st.fixed_dictionaries({"timeUnixNano": st.integers(0, 2**64 - 1),
                                                  "name": st.text(max_size=5)}),
                           max_size=2) | noise,
    })


span_obj = _span_obj(st.nothing()) | _span_obj(json_values)
resources = st.fixed_dictionaries({"attributes": st.lists(st.fixed_dictionaries({
    "key": st.sampled_from(["service.name", "x"]), "value": st.fixed_dictionaries({
        "stringValue": st.text(max_size=10)})}), max_size=2)}) | json_values
scopes = st.fixed_dictionaries({}, optional={"name": st.text(max_size=5),
                                             "version": st.text(max_size=3)}) | json_values


@FUZZ
@given(st.lists(span_obj, max_size=4), resources, scopes)
def test_otlp_json_shaped(spans, resource, scope):
    body = json.dumps(_otlp_doc(spans, resource, scope), allow_nan=True).encode()
    _check(decode_json, body)


zipkin_obj = st.fixed_dictionaries({
    "traceId": trace_ids, "id": span_ids,
    "timestamp": st.integers(0, 2**53) | json_values}, optional={
    "parentId": span_ids | json_values, "name": json_values,
    "kind": st.sampled_from(["CLIENT", "SERVER", "x"]) | json_values,
    "duration": st.integers(-5, 2**64) | json_values,
    "localEndpoint": json_values, "remoteEndpoint": json_values, "tags": json_values,
    "annotations": json_values, "shared": json_values})


@FUZZ
@given(st.lists(zipkin_obj, max_size=4) | json_values)
def test_zipkin_json(doc):
    _check(decode_zipkin, json.dumps(doc, allow_nan=True).encode())


@FUZZ
@given(st.binary(max_size=300))
def test_zipkin_bytes(body):
    _check(decode_zipkin, body)
