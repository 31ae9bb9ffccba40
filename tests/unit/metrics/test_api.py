"""The Prometheus HTTP API on the hub: answers, envelopes, errors, and Grafana's own requests."""

from __future__ import annotations

from _metricsdata import T0


def test_instant_query_answers_a_vector_in_prometheus_envelope(hub):
    doc = hub.client.get("/api/v1/query", params={"query": "http_requests_total",
                                                  "time": T0 + 600}).json()
    assert doc["status"] == "success"
    assert doc["data"]["resultType"] == "vector"
    got = {r["metric"]["code"]: r["value"] for r in doc["data"]["result"]}
    assert got == {"200": [T0 + 600, "400"], "500": [T0 + 600, "10"]}
    assert doc["data"]["result"][0]["metric"]["perflab_run"] == str(hub.run_id)


def test_range_query_matches_prometheus_arithmetic(hub):
    doc = hub.client.get("/api/v1/query_range", params={
        "query": 'sum by (code) (rate(http_requests_total{job="api"}[1m]))',
        "start": T0 + 300, "end": T0 + 600, "step": "60s"}).json()
    series = {r["metric"]["code"]: r["values"] for r in doc["data"]["result"]}
    # a steady 10 per 15 s is 0.6666.../s; Prometheus extrapolates a full window of it
    assert [v for _, v in series["200"]] == ["0.6666666666666666"] * 6
    assert [t for t, _ in series["200"]] == [T0 + 300 + 60 * i for i in range(6)]


def test_histogram_quantile_on_classic_buckets(hub):
    doc = hub.client.get("/api/v1/query", params={
        "query": "histogram_quantile(0.5, sum by (le) (rate(latency_seconds_bucket[1m])))",
        "time": T0 + 600}).json()
    [result] = doc["data"]["result"]
    assert result["metric"] == {}
    assert float(result["value"][1]) == 0.1


def test_parse_error_is_400_bad_data_with_the_column(hub):
    r = hub.client.get("/api/v1/query", params={"query": "sum(rate(x[5m]"})
    assert r.status_code == 400
    doc = r.json()
    assert doc["status"] == "error"
    assert doc["errorType"] == "bad_data"
    assert doc["error"].startswith("1:")


def test_many_to_many_matching_is_422_execution(hub):
    r = hub.client.get("/api/v1/query", params={
        "query": "http_requests_total + on(job) http_requests_total", "time": T0 + 600})
    assert r.status_code == 422
    assert r.json()["errorType"] == "execution"


def test_series_labels_and_values(hub):
    c = hub.client
    series = c.get("/api/v1/series", params={"match[]": 'http_requests_total{code="500"}',
                                             "start": T0, "end": T0 + 600}).json()["data"]
    assert series == [{"__name__": "http_requests_total", "code": "500", "job": "api",
                       "perflab_run": str(hub.run_id)}]
    names = c.get("/api/v1/labels").json()["data"]
    assert {"__name__", "code", "job", "le", "perflab_run"} <= set(names)
    metrics = c.get("/api/v1/label/__name__/values").json()["data"]
    assert {"http_requests_total", "latency_seconds_bucket"} <= set(metrics)
    assert c.get("/api/v1/label/code/values").json()["data"] == ["200", "500"]
    assert c.get("/api/v1/series").status_code == 400  # match[] is required


def test_metadata_has_the_imported_families(hub):
    doc = hub.client.get("/api/v1/metadata", params={"metric": "http_requests"}).json()
    assert doc["data"] == {"http_requests": [{"type": "counter", "help": "Requests served.",
                                              "unit": ""}]}


def test_grafana_health_check_and_buildinfo(hub):
    """Grafana's "Save & test" posts expr 1+1 at time 4 (pkg/promlib/healthcheck.go), then
    reads buildinfo to tell Prometheus from Mimir (no "features": Prometheus)."""
    r = hub.client.post("/api/v1/query", data={"query": "1+1", "time": "4", "timeout": "60s"})
    assert r.json() == {"status": "success", "data": {"resultType": "scalar",
                                                      "result": [4, "2"]}}
    info = hub.client.get("/api/v1/status/buildinfo").json()
    assert info["status"] == "success"
    assert "features" not in info["data"]
    assert info["data"]["version"].startswith("2.")


def test_grafana_range_query_as_it_posts_it(hub):
    """client.go: POST form with query, start, end (float seconds) and step ('f' format)."""
    r = hub.client.post("/api/v1/query_range", data={
        "query": "rate(http_requests_total[1m])", "start": f"{T0 + 120.5}",
        "end": f"{T0 + 300}", "step": "15", "timeout": "60s"})
    doc = r.json()
    assert doc["status"] == "success"
    assert len(doc["data"]["result"]) == 2
    assert all(len(s["values"]) == 12 for s in doc["data"]["result"])


def test_bad_parameters_are_400_never_500(hub):
    c = hub.client
    for params in ({"query": "up", "time": "yesterday"}, {"query": "up", "time": "NaN"},
                   {"query": "up", "start": "1", "end": "2", "step": "0"},
                   {"query": "up", "start": "2", "end": "1", "step": "1"},
                   {"query": ""}, {"query": "x" * 70_000}):
        path = "/api/v1/query_range" if "step" in params else "/api/v1/query"
        r = c.post(path, data=params)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["status"] == "error"


def test_too_many_steps_are_refused(hub):
    r = hub.client.get("/api/v1/query_range", params={"query": "1", "start": "0",
                                                      "end": "100000", "step": "1"})
    assert r.status_code == 400
    assert "11,000 points" in r.json()["error"]


def test_rules_alerts_targets_are_empty_but_well_formed(hub):
    c = hub.client
    assert c.get("/api/v1/rules").json() == {"status": "success", "data": {"groups": []}}
    assert c.get("/api/v1/alerts").json() == {"status": "success", "data": {"alerts": []}}
    assert c.get("/api/v1/targets").json()["data"] == {"activeTargets": [],
                                                       "droppedTargets": []}


def test_reload_needs_post(hub):
    assert hub.client.get("/-/reload").status_code == 405
    assert hub.client.post("/-/reload").status_code == 200
