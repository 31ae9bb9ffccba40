"""The hub's JSON API, pages, /metrics and token over a known store (Starlette TestClient)."""

from __future__ import annotations

import html
import json
import time

import pytest
from _webclient import hub_client
from tests._schemas import validate

from _hubdata import T0, S
from perflab.store import Store


def test_runs_are_listed_newest_first_and_filtered(client, hub):
    doc = client.get("/api/runs").json()
    validate(doc, "api-runs")
    assert [r["id"] for r in doc["runs"]] == [hub.run_b, hub.run_a]
    assert [r["name"] for r in client.get("/api/runs?kind=record").json()["runs"]] == ["baseline"]
    assert [r["id"] for r in client.get("/api/runs?name=cand").json()["runs"]] == [hub.run_b]
    # since/until: ns, ISO-8601 (UTC when no zone) or a duration ago
    until = T0 + 1800 * S
    assert [r["id"] for r in client.get(f"/api/runs?until={until}").json()["runs"]] == [hub.run_a]
    assert [r["id"] for r in
            client.get("/api/runs?since=2023-11-14T23:00:00Z").json()["runs"]] == [hub.run_b]
    assert client.get("/api/runs?since=1h").json()["runs"] == []
    assert len(client.get("/api/runs?limit=1").json()["runs"]) == 1


def test_one_run_has_its_series_and_events(client, hub):
    doc = client.get(f"/api/runs/{hub.run_a}").json()
    validate(doc, "api-run")
    assert doc["run"]["name"] == "baseline"
    assert {s["area"] for s in doc["series"]} == {"system", "net", "process"}
    assert [(e["kind"], e["end_ns"]) for e in doc["events"]] == [
        ("fault", T0 + 160 * S), ("deploy", None)]
    ev = client.get(f"/api/runs/{hub.run_a}/events?start={T0 + 200 * S}").json()
    validate(ev, "api-events")
    assert [e["kind"] for e in ev["events"]] == ["deploy"]


def test_samples_are_downsampled_with_peaks(client, hub):
    sid = hub.series_a["system.cpu.pct,cpu=all,mode=user"]
    doc = client.get(f"/api/runs/{hub.run_a}/series/{sid}/samples?points=50").json()
    validate(doc, "api-samples")
    assert doc["downsampled"] is True
    assert len(doc["values"]) <= 50
    assert max(doc["values"]) == 97.0
    assert doc["raw_count"] == hub.n_samples
    ranged = client.get(f"/api/runs/{hub.run_a}/series/{sid}/samples"
                        f"?start={T0 + 120 * S}&end={T0 + 125 * S}").json()
    assert ranged["ts_ns"] == [T0 + i * S for i in range(120, 126)]
    assert ranged["values"][3] == 97.0


def test_several_series_in_one_request_keep_their_order(client, hub):
    user = hub.series_a["system.cpu.pct,cpu=all,mode=user"]
    mem = hub.series_a["system.mem.used_bytes"]
    doc = client.get(f"/api/runs/{hub.run_a}/samples?series={mem},{user}&points=40").json()
    validate(doc, "api-batch")
    assert [w["series_id"] for w in doc["windows"]] == [mem, user]
    assert max(doc["windows"][1]["values"]) == 97.0
    assert all(len(w["values"]) <= 40 for w in doc["windows"])


@pytest.mark.parametrize(("url", "status", "says"), [
    ("/api/runs/999", 404, "no run 999"),
    ("/api/runs/abc", 400, "integer"),
    ("/api/runs/{a}/series/99999/samples", 404, "no series"),
    ("/api/runs/{b}/series/{sa}/samples", 404, "has no series"),
    ("/api/runs/{a}/series/{sa}/samples?points=1", 400, "points"),
    ("/api/runs/{a}/series/{sa}/samples?points=lots", 400, "points"),
    ("/api/runs/{a}/series/{sa}/samples?start=yesterday", 400, "start"),
    ("/api/runs/{a}/series/{sa}/samples?start=20&end=10", 400, "before"),
    ("/api/runs?limit=0", 400, "limit"),
    ("/api/runs?since=soon", 400, "since"),
    ("/api/live?window=forever", 400, "window"),
    ("/api/nothing/here", 404, "no API endpoint"),
    ("/api/runs/{a}/samples?series=", 400, "series"),
    ("/api/runs/{a}/samples?series=1,x", 400, "series"),
    ("/api/runs/{b}/samples?series={sa}", 404, "has no series"),
])
def test_bad_requests_get_json_errors(client, hub, url, status, says):
    sid = hub.series_a["system.cpu.pct,cpu=all,mode=user"]
    r = client.get(url.format(a=hub.run_a, b=hub.run_b, sa=sid))
    assert r.status_code == status
    body = r.json()
    validate(body, "api-error")
    assert says in body["error"]


