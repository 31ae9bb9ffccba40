"""The demo service's endpoints and fault switches, served in-process on a loopback port; the
traffic through the load engine; the plan's shape."""

from __future__ import annotations

import http.client
import json
import threading
import time

import pytest

from perflab.demo import service
from perflab.demo._plan import LOCK_LEVELS, PHASE_SHARES, plan
from perflab.demo._traffic import MAX_REQUESTS, Stream, drive, options
from perflab.demo.orchestrate import _write_idle_endpoints
from perflab.load import load_view
from perflab.store import BatchWriter, Store

S = 1_000_000_000


@pytest.fixture
def server():
    srv = service.make_server(0, service.Faults())
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    t.join(5)


def get(srv, path, method="GET", body=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=5)
    try:
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_healthz_and_work(server):
    assert get(server, "/healthz")[1]["status"] == "ok"
    status, doc = get(server, "/work")
    assert status == 200
    assert doc["items"] == 20


def test_faults_switch_on_and_off_by_query_and_by_post(server):
    assert get(server, "/admin/faults")[1] == {"faults": {"cpu": False, "lock": False,
                                                          "leak": False}}
    assert get(server, "/admin/faults?cpu=on&leak=true")[1]["faults"] == {
        "cpu": True, "lock": False, "leak": True}
    status, doc = get(server, "/admin/faults", "POST", json.dumps({"cpu": False, "lock": True}))
    assert status == 200
    assert doc["faults"] == {"cpu": False, "lock": True, "leak": True}


@pytest.mark.parametrize(("request_", "status", "needle"), [
    (("/admin/faults?gpu=on", "GET", None), 400, "unknown fault 'gpu'"),
    (("/admin/faults?cpu=maybe", "GET", None), 400, "must be on or off"),
    (("/admin/faults", "POST", "[1]"), 400, "JSON object"),
    (("/admin/faults", "POST", "{not json"), 400, ""),
    (("/hash?n=abc", "GET", None), 400, "must be an integer"),
    (("/hash?n=0", "GET", None), 400, "between 1 and"),
    (("/cache", "GET", None), 400, "missing parameter key"),
    (("/nowhere", "GET", None), 404, "no endpoint /nowhere"),
])
def test_bad_requests_get_a_json_error(server, request_, status, needle):
    got, doc = get(server, *request_)
    assert got == status
    assert needle in doc["error"]


def test_hash_costs_pure_python_cpu_only_when_the_cpu_fault_is_on(server):
    def cpu_of_one_request():
        # the server runs in this process: the request's CPU time is ours
        t0 = time.process_time()
        assert get(server, "/hash?n=1000000")[1]["rounds"] == 1000000
        return time.process_time() - t0

    quick = cpu_of_one_request()
    get(server, "/admin/faults?cpu=on")
    assert cpu_of_one_request() > 5 * quick
    assert service.checksum_slowly(b"\x01\x02", 3) == ((1 * 31 + 2) * 31 + 1)


