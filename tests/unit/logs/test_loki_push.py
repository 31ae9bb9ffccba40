"""The Loki push receiver: the real python-logging-loki client, snappy protobuf as Promtail
sends it, and bad bodies answered with 400/413 while the hub keeps what it had."""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
from typing import Any

import cramjam
import pytest
from _pushdata import push_request
from _webclient import hub_client
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import wait_for

from perflab.logs import LogSink, decode_push, query_range
from perflab.serving import BadEncoding, PayloadTooLarge
from perflab.store import Store, log_stats
from perflab.testing import serve

PUSH = "/loki/api/v1/push"


def _lines(path) -> list[tuple[dict[str, str], str, str]]:
    with Store.open(path) as st:
        data: Any = query_range(st, '{job=~".+"}', 0, 2**62, limit=1000, backward=False)
    return [(s["stream"], ts, line) for s in data["result"] for ts, line in s["values"]]


def test_python_logging_loki_pushes_lines_with_their_labels(store_path):
    import logging_loki  # noqa: PLC0415  # the real client

    with hub_client(store_path) as client:
        # the client posts with requests; route it through the in-process hub
        handler = logging_loki.LokiHandler(url=client.base_url.join(PUSH), version="1",
                                           tags={"job": "checkout"})
        handler.emitter._session = client  # its session: the test client
        logger = logging.getLogger("perflab.tests.loki")
        logger.propagate = False
        logger.addHandler(handler)
        try:
            logger.error("payment failed order=42 trace_id=4bf92f3577b34da6a3ce929d0e0e4736")
            logger.warning("slow", extra={"tags": {"route": "/pay"}})
        finally:
            logger.removeHandler(handler)
        wait_for(lambda: log_stats(Store.open(store_path))[0] == 2, what="2 lines stored")
    got = sorted(_lines(store_path), key=lambda e: e[1])
    assert [(s["job"], s["severity"], s.get("route"), line) for s, _, line in got] == [
        ("checkout", "error", None,
         "payment failed order=42 trace_id=4bf92f3577b34da6a3ce929d0e0e4736"),
        ("checkout", "warning", "/pay", "slow")]


def test_snappy_protobuf_push_lands_with_times_and_metadata(store_path):
    t = 1_700_000_000_123_456_789
    body = cramjam.snappy.compress_raw(push_request([
        ('{job="api", env="prod"}', [(t, "level=info msg=ok", []),
                                      (t + 1, "level=error msg=bad", [("trace_id", "ab" * 16)])]),
    ]))
    with hub_client(store_path) as client:
        r = client.post(PUSH, content=bytes(body),
                        headers={"Content-Type": "application/x-protobuf"})
        assert r.status_code == 204, r.text
        wait_for(lambda: log_stats(Store.open(store_path))[0] == 2, what="2 lines stored")
        q = client.get("/loki/api/v1/query_range", params={
            "query": '{job="api"} | logfmt | level="error"', "start": str(t),
            "end": str(t + 10), "direction": "forward"})
    assert q.status_code == 200
    assert q.json() == {"status": "success", "data": {"resultType": "streams", "result": [
        {"stream": {"job": "api", "env": "prod", "level": "error", "msg": "bad"},
         "values": [[str(t + 1), "level=error msg=bad"]]}]}}


def test_json_push_gzip_and_structured_metadata(store_path):
    doc = {"streams": [{"stream": {"job": "x"}, "values": [
        ["1700000000000000000", '{"level":"warn","span_id":"00f067aa0ba902b7"}'],
        ["1700000000000000001", "plain", {"user": "ann"}]]}]}
    with hub_client(store_path) as client:
        r = client.post(PUSH, content=gzip.compress(json.dumps(doc).encode()),
                        headers={"Content-Type": "application/json",
                                 "Content-Encoding": "gzip"})
        assert r.status_code == 204, r.text
        wait_for(lambda: log_stats(Store.open(store_path))[0] == 2, what="2 lines stored")
        labels = client.get("/loki/api/v1/labels", params={"start": "1700000000",
                                                           "end": "1700000001"}).json()
        values = client.get("/loki/api/v1/label/job/values",
                            params={"start": "1700000000", "end": "1700000001"}).json()
        series = client.get("/loki/api/v1/series", params={
            "match[]": '{job="x"}', "start": "1700000000", "end": "1700000001"}).json()
    assert labels == {"status": "success", "data": ["job"]}
    assert values == {"status": "success", "data": ["x"]}
    assert series == {"status": "success", "data": [{"job": "x"}]}


@pytest.mark.parametrize(("body", "ctype", "status", "says"), [
    (b"{", "application/json", 400, "not JSON"),
    (b'{"streams": 3}', "application/json", 400, '"streams"'),
    (b'{"streams": [{"stream": {}, "values": []}]}', "application/json", 400,
     "without labels"),
    (b'{"streams": [{"stream": {"a": "b"}, "values": [["x", "l"]]}]}', "application/json",
     400, "nanoseconds"),
    (b"\x00\x01garbage", "application/x-protobuf", 400, "snappy"),
    (bytes(cramjam.snappy.compress_raw(b"\x0a\xff\xff")), "application/x-protobuf", 400,
     "truncated"),
    (bytes(cramjam.snappy.compress_raw(push_request([('{job=~"x"}', [])]))),
     "application/x-protobuf", 400, 'name="value"'),
    (bytes(cramjam.snappy.compress_raw(push_request([("{job=", [])]))),
     "application/x-protobuf", 400, "column 6"),
    (b"x", "text/plain", 400, "Content-Type"),
    (b'{"streams": [{"stream": {"a": "b"}, "values": [["99999999999999999999", "l"]]}]}',
     "application/json", 400, "after the year 2262"),
])
def test_bad_pushes_are_refused_and_the_hub_keeps_serving(store_path, body, ctype, status, says):
    good = {"streams": [{"stream": {"job": "kept"}, "values": [["1", "first"]]}]}
    with hub_client(store_path) as client:
        assert client.post(PUSH, json=good).status_code == 204
        r = client.post(PUSH, content=body, headers={"Content-Type": ctype})
        assert (r.status_code, says in r.text) == (status, True), r.text
        assert client.post(PUSH, json=good).status_code == 204
        wait_for(lambda: log_stats(Store.open(store_path))[0] == 2, what="both kept")