def test_pages_render_and_unknown_runs_are_404(client, hub):
    for url in ("/", "/runs", f"/runs/{hub.run_a}", f"/compare?a={hub.run_a}&b={hub.run_b}",
                "/compare"):
        r = client.get(url)
        assert r.status_code == 200, url
        assert "<!doctype html>" in r.text
    assert client.get("/runs/424242").status_code == 404
    assert client.get("/compare?a=1&b=424242").status_code == 404
    assert client.get("/runs?since=nonsense").status_code == 400
    page = client.get("/runs?kind=load").text
    assert "candidate" in page
    assert "baseline" not in page


def test_compare_page_shows_summary_deltas(client, hub):
    page = client.get(f"/compare?a={hub.run_a}&b={hub.run_b}").text
    # B is A scaled by 1.5 (apart from A's spike): memory's mean delta is exactly +50 %
    row = page.split("system.mem.used_bytes</td>", 1)[1].split("</tr>", 1)[0]
    assert "+50.0%" in row
    # process series match by name across runs although their PIDs differ
    assert 'process.cpu.pct{name="api"}' in html.unescape(page)


def test_compare_lists_series_constant_in_both_runs_apart_and_prints_units(hub):
    """An idle interface's 0/s in both runs is one row of a short list, not a row of zero
    deltas nor an overlaid chart; values are printed in their unit."""
    from perflab.store import Store  # noqa: PLC0415

    with Store.open(hub.path) as store:
        for run_id in (hub.run_a, hub.run_b):
            run = store.run(run_id)
            sid = store.series_id(run_id, "net.if.rx_errs_per_s", {"device": "eth9"}, "/s")
            store.insert_samples([(sid, run.started_ns + i * 10**9, 0.0) for i in range(10)])
    with hub_client(hub.path) as client:
        page = html.unescape(client.get(f"/compare?a={hub.run_a}&b={hub.run_b}").text)
    deltas, rest = page.split('id="same"', 1)
    assert 'net.if.rx_errs_per_s{device="eth9"}' not in deltas
    assert 'net.if.rx_errs_per_s{device="eth9"}</td><td class="num">0/s' in rest
    doc = json.loads(rest.split('id="compare-data" type="application/json">', 1)[1]
                     .split("</script>", 1)[0])
    assert all("eth9" not in p["key"] for p in doc["pairs"])  # no chart for it either
    row = deltas.split("system.mem.used_bytes</td>", 1)[1].split("</tr>", 1)[0]
    assert "B</td>" in row  # bytes print as bytes (12.5B, 18.8B), not as bare numbers


def test_format_value_speaks_each_unit():
    from perflab.report import format_value  # noqa: PLC0415

    assert format_value(1.5 * 1024**3, "bytes") == "1.50GiB"
    assert format_value(12.5 * 1024**2, "bytes/s") == "12.5MiB/s"
    assert format_value(45.25, "%") == "45.2%"
    assert format_value(183.4, "%") == "183.4%"
    assert format_value(3100, "/s") == "3.10k/s"
    assert format_value(850, "ms") == "850ms"
    assert format_value(0.25, "s") == "250ms"
    assert format_value(2.5e-6, "sec/op") == "2.50µs/op"
    assert format_value(2048, "B/op") == "2.00KiB/op"
    assert format_value(None, "%") == "-"


def test_report_download_is_one_self_contained_page(client, hub):
    r = client.get(f"/runs/{hub.run_a}/report")
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    assert "<script src=" not in r.text
    assert '<link rel="stylesheet"' not in r.text
    assert "uPlot" in r.text


