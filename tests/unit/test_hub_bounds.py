"""Bounded answers and hostile parameters: no request gets more than the hub decided to give,
no parameter gives a 500 (issue 11, problems 3 and 4)."""

from __future__ import annotations

import itertools

import pytest
from _webclient import hub_client
from starlette.routing import Mount, Route
from tests._schemas import validate

from _hubdata import T0, S
from perflab.serving import ConcurrencyLimiter
from perflab.store import Store
from perflab.web import _api as api


def _user(hub) -> int:
    return hub.series_a["system.cpu.pct,cpu=all,mode=user"]


def test_a_series_named_100_times_is_read_once(client, hub):
    sid = _user(hub)
    r = client.get(f"/api/runs/{hub.run_a}/samples?series={','.join([str(sid)] * 100)}"
                   "&points=100000")
    assert r.status_code == 200
    doc = r.json()
    validate(doc, "api-batch")
    assert [w["series_id"] for w in doc["windows"]] == [sid]


def test_too_many_series_or_points_is_a_400_saying_what_to_narrow(client, hub, monkeypatch):
    ids = ",".join(str(i) for i in range(1, api.MAX_BATCH_SERIES + 2))
    r = client.get(f"/api/runs/{hub.run_a}/samples?series={ids}")
    assert r.status_code == 400
    assert f"1 to {api.MAX_BATCH_SERIES} series" in r.json()["error"]
    monkeypatch.setattr(api, "MAX_ANSWER_POINTS", 1000)
    every = ",".join(str(s) for s in hub.series_a.values())
    r = client.get(f"/api/runs/{hub.run_a}/samples?series={every}&points=400")
    assert r.status_code == 400
    assert "fewer points or fewer series" in r.json()["error"]


def test_extreme_start_and_end_are_clamped_to_the_run_and_downsampled(client, hub):
    """start=-2^63&end=2^63-1&points=50 returned every raw sample before."""
    sid = _user(hub)
    far = f"start={-(2**63)}&end={2**63 - 1}&points=50"
    for url in (f"/api/runs/{hub.run_a}/series/{sid}/samples?{far}",
                f"/api/runs/{hub.run_a}/samples?series={sid}&{far}"):
        doc = client.get(url).json()
        w = doc["windows"][0] if "windows" in doc else doc
        assert w["downsampled"] is True
        assert len(w["values"]) <= 50
        assert w["raw_count"] == hub.n_samples
        assert max(w["values"]) == 97.0
        assert (w["start_ns"], w["end_ns"]) == (T0, T0 + (hub.n_samples - 1) * S)


def test_a_query_past_its_deadline_is_a_503_and_the_hub_goes_on(store_path):
    with Store.open(store_path) as store:
        run = store.create_run("record", "big", started_ns=T0)
        sid = store.series_id(run.id, "x", {}, "")
        store.insert_samples([(sid, T0 + i * 10**6, float(i % 13)) for i in range(50_000)])
        store.finish_run(run.id, "ok", ended_ns=T0 + 50_000 * 10**6)
    with hub_client(store_path, query_timeout_s=-1) as c:
        r = c.get(f"/api/runs/{run.id}/series/{sid}/samples?start={T0}&points=100")
        assert r.status_code == 503
        assert "shorter time range" in r.json()["error"]
        page = c.get("/runs")
        assert page.status_code in (200, 503)
        assert c.get("/api/nothing").status_code == 404


def test_sample_reads_beyond_the_waiting_room_get_429(client, hub):
    limiter = ConcurrencyLimiter(1, 0, what="sample reads")
    client.app.state.perflab.heavy = limiter
    limiter.active = 1  # one read at work, no place to wait
    r = client.get(f"/api/runs/{hub.run_a}/series/{_user(hub)}/samples")
    assert r.status_code == 429
    assert r.headers["retry-after"] == "1"
    assert "too many sample reads" in r.json()["error"]
    assert client.get("/api/runs").status_code == 200  # other endpoints are not held up
    limiter.active = 0
    assert client.get(f"/api/runs/{hub.run_a}/series/{_user(hub)}/samples").status_code == 200


@pytest.mark.parametrize(("url", "status"), [
    ("/api/runs?since=99999999999999999999999", 400),
    ("/api/runs?since=%C2%B2", 400),
    ("/api/runs?since=--5", 400),
    ("/api/runs?since=9999-12-31T23:59:59Z", 400),
    ("/api/runs?since=1e300", 400),
    ("/api/runs/99999999999999999999", 400),
    ("/api/runs/{a}/series/99999999999999999999/samples", 400),
    ("/api/runs/{a}/events?start=-9223372036854775809", 400),
    ("/api/runs/%D9%A1", 400),
    ("/api/runs/1_0", 400),
    ("/api/runs?name=" + "x" * 60_000, 400),
    ("/api/runs?kind=" + "x" * 300, 400),
    ("/api/live?window=1e300", 400),
    ("/runs/99999999999999999999", 404),
    ("/runs/%D9%A1", 404),
    ("/runs/%C2%B2", 404),
    ("/runs/99999999999999999999/report", 404),
    ("/runs/%D9%A1/report", 404),
    ("/runs?since=%C2%B2", 400),
    ("/runs?since=99999999999999999999999", 400),
    ("/runs?name=" + "x" * 60_000, 400),
    ("/compare?a=99999999999999999999&b=1", 400),
])
def test_problem_4_parameters_are_400_or_404_not_500(client, hub, url, status):
    r = client.get(url.format(a=hub.run_a))
    assert r.status_code == status, r.text[:300]
    if url.startswith("/api/"):
        validate(r.json(), "api-error")


HOSTILE = [
    "99999999999999999999999", "-99999999999999999999", "%C2%B2", "%D9%A1", "--5", "1_000",
    "9999-12-31T23:59:59Z", "0001-01-01", "1e300", "nan", "-9223372036854775809",
    "9223372036854775808", "%00", "%FF%FE", "<script>", "x" * 2000, "", "%20", ",,,", "-1",
]
PARAMS = ["since", "until", "start", "end", "points", "limit", "name", "kind", "window",
          "series", "a", "b", "pid", "a_start", "a_end", "b_start", "b_end", "q", "branch",
          "unit", "next"]


def _paths(app, value: str) -> list[str]:
    out = []
    for route in app.routes:
        if isinstance(route, Mount) or not isinstance(route, Route):
            continue
        path = route.path
        for name in route.param_convertors:
            path = path.replace("{" + name + "}", value).replace("{" + name + ":path}", value)
        out.append(path)
    return out


def test_every_route_with_every_hostile_value_is_never_a_5xx(client, hub):
    """Every route with each hostile value as its path parameters, with each value in every
    parameter at once, and each parameter alone with values taken in turn."""
    app = client.app
    seen = []
    for value in HOSTILE:
        seen.extend(_paths(app, value))
        every = "&".join(f"{key}={value}" for key in PARAMS)
        seen.extend(f"{path}?{every}" for path in _paths(app, str(hub.run_a)))
    turn = itertools.cycle(HOSTILE)
    for path, key in itertools.product(_paths(app, str(hub.run_a)), PARAMS):
        seen.extend(f"{path}?{key}={next(turn)}" for _ in range(2))
    for url in seen:
        r = client.get(url)
        assert r.status_code < 500, (url[:200], r.status_code, r.text[:300])
