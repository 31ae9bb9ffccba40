"""The Elasticsearch ``_bulk`` subset: the real ``elasticsearch`` client (its ``info()`` probe
and ``helpers.bulk``), ECS documents as lines with their level, ids and service, item errors
for what cannot be taken, and the dashboard's ``/`` left to browsers."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.logs._logrows import count, wait_stored
from tests.unit.trace._tracehub import running_hub

from perflab.logs._elastic import decode_bulk
from perflab.serving import BadEncoding

TRACE_HEX = "4bf92f3577b34da6a3ce929d0e0e4736"


def _client(url: str):  # the client's own type
    from elasticsearch import Elasticsearch  # noqa: PLC0415  # the real client

    return Elasticsearch(url, request_timeout=30)


def test_the_client_probes_the_version_and_bulk_helper_indexes_documents(tmp_path):
    from elasticsearch import helpers  # noqa: PLC0415

    store = tmp_path / "s.db"
    docs: list[dict[str, Any]] = [
        {"_index": "web", "@timestamp": "2024-01-02T03:04:05.678Z", "message": "GET /cart 200",
         "log": {"level": "info"}, "service": {"name": "shop"}, "http": {"status": 200}},
        {"_index": "web", "@timestamp": 1704164645000, "message": "payment failed",
         "log": {"level": "error"}, "trace": {"id": TRACE_HEX}, "span": {"id": "00f067aa0ba902b7"}},
        {"_index": "jobs", "log": "fluentd-style line", "level": "warn"},
    ]
    with running_hub(store) as hub:
        es = _client(hub.url)
        info = es.info()
        assert info["version"]["number"].startswith("8.")
        ok, errors = helpers.bulk(es, docs)
        assert (ok, errors) == (3, [])
        rows = wait_stored(store, 3)
    by_line = {r["line"]: r for r in rows}
    cart, failed, job = (by_line["GET /cart 200"], by_line["payment failed"],
                         by_line["fluentd-style line"])
    assert (cart["labels"], cart["level"], cart["ts_ns"]) == (
        {"index": "web", "service_name": "shop"}, "info", 1_704_164_645_678_000_000)
    assert cart["fields"]["http_status"] == "200"
    assert (failed["labels"], failed["level"], failed["trace_id"], failed["span_id"],
            failed["ts_ns"]) == ({"index": "web"}, "error", TRACE_HEX, "00f067aa0ba902b7",
                                 1_704_164_645_000_000_000)
    assert (job["labels"], job["level"]) == ({"index": "jobs"}, "warn")


def test_item_errors_for_bad_documents_and_updates_the_others_kept(tmp_path):
    from elasticsearch import helpers  # noqa: PLC0415

    store = tmp_path / "s.db"
    actions: list[dict[str, Any]] = [{"_index": "a", "message": "good one"},
               {"_op_type": "update", "_index": "a", "_id": "1", "doc": {"x": 1}},
               {"_index": "a", "message": "x" * (1024 * 1024 + 1)},
               {"_index": "a", "message": "good two"}]
    with running_hub(store) as hub:
        ok, errors = helpers.bulk(_client(hub.url), actions, raise_on_error=False)
        assert ok == 2
        assert isinstance(errors, list)
        assert sorted(e[next(iter(e))]["error"]["type"] for e in errors) == [
            "illegal_argument_exception", "illegal_argument_exception"]
        assert [r["line"] for r in wait_stored(store, 2)] == ["good one", "good two"]
        body = '{"index":{"_index":"a"}}\n{not json\n{"create":{}}\n["x"]\n'
        r = httpx.post(hub.url + "/a/_bulk", content=body,
                       headers={"Content-Type": "application/x-ndjson"})
        assert r.status_code == 200
        assert r.headers["X-Elastic-Product"] == "Elasticsearch"
        assert r.json()["errors"] is True
        assert [i[next(iter(i))]["status"] for i in r.json()["items"]] == [400, 400]


@pytest.mark.parametrize(("body", "says"), [
    ("not json\n{}\n", "line 1"),
    ('{"index":{}}\n{"message":"x"}\n', "no _index"),
    ('{"index":{"_index":"a"},"extra":1}\n{}\n', "not an action"),
])
def test_a_malformed_action_line_refuses_the_request_and_the_hub_keeps_serving(tmp_path,
                                                                                body, says):
    store = tmp_path / "s.db"
    with running_hub(store) as hub:
        r = httpx.post(hub.url + "/_bulk", content=body)
        assert (r.status_code, says in r.json()["error"]["reason"]) == (400, True), r.text
        good = '{"index":{"_index":"a"}}\n{"message":"after"}\n'
        assert httpx.post(hub.url + "/_bulk", content=good).json()["errors"] is False
        assert [x["line"] for x in wait_stored(store, 1)] == ["after"]
        assert count(store) == 1


def test_invalid_utf8_is_kept_as_replacement_characters():
    body = b'{"index":{"_index":"a"}}\n{"message":"caf\xe9"}\n'
    got = decode_bulk(body, None, 0)
    assert [e.line for e in got.entries] == ["caf\ufffd"]


def test_a_browser_gets_the_dashboard_at_root_and_a_client_the_version(tmp_path):
    with running_hub(tmp_path / "s.db") as hub:
        page = httpx.get(hub.url + "/", headers={"Accept": "text/html",
                                                 "User-Agent": "Mozilla/5.0"})
        es = httpx.get(hub.url + "/", headers={"User-Agent": "Elastic-Libbeat/8.11"})
        head = httpx.head(hub.url + "/", headers={"Accept": "application/vnd.elasticsearch+json"})
    assert (page.status_code, "<html" in page.text.lower()) == (200, True)
    assert es.json()["tagline"] == "You Know, for Search"
    assert head.headers["X-Elastic-Product"] == "Elasticsearch"


def test_the_license_filebeat_checks_is_an_active_one(tmp_path):
    with running_hub(tmp_path / "s.db") as hub:
        assert _client(hub.url).license.get()["license"]["status"] == "active"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=40), st.sampled_from([
    '{"index":{"_index":"a"}}', '{"create":{}}', '{"delete":{"_index":"a"}}', '{"message":1}',
    '{"update":{"_index":"a","_id":"1"}}', "{}", "[]",
    '{"@timestamp":"x","message":"m"}', '{"@timestamp":1e300}',
    '{"@timestamp":-5}', '{"@timestamp":Infinity}', '{"@timestamp":NaN}',
    '{"@timestamp":"9999-12-31T23:59:59Z"}'])),
    max_size=8))
def test_fuzz_decode_bulk_raises_only_bad_encoding(lines):
    try:
        got = decode_bulk("\n".join(lines).encode(), "dflt", 0)
    except BadEncoding:
        return
    assert len(got.items) >= len(got.entries)
    assert all(0 <= e.ts_ns < 2**63 for e in got.entries)  # what the store can hold
    json.dumps(got.items)


def test_a_full_queue_is_a_429_the_client_retries_and_nothing_is_half_taken(tmp_path):
    from tests.unit._webclient import hub_client  # noqa: PLC0415

    body = '{"index":{"_index":"a"}}\n{"message":"x"}\n{"index":{"_index":"a"}}\n{"message":"y"}\n'
    with hub_client(tmp_path / "s.db") as client:
        client.app.state.logs.sink.queue.max_items = 1
        r = client.post("/_bulk", content=body)
        assert (r.status_code, r.json()["error"]["type"]) == (
            429, "es_rejected_execution_exception")
        assert r.headers["retry-after"]
        client.app.state.logs.sink.queue.max_items = 100
        assert client.post("/_bulk", content=body).json()["errors"] is False
        assert [x["line"] for x in wait_stored(tmp_path / "s.db", 2)] == ["x", "y"]


def test_the_hubs_token_is_asked_of_bulk_requests(tmp_path):
    with running_hub(tmp_path / "s.db", token="tok3n") as hub:
        assert httpx.post(hub.url + "/_bulk", content="{}\n").status_code == 401
        es = _client(hub.url).options(bearer_auth="tok3n")
        assert es.bulk(operations=[{"index": {"_index": "a"}}, {"message": "m"}])["errors"] \
            is False