def test_report_serialises_only_with_the_lock_fault(server):
    def elapsed(n):
        t0 = time.monotonic()
        threads = [threading.Thread(target=get, args=(server, "/report?ms=50")) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.monotonic() - t0

    parallel = elapsed(4)
    get(server, "/admin/faults?lock=on")
    serial = elapsed(4)
    assert serial >= 0.2  # one after the other: at least 4 x 50 ms, however fast the machine
    assert serial > parallel


def test_cache_is_bounded_until_the_leak_fault(server):
    for i in range(service.CACHE_ENTRIES + 10):
        get(server, f"/cache?key=k{i}&kib=1")
    assert get(server, "/cache?key=k0&kib=1")[1]["entries"] == service.CACHE_ENTRIES
    get(server, "/admin/faults?leak=on")
    for i in range(20):
        get(server, f"/cache?key=leak{i}&kib=1")
    _, doc = get(server, "/cache?key=leak0&kib=1")
    assert doc["hit"]
    assert doc["entries"] == service.CACHE_ENTRIES + 20


def test_parse_faults():
    assert service.parse_faults("cpu, leak") == service.Faults(cpu=True, leak=True)
    with pytest.raises(ValueError, match="unknown fault"):
        service.parse_faults("cpu,disk")


def _load_groups(store_path, run_id):
    with Store.open(store_path) as store:
        view = load_view(store, store.run(run_id))
        assert view is not None
        return {g["labels"]["endpoint"]: g for g in view["groups"]}, store.run(run_id)


def test_drive_runs_each_stream_through_the_load_engine_into_the_run(server, store_path):
    with Store.open(store_path) as store:
        run_id = store.create_run("demo", "demo").id
    drive(store_path, run_id, server.server_address[1],
          [Stream("/work", "/work", concurrency=2, rate=40, thresholds=("p90<5s",)),
           Stream("/cache", "/cache?key=k{n}&kib=1", concurrency=1, rate=20, key_space=3)],
          1.0, name="normal phase", stop=threading.Event())
    groups, run = _load_groups(store_path, run_id)
    assert run.status == "running"  # the demo's run: the tests do not end it
    assert 20 <= groups["/work"]["requests"] <= 42
    assert 10 <= groups["/cache"]["requests"] <= 21
    assert groups["/work"]["status_codes"] == {"200": groups["/work"]["requests"]}
    assert groups["/work"]["service_time_ms"] is not None  # paced: the open model
    assert [(t["threshold"], t["passed"], t["test"]) for t in groups["/work"]["thresholds"]] == [
        ("p90<5s", True, "normal phase")]
    assert get(server, "/cache?key=k2&kib=1")[1]["hit"]  # keys cycled in a space of 3
    with Store.open(store_path) as store:
        rps = store.series(run_id, name="load.rps", labels={"endpoint": "/work"})
        assert rps
        assert store.samples(rps[0].id)


def test_drive_targets_loopback_only():
    o = options(8080, Stream("/work", "/work", concurrency=2), 1.0, run_id=1, name="x")
    assert o.url == "http://127.0.0.1:8080/work"
    assert (o.rate, o.connections, o.requests, o.labels) == (None, 2, MAX_REQUESTS,
                                                              (("endpoint", "/work"),))


def test_setting_stop_ends_the_traffic_and_keeps_what_was_measured(server, store_path):
    with Store.open(store_path) as store:
        run_id = store.create_run("demo", "demo").id
    stop = threading.Event()
    threading.Timer(1.5, stop.set).start()
    began = time.monotonic()
    drive(store_path, run_id, server.server_address[1],
          [Stream("/work", "/work", concurrency=1)], 60.0, name="normal phase", stop=stop)
    assert time.monotonic() - began < 30  # not the minute asked for
    groups, _ = _load_groups(store_path, run_id)
    assert groups["/work"]["requests"] > 0


def test_idle_endpoints_get_measured_zeros_for_every_second(store):
    run = store.create_run("demo", "demo")
    writer = BatchWriter(store, run.id)
    t0 = 1_000 * S
    _write_idle_endpoints(writer, ["/c"], t0, t0 + 1_500_000_000)
    writer.flush()
    (rps,) = store.series(run.id, name="load.rps", labels={"endpoint": "/c"})
    assert [(int(t), v) for t, v in store.samples(rps.id)] == [(t0 + S, 0.0),
                                                                (t0 + 1_500_000_000, 0.0)]
    assert store.series(run.id, name="load.connections", labels={"endpoint": "/c"})


def test_plan_spends_the_duration_in_four_phases():
    phases = plan(40.0)
    assert [p.name for p in phases] == list(PHASE_SHARES)
    assert sum(p.seconds for p in phases) == pytest.approx(40.0)
    lock = phases[2]
    assert [s.streams[0].concurrency for s in lock.steps] == list(LOCK_LEVELS)
    assert all(s.streams[0].rate is None for s in lock.steps)  # closed model: queueing shows
    assert [p.faults for p in phases][1:] == [
        {"cpu": True, "lock": False, "leak": False},
        {"cpu": False, "lock": True, "leak": False},
        {"cpu": False, "lock": False, "leak": True}]
