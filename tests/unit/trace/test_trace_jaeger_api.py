"""Jaeger's query API as Grafana's Jaeger data source and Jaeger's UI call it: the exact
requests from their sources (grafana public/app/plugins/datasource/jaeger/datasource.test.ts,
jaeger cmd/query/app/query_parser.go) and the shapes of jaeger internal/uimodel."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from _spandata import T0, demo_trace, span, write
from _tracehub import hub_client
from tests._schemas import validate

from perflab.store import Store

START_US = T0 // 1000 - 60_000_000
END_US = T0 // 1000 + 3_600_000_000


@pytest.fixture
def client(tmp_path):
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        for i in range(1, 6):
            write(store, demo_trace(i, start_ms=i * 1000, slow_ms=100 if i == 5 else 0,
                                    error=i == 3))
    with hub_client(path) as c:
        yield c


def test_grafana_test_datasource_lists_services(client):
    r = client.get("/api/services")
    assert r.status_code == 200
    doc = r.json()
    validate(doc, "jaeger-services")
    assert doc["data"] == ["api", "frontend", "store"]
    assert doc["total"] == 3
    assert doc["errors"] is None


def test_operations_of_a_service_legacy_and_with_kinds(client):
    assert client.get("/api/services/api/operations").json()["data"] == ["GET /items", "SELECT"]
    ops = client.get("/api/operations?service=api&spanKind=client").json()["data"]
    assert ops == [{"name": "SELECT", "spanKind": "client"}]
    r = client.get("/api/operations")
    assert r.status_code == 400
    assert r.json()["errors"][0]["code"] == 400


def test_grafana_search_request(client):
    """datasource.ts: service, operation, start/end in µs and lookback=custom."""
    r = client.get(f"/api/traces?service=api&operation={quote('GET /items', safe='')}"
                   f"&start={START_US}&end={END_US}&lookback=custom")
    assert r.status_code == 200
    doc = r.json()
    validate(doc, "jaeger-traces")
    assert len(doc["data"]) == 5
    assert doc["data"][0]["traceID"] == f"{5:032x}"  # newest first
    trace = doc["data"][0]
    assert {p["serviceName"] for p in trace["processes"].values()} == {"frontend", "api",
                                                                        "store"}
    root = next(s for s in trace["spans"] if not s["references"])
    assert root["operationName"] == "GET /"
    assert root["startTime"] == (T0 + 5000 * 1_000_000) // 1000
    assert {"key": "span.kind", "type": "string", "value": "server"} in root["tags"]


def test_grafana_search_with_logfmt_tags_as_json(client):
    """Grafana converts ``error=true`` to tags={"error":"true"}."""
    r = client.get("/api/traces?service=api&tags=%7B%22error%22%3A%22true%22%7D"
                   f"&start={START_US}&end={END_US}&lookback=custom")
    data = r.json()["data"]
    assert [t["traceID"] for t in data] == [f"{3:032x}"]
    tags = {t["key"]: t["value"] for s in data[0]["spans"] for t in s["tags"]}
    assert tags["error"] is True
    assert tags["otel.status_code"] == "ERROR"


def test_search_by_attribute_duration_and_limit(client):
    r = client.get("/api/traces?service=store&minDuration=50ms&limit=20")
    assert [t["traceID"] for t in r.json()["data"]] == [f"{5:032x}"]
    r = client.get("/api/traces?service=frontend&tag=http.response.status_code:500")
    assert [t["traceID"] for t in r.json()["data"]] == [f"{3:032x}"]
    r = client.get("/api/traces?service=api&limit=2")
    assert len(r.json()["data"]) == 2
    r = client.get("/api/traces?service=api&operation=GET%20/items&maxDuration=34ms"
                   "&minDuration=1us")
    assert {t["traceID"] for t in r.json()["data"]} == {f"{i:032x}" for i in (1, 2, 3, 4)}


@pytest.mark.parametrize("query", ["minDuration=abc", "maxDuration=1ms&minDuration=2ms",
                                   "start=yesterday", "limit=ten", "tags=%7Bbad",
                                   "tag=nocolon", "tags=%5B1%5D"])
def test_bad_parameters_are_jaeger_400s(client, query):
    r = client.get("/api/traces?service=api&" + query)
    assert r.status_code == 400
    doc = r.json()
    assert doc["data"] is None
    assert doc["errors"][0]["code"] == 400


def test_trace_by_id_and_not_found(client):
    tid = f"{2:032x}"
    r = client.get(f"/api/traces/{tid}")
    assert r.status_code == 200
    validate(r.json(), "jaeger-traces")
    assert len(r.json()["data"][0]["spans"]) == 7
    # a short id is left-padded, as Jaeger does
    assert client.get("/api/traces/2").json()["data"][0]["traceID"] == tid
    r = client.get(f"/api/traces/{'f' * 32}")
    assert r.status_code == 404
    assert r.json()["errors"] == [{"code": 404, "msg": "trace not found"}]
    assert client.get("/api/traces/xyz").status_code == 400
    # Grafana escapes ids: a slash in a "trace id" is just a bad id
    assert client.get("/api/traces/a%2Fb").status_code in (400, 404)


def test_several_trace_ids_in_one_search(client):
    r = client.get(f"/api/traces?traceID={1:032x}&traceID={'e' * 32}")
    doc = r.json()
    assert [t["traceID"] for t in doc["data"]] == [f"{1:032x}"]
    assert doc["errors"] == [{"msg": "trace not found", "traceID": "e" * 32}]


def test_dependencies(client):
    end_ms = (T0 // 1_000_000) + 3_600_000
    r = client.get(f"/api/dependencies?endTs={end_ms}&lookback=7200000")
    doc = r.json()
    validate(doc, "jaeger-dependencies")
    links = {(d["parent"], d["child"]): d["callCount"] for d in doc["data"]}
    assert links == {("frontend", "api"): 5, ("api", "store"): 10}


def test_remote_sampling_default_is_everything(client):
    r = client.get("/api/sampling?service=api")
    assert r.json() == {"strategyType": "PROBABILISTIC",
                        "probabilisticSampling": {"samplingRate": 1.0}}
    assert client.get("/api/sampling").status_code == 400


def test_integers_beyond_javascript_are_strings_and_hostile_names_are_data(tmp_path):
    path = tmp_path / "s.db"
    hostile = "<script>alert(1)</script>\u2028\x00"
    with Store.open(path) as store:
        write(store, [span(9, 1, None, hostile, hostile, 0, 1,
                           attrs={"big": 2**60, "small": 7, "f": 1.5, "l": [1, "a"]})])
    with hub_client(path) as c:
        doc = c.get(f"/api/traces/{9:032x}").json()
        tags = {t["key"]: t for t in doc["data"][0]["spans"][0]["tags"]}
        assert tags["big"] == {"key": "big", "type": "int64", "value": str(2**60)}
        assert tags["small"]["value"] == 7
        assert tags["f"]["type"] == "float64"
        assert json.loads(tags["l"]["value"]) == [1, "a"]
        assert c.get("/api/services").json()["data"] == [hostile]