def test_a_line_over_a_mebibyte_is_413():
    doc = {"streams": [{"stream": {"a": "b"}, "values": [["1", "x" * (1024 * 1024 + 1)]]}]}
    with pytest.raises(PayloadTooLarge, match="over 1,048,576 bytes"):
        decode_push(json.dumps(doc).encode(), "application/json", "")


def test_invalid_utf8_in_protobuf_is_stored_replaced():
    raw = push_request([('{a="b"}', [(5, "ok", [])])]).replace(b"ok", b"o\xff")
    entries = decode_push(bytes(cramjam.snappy.compress_raw(raw)), "application/x-protobuf", "")
    assert [(e.labels, e.ts_ns, e.line) for e in entries] == [('{"a":"b"}', 5, "o\ufffd")]


def test_a_full_queue_is_a_429_with_retry_after(store_path):
    with hub_client(store_path) as client:
        client.app.state.logs.sink.queue.max_items = 1
        doc = {"streams": [{"stream": {"a": "b"}, "values": [["1", "x"], ["2", "y"]]}]}
        r = client.post(PUSH, json=doc)
    assert r.status_code == 429
    assert r.headers["retry-after"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_the_protobuf_decoder_raises_only_its_documented_errors(body):
    with contextlib.suppress(BadEncoding, PayloadTooLarge):
        decode_push(bytes(cramjam.snappy.compress_raw(body)), "application/x-protobuf", "")
    with contextlib.suppress(BadEncoding, PayloadTooLarge):
        decode_push(body, "application/x-protobuf", "")


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(["streams", "stream", "values", "a"]),
                                      inner, max_size=4), max_leaves=20))
def test_the_json_decoder_raises_only_its_documented_errors(doc):
    with contextlib.suppress(BadEncoding, PayloadTooLarge):
        decode_push(json.dumps(doc).encode(), "application/json", "")


def test_the_token_guards_the_push_and_the_query_api(store_path):
    doc = {"streams": [{"stream": {"a": "b"}, "values": [["1", "x"]]}]}
    with hub_client(store_path, token="sekrit") as client:
        assert client.post(PUSH, json=doc).status_code == 401
        assert client.get("/loki/api/v1/labels").status_code == 401
        auth = {"Authorization": "Bearer sekrit"}
        assert client.post(PUSH, json=doc, headers=auth).status_code == 204
        assert client.get("/loki/api/v1/labels", headers=auth).status_code == 200


def test_python_logging_loki_over_a_real_socket(store_path):
    """The client's own requests session against a real ``perflab serve``."""
    import logging_loki  # noqa: PLC0415

    with serve(store_path, "--no-record") as served:
        handler = logging_loki.LokiHandler(url=served.url + PUSH, version="1",
                                           tags={"job": "real"})
        logger = logging.getLogger("perflab.tests.loki.real")
        logger.propagate = False
        logger.addHandler(handler)
        try:
            logger.warning("over the wire")
        finally:
            logger.removeHandler(handler)
        wait_for(lambda: log_stats(Store.open(store_path))[0] == 1, what="line stored",
                 timeout_s=30)
    assert [line for _, _, line in _lines(store_path)] == ["over the wire"]


@pytest.mark.parametrize("body", [
    b'{"streams":[{"stream":{"a":"\\ud800"},"values":[["1","x"]]}]}',
    b'{"streams":[{"stream":{"\\ud800":"b"},"values":[["1","x"]]}]}',
    b'{"streams":[{"stream":{"a":"b"},"values":[["1","x",{"k":"\\ud800"}]]}]}',
    b'{"streams":[{"stream":{"a":"b"},"values":[["1","{\\"k\\":\\"\\\\ud800\\"}"]]}]}',
    b'{"streams":[{"stream":{"a":"b\xff"},"values":[["1","x\xff"]]}]}',
    b'{"streams":[{"stream":{"a":"b"},"values":[["1","\\ud800 lone"]]}]}',
])
def test_lone_surrogates_and_bad_utf8_never_poison_the_writer(store, body):
    """A string SQLite cannot encode would fail the ingest writer's batch at every retry and
    stop all ingest: every such string is escaped or replaced before it gets there."""
    entries = decode_push(body, "application/json", "")
    with store.transaction():
        LogSink(clock=lambda: 0.0).write(store, entries)
    assert log_stats(store)[0] == 1


def test_too_many_streams_in_one_push_is_413():
    doc = {"streams": [{"stream": {"n": str(i)}, "values": [["1", "x"]]}
                       for i in range(10_001)]}
    with pytest.raises(PayloadTooLarge, match="10,001 streams in one push"):
        decode_push(json.dumps(doc).encode(), "application/json", "")


def test_a_protobuf_line_over_a_mebibyte_is_413():
    raw = push_request([('{a="b"}', [(5, "x" * (1024 * 1024 + 1), [])])])
    with pytest.raises(PayloadTooLarge, match="over 1,048,576 bytes"):
        decode_push(bytes(cramjam.snappy.compress_raw(raw)), "application/x-protobuf", "")
