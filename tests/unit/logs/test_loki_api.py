"""Loki's query API on the hub: answers in Loki's shapes (validated against their schemas),
Loki's time parameters, and bad input as a 400 with Loki's plain-text message."""

from __future__ import annotations

import time

import pytest
from _webclient import hub_client
from tests._schemas import validate
from tests.conftest import wait_for

from perflab.logs import parse_loki_time
from perflab.store import Store, log_stats

T = 1_700_000_000


@pytest.fixture
def client(store_path):
    doc = {"streams": [
        {"stream": {"job": "api", "env": "prod"}, "values": [
            [str(T * 10**9 + i * 10**9), f"level={lvl} n={i}"]
            for i, lvl in enumerate(["info", "error", "error"])]},
        {"stream": {"job": "web"}, "values": [[str(T * 10**9), "GET /"]]}]}
    with hub_client(store_path) as c:
        assert c.post("/loki/api/v1/push", json=doc).status_code == 204
        wait_for(lambda: log_stats(Store.open(store_path))[0] == 4, what="lines stored")
        yield c


def test_query_range_streams_and_matrix(client):
    r = client.get("/loki/api/v1/query_range", params={
        "query": '{job="api"} |= "error"', "start": str(T), "end": str(T + 10), "limit": "1"})
    doc = r.json()
    validate(doc, "loki-query")
    assert doc["data"]["result"] == [{"stream": {"job": "api", "env": "prod"},
                                      "values": [[str((T + 2) * 10**9), "level=error n=2"]]}]
    r = client.post("/loki/api/v1/query_range", data={
        "query": 'sum by (level) (count_over_time({job="api"} | logfmt [10s]))',
        "start": f"{T}.5", "end": str(T + 2), "step": "1"})
    doc = r.json()
    validate(doc, "loki-query")
    assert doc["data"] == {"resultType": "matrix", "result": [
        {"metric": {"level": "error"}, "values": [[T + 1.5, "1"]]},
        {"metric": {"level": "info"}, "values": [[T + 0.5, "1"], [T + 1.5, "1"]]}]}


def test_instant_query_is_a_vector(client):
    r = client.get("/loki/api/v1/query", params={
        "query": 'count_over_time({env="prod"}[1m])', "time": "2023-11-14T22:13:25Z"})
    doc = r.json()
    validate(doc, "loki-query")
    assert doc["data"] == {"resultType": "vector", "result": [
        {"metric": {"job": "api", "env": "prod"}, "value": [T + 5, "3"]}]}


def test_labels_values_and_series_match_their_schema(client):
    q = {"start": str(T), "end": str(T + 10)}
    for path, expected in [("/loki/api/v1/labels", ["env", "job"]),
                           ("/loki/api/v1/label/job/values", ["api", "web"]),
                           ("/loki/api/v1/label/env/values", ["prod"])]:
        doc = client.get(path, params=q).json()
        validate(doc, "loki-list")
        assert doc["data"] == expected
    doc = client.get("/loki/api/v1/series", params={**q, "match[]": ['{job="web"}',
                                                                     '{env="prod"}']}).json()
    validate(doc, "loki-list")
    assert doc["data"] == [{"env": "prod", "job": "api"}, {"job": "web"}]
    empty = client.get("/loki/api/v1/labels", params={"start": "1", "end": "2"}).json()
    assert empty["data"] == []


@pytest.mark.parametrize(("params", "says"), [
    ({"query": '{job="api"'}, "invalid LogQL at column 11"),
    ({}, "parameter 'query' is required"),
    ({"query": '{job="api"}', "start": "yesterday"}, "invalid start"),
    ({"query": '{job="api"}', "start": "20", "end": "10"}, "must not be before"),
    ({"query": '{job="api"}', "end": "9999999999999999999"}, "invalid end"),
    ({"query": '{job="api"}', "end": "999999999999.5"}, "invalid end"),
    ({"query": '{job="api"}', "end": "9999-12-31T00:00:00Z"}, "invalid end"),
    ({"query": 'rate({job="api"}[99999y])'}, "at most 10 years"),
    ({"query": '{job="api"}', "limit": "0"}, "invalid limit"),
    ({"query": '{job="api"}', "direction": "up"}, "invalid direction"),
    ({"query": 'rate({job="api"}[1m])', "step": "fast"}, "invalid step"),
    ({"query": 'rate({job="api"}[1m])', "start": "0", "end": str(T), "step": "1"},
     "points per series"),
    ({"query": 'count_over_time({job="web"} | json [1m])', "start": str(T),
      "end": str(T + 1)}, "pipeline error"),
])
def test_bad_queries_are_400_with_a_message(client, params, says):
    r = client.get("/loki/api/v1/query_range", params=params)
    assert r.status_code == 400
    assert says in r.text


def test_an_instant_log_query_is_refused_as_loki_refuses_it(client):
    r = client.get("/loki/api/v1/query", params={"query": '{job="api"}'})
    assert r.status_code == 400
    assert "log queries are not supported as an instant query type" in r.text


def test_series_needs_a_matcher(client):
    r = client.get("/loki/api/v1/series")
    assert (r.status_code, "match[]" in r.text) == (400, True)


@pytest.mark.parametrize(("text", "ns"), [
    ("1700000000", 1_700_000_000 * 10**9),                 # seconds: 10 digits or fewer
    ("1700000000123456789", 1_700_000_000_123_456_789),    # nanoseconds
    ("1700000000.25", 1_700_000_000_250_000_000),
    ("2023-11-14T22:13:20Z", 1_700_000_000 * 10**9),
])
def test_loki_times(text, ns):
    assert parse_loki_time(text, "start") == ns


def test_public_surface_of_perflab_logs():
    import perflab.logs  # noqa: PLC0415

    assert sorted(perflab.logs.__all__) == [
        "ES_ROOT", "ErrorLine", "FileTail", "Follower", "HubUnavailable", "LogEntry", "LogPorts",
        "LogQLError",
        "LogSink",
        "LogsHub", "LogsQueryDoc", "LokiData", "LokiListDoc", "LokiQueryDoc", "LokiTailDoc",
        "OTLP_HTTP_PATHS", "OutputCapture", "QueryError", "ROUTES", "Retention", "TEMPLATES",
        "apply_retention",
        "decode_push", "detect_ids", "detect_level", "hub_tail", "line_fields", "log_query",
        "log_volume",
        "mask_line", "parse", "parse_loki_time", "query_instant", "query_range", "start_tail",
        "tail_message", "top_error_lines"]


def test_logs_page_shows_lines_inert_and_errors_with_their_column(store_path):
    now = time.time_ns()
    doc = {"streams": [{"stream": {"job": "page"}, "values": [
        [str(now - 10**9), "<script>alert(1)</script> level=error"]]}]}
    with hub_client(store_path) as c:
        assert c.post("/loki/api/v1/push", json=doc).status_code == 204
        wait_for(lambda: log_stats(Store.open(store_path))[0] == 1, what="line stored")
        page = c.get("/logs", params={"query": '{job="page"} |= "error"', "window": "5m"})
        assert page.status_code == 200
        assert "&lt;script&gt;alert(1)&lt;/script&gt; level=error" in page.text
        assert "<script>alert(1)" not in page.text
        assert 'href="/logs" class="active"' in page.text
        metric = c.get("/logs", params={"query": 'count_over_time({job="page"}[5m])'})
        assert (metric.status_code, 'id="logs-series"' in metric.text) == (200, True)
        bad = c.get("/logs", params={"query": '{job="page"'})
        assert bad.status_code == 400
        assert "invalid LogQL at column 12" in bad.text
        assert c.get("/logs").status_code == 200