def test_metrics_count_requests_by_route(client, hub):
    client.get(f"/api/runs/{hub.run_a}")
    client.get("/api/runs/999")
    text = client.get("/metrics").text
    assert ('perflab_http_requests_total{method="GET",route="/api/runs/{run_id}",status="200"}'
            ' 1.0') in text
    assert ('perflab_http_requests_total{method="GET",route="/api/runs/{run_id}",status="404"}'
            ' 1.0') in text
    assert "perflab_http_request_duration_seconds_bucket" in text
    size = next(line for line in text.splitlines() if line.startswith("perflab_store_size_bytes"))
    assert float(size.split()[1]) > 0


def test_live_records_this_machine_in_a_serve_run(store_path):
    with hub_client(store_path, record=True, interval_s=0.2) as c:
        deadline = time.monotonic() + 10
        doc = c.get("/api/live").json()
        while time.monotonic() < deadline and not any(
                len(s["values"]) >= 2 for p in doc["panels"] for s in p["series"]):
            time.sleep(0.2)
            doc = c.get("/api/live").json()
        validate(doc, "api-live")
        assert doc["run"]["kind"] == "serve"
        assert doc["run"]["status"] == "running"
        cpu = next(p for p in doc["panels"] if p["key"] == "cpu")
        modes = {s["labels"]["mode"] for s in cpu["series"]}
        assert modes >= {"user", "system", "iowait"}
        assert "idle" not in modes  # busy modes only, as htop's bars
        assert doc["top"]
        assert all(p["pid"] > 0 for p in doc["top"])
        run_id = doc["run"]["id"]
    # shutting the app down ends the run as ok
    with Store.open(store_path) as store:
        run = store.run(run_id)
        assert run.status == "ok"
        assert run.ended_ns is not None
        assert sum(store.sample_counts(run_id).values()) > 0


def test_live_without_recording_says_so(store_path):
    with hub_client(store_path) as c:
        doc = c.get("/api/live?window=1h").json()
        validate(doc, "api-live")
        assert doc["run"] is None
        assert doc["panels"] == []
        assert doc["window_ns"] == 3600 * S
        assert "--no-record" in c.get("/").text


@pytest.fixture
def guarded(hub):
    with hub_client(hub.path, token="s3cret") as c:
        yield c


def test_token_is_required_everywhere(guarded, hub):
    assert guarded.get("/api/runs").status_code == 401
    assert guarded.get("/metrics").status_code == 401
    assert guarded.get("/static/app.css").status_code == 401
    assert guarded.get("/api/runs", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = guarded.get("/api/runs", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    page = guarded.get(f"/runs/{hub.run_a}", headers={"Accept": "text/html"},
                       follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == f"/login?next=%2Fruns%2F{hub.run_a}"


def test_login_form_sets_a_cookie_that_is_not_the_token(guarded, hub):
    assert "<form" in guarded.get("/login").text
    bad = guarded.post("/login", data={"token": "nope", "next": "/runs"},
                       follow_redirects=False)
    assert bad.status_code == 401
    assert "not right" in bad.text
    good = guarded.post("/login", data={"token": "s3cret", "next": "https://evil.example/"},
                        follow_redirects=False)
    assert good.status_code == 303
    assert good.headers["location"] == "/"  # never an open redirect
    cookie = good.cookies.get("perflab_session")
    assert cookie
    assert "s3cret" not in cookie
    assert guarded.get("/api/runs").status_code == 200  # the client now carries the cookie


def test_compare_leaves_out_perflabs_own_promql_copies():
    """perflab's node_* copies of the system series (job="perflab") and the spanmetrics
    counters are for PromQL; a scraped node_exporter's node_* series are compared."""
    from perflab.store import Series  # noqa: PLC0415
    from perflab.web._pages import _promql_copy  # noqa: PLC0415  # the page's own rule

    def series(name, **labels):
        return Series(id=1, run_id=1, name=name, labels=labels, unit="")

    assert _promql_copy(series("node_filesystem_avail_bytes", job="perflab", mountpoint="/"))
    assert _promql_copy(series("traces_span_metrics_calls_total", service_name="api"))
    assert not _promql_copy(series("node_filesystem_avail_bytes", job="node", mountpoint="/"))
    assert not _promql_copy(series("system.cpu.pct", mode="user"))
