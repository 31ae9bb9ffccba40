"""What the log pages read: /api/logs/lines (lines with their level, fields and ids),
/api/logs/volume (lines per step by level), /api/logs/trace/{id}, and Loki's live tail
websocket /loki/api/v1/tail (first the lines since ``start``, then what arrives, in Loki's
message shape; bad parameters close it with 1008 and the reason), each against its schema."""

from __future__ import annotations

import json
import time

import pytest
from _webclient import hub_client
from starlette.websockets import WebSocketDisconnect
from tests._schemas import validate
from tests.conftest import wait_for

from perflab.store import Store, log_stats

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def _push(client, streams: dict[str, list[tuple[int, str]]]) -> None:
    doc = {"streams": [{"stream": {"job": job}, "values": [[str(ts), line] for ts, line in v]}
                       for job, v in streams.items()]}
    assert client.post("/loki/api/v1/push", json=doc).status_code == 204


def _stored(path, n: int) -> None:
    wait_for(lambda: log_stats(Store.open(path))[0] == n, what=f"{n} lines stored")


@pytest.fixture
def hub(store_path):
    now = time.time_ns()
    with hub_client(store_path) as c:
        _push(c, {"api": [(now - 30 * 10**9, f"level=info msg=start trace_id={TRACE}"),
                          (now - 20 * 10**9, (f"level=error msg=boom trace_id={TRACE} "
                                             f"span_id={SPAN}")),
                          (now - 10 * 10**9, "level=warn msg=slow")],
                  "db": [(now - 15 * 10**9, '{"level":"debug","q":"SELECT 1"}')]})
        _stored(store_path, 4)
        yield c, now


def test_lines_come_with_level_fields_and_ids(hub):
    client, _ = hub
    doc = client.get("/api/logs/lines", params={"query": '{job="api"} |= "msg"'}).json()
    validate(doc, "api-log_lines")
    assert [ln["fields"]["msg"] for ln in doc["lines"]] == ["slow", "boom", "start"]
    boom = doc["lines"][1]
    assert (boom["level"], boom["trace_id"], boom["span_id"], boom["labels"]) == (
        "error", TRACE, SPAN, {"job": "api"})
    doc = client.get("/api/logs/lines", params={"query": '{job=~".+"}', "limit": "2",
                                                "direction": "forward"}).json()
    assert ([ln["line"][:12] for ln in doc["lines"]], doc["truncated"]) == (
        ["level=info m", "level=error "], True)


def test_lines_refuse_what_they_cannot_answer(hub):
    client, _ = hub
    for params, words in [({}, "give a LogQL 'query'"),
                          ({"query": 'count_over_time({job="api"}[1m])'}, "metric query"),
                          ({"query": '{job="api"'}, "column"),
                          ({"query": '{job="api"}', "run": "x"}, "invalid run"),
                          ({"query": '{job="api"}', "run": "999"}, "no run 999"),
                          ({"query": '{job="api"}', "start": "20", "end": "10"}, "after")]:
        r = client.get("/api/logs/lines", params=params)
        assert r.status_code == 400, params
        validate(r.json(), "api-error")
        assert words in r.json()["error"], (params, r.json())


def test_a_runs_lines_without_a_query(store_path):
    with hub_client(store_path, record=True, interval_s=0.2) as c:
        run_id = c.get("/api/runs").json()["runs"][0]["id"]
        _push(c, {"app": [(time.time_ns(), "level=error in the run")]})
        _stored(store_path, 1)
        doc = c.get("/api/logs/lines", params={"run": str(run_id)}).json()
        validate(doc, "api-log_lines")
        assert [(ln["line"], ln["run_id"]) for ln in doc["lines"]] == [
            ("level=error in the run", run_id)]
        vol = c.get("/api/logs/volume", params={"run": str(run_id), "points": "10"}).json()
        validate(vol, "api-log_volume")
        assert sum(vol["levels"]["error"]) == 1


def test_volume_counts_by_level_in_round_steps(hub):
    client, now = hub
    doc = client.get("/api/logs/volume", params={
        "query": '{job=~".+"}', "start": str(now - 60 * 10**9), "end": str(now),
        "points": "6"}).json()
    validate(doc, "api-log_volume")
    assert doc["step_ns"] == 10 * 10**9
    assert doc["start_ns"] % doc["step_ns"] == 0
    assert {k: sum(v) for k, v in doc["levels"].items()} == {
        "info": 1, "error": 1, "warn": 1, "debug": 1}
    assert doc["filtered"] is False
    doc = client.get("/api/logs/volume", params={"query": '{job="api"} |= "msg" | logfmt'}).json()
    assert (doc["filtered"], sum(sum(v) for v in doc["levels"].values())) == (True, 3)
    bad = client.get("/api/logs/volume", params={"points": "0"})
    assert bad.status_code == 400


def test_the_lines_of_a_trace(hub):
    client, _ = hub
    doc = client.get(f"/api/logs/trace/{TRACE.upper()}").json()
    validate(doc, "api-trace_logs")
    assert [ln["fields"]["msg"] for ln in doc["lines"]] == ["start", "boom"]
    assert [ln["span_id"] for ln in doc["lines"]] == [None, SPAN]
    assert client.get("/api/logs/trace/xyz").status_code == 400
    assert client.get("/api/logs/trace/" + "0" * 32).json()["lines"] == []


def test_tail_sends_the_recent_lines_then_what_arrives(hub, store_path):
    client, now = hub
    url = "/loki/api/v1/tail?query=" + '{job="api"} |= "level"' + "&limit=2"
    with client.websocket_connect(url) as ws:
        first = ws.receive_json()
        validate(first, "loki-tail")
        assert first["streams"][0]["values"][0][1].startswith("level=error")
        assert [v[1] for s in first["streams"] for v in s["values"]][-1] == "level=warn msg=slow"
        _push(client, {"api": [(now - 3600 * 10**9, "level=info pushed late, an hour old"),
                               (now, "nothing to see here")],
                       "db": [(now, "level=info other stream")]})
        got = ws.receive_json()
        validate(got, "loki-tail")
        assert got == {"streams": [{"stream": {"job": "api"}, "values": [
            [str(now - 3600 * 10**9), "level=info pushed late, an hour old"]]}],
            "dropped_entries": []}


@pytest.mark.parametrize(("query", "words"), [
    ("", "parameter 'query' is required"),
    ('{job="api"', "invalid LogQL at column 11"),
    ('count_over_time({job="api"}[1m])', "metric query"),
    ('{job="api"}&delay_for=9', "delay_for"),
    ('{job="api"}&limit=0', "limit"),
])
def test_tail_closes_bad_requests_with_their_reason(hub, query, words):
    client, _ = hub
    with client.websocket_connect("/loki/api/v1/tail?query=" + query) as ws, \
            pytest.raises(WebSocketDisconnect) as got:
        ws.receive_json()
    assert got.value.code == 1008
    assert words in got.value.reason


def test_tail_needs_the_token_and_a_served_host(store_path):
    """The hub's rules hold for the websocket: no token, closed before it is accepted (4401);
    a Host the hub does not serve, closed (1008) before it reaches the tail; with the token,
    the tail answers (here: its refusal of a query without a matcher, 1008 too)."""
    auth = {"Authorization": "Bearer s3cret"}
    with hub_client(store_path, token="s3cret") as c:
        with pytest.raises(WebSocketDisconnect) as got:
            c.websocket_connect('/loki/api/v1/tail?query={job="x"}').__enter__()
        assert got.value.code == 4401
        with pytest.raises(WebSocketDisconnect) as got:
            c.websocket_connect('ws://evil.example/loki/api/v1/tail?query={job="x"}',
                                headers=auth).__enter__()
        assert (got.value.code, got.value.reason) == (1008, "")
        with c.websocket_connect('/loki/api/v1/tail?query={job=~".*"}', headers=auth) as ws, \
                pytest.raises(WebSocketDisconnect) as got:
            ws.receive_json()
        assert got.value.code == 1008
        assert "LogQL" in got.value.reason


def test_tail_with_fields_says_what_ingest_read(hub):
    """perflab's ``fields=1``: each entry's third value is the line's level, fields and ids
    (Loki's entries may carry an object third; without it, Loki's two values)."""
    client, _ = hub
    url = "/loki/api/v1/tail?query=" + '{job="api"} |= "boom"' + "&fields=1"
    with client.websocket_connect(url) as ws:
        got = ws.receive_json()
    validate(got, "loki-tail")
    (entry,) = got["streams"][0]["values"]
    assert entry[2] == {"level": "error", "fields": {
        "level": "error", "msg": "boom", "trace_id": TRACE, "span_id": SPAN},
        "trace_id": TRACE, "span_id": SPAN}


def test_tail_delay_for_sends_a_slow_loggers_line_in_its_place(hub):
    """``delay_for``, as Loki: a line waits until its time is that far past, so a line that
    arrives second but happened first is sent first (without a delay: arrival order)."""
    client, _ = hub
    url = "/loki/api/v1/tail?query=" + '{job="late"}' + "&delay_for=2"
    with client.websocket_connect(url) as ws:
        now = time.time_ns()
        _push(client, {"late": [(now, "level=info second, arrived first")]})
        _push(client, {"late": [(now - 1_500_000_000, "level=info first, arrived second")]})
        got: list[str] = []
        while len(got) < 2:
            got += [v[1] for s in ws.receive_json()["streams"] for v in s["values"]]
    assert got == ["level=info first, arrived second", "level=info second, arrived first"]


def test_tails_past_the_hubs_bound_are_told_to_try_later(hub):
    from perflab.serving import ConcurrencyLimiter  # noqa: PLC0415

    client, _ = hub
    client.app.state.logs.tails = ConcurrencyLimiter(1, 0, what="live tails")
    url = "/loki/api/v1/tail?query=" + '{job="api"}'
    with client.websocket_connect(url) as first:
        first.receive_json()
        with client.websocket_connect(url) as second, \
                pytest.raises(WebSocketDisconnect) as got:
            second.receive_json()
    assert got.value.code == 1013
    assert "too many live tails" in got.value.reason


def test_logs_page_renders_levels_fields_trace_links_and_a_range(hub):
    client, now = hub
    page = client.get("/logs", params={"query": '{job="api"} |= "boom"', "window": "5m"})
    assert page.status_code == 200
    assert 'class="log-row lvl-error"' in page.text
    assert f'<a class="log-trace" href="/traces/{TRACE}">' in page.text
    assert "<td>msg</td><td>boom</td>" in page.text
    embedded = page.text.split('<script id="logs-data" type="application/json">')[1]
    volume = json.loads(embedded.split("</script>")[0])["volume"]
    validate(volume, "api-log_volume")
    assert sum(volume["levels"]["error"]) == 1
    ranged = client.get("/logs", params={"query": '{job="api"}', "start": str(now - 25 * 10**9),
                                         "end": str(now - 15 * 10**9)})
    assert 'id="logs-range"' in ranged.text
    assert ranged.text.count('class="log-row ') == 1  # the error line at -20 s only
    backwards = client.get("/logs", params={"query": '{job="api"}', "start": "20", "end": "10"})
    assert (backwards.status_code, "the end must be after the start" in backwards.text) == (
        400, True)
    bad = client.get("/logs", params={"query": '{job="api"}', "start": "yesterday"})
    assert (bad.status_code, "invalid start" in bad.text) == (400, True)
