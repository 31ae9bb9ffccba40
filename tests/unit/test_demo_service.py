"""The demo service's endpoints and fault switches, served in-process on a loopback port; the
traffic driver's per-second buckets; the plan's shape."""

from __future__ import annotations

import http.client
import json
import threading
import time

import pytest

from perflab.demo import service
from perflab.demo._plan import LOCK_LEVELS, PHASE_SHARES, plan
from perflab.demo._traffic import Request, Stream, drive, per_second

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


def test_drive_paces_and_names_every_request(server):
    reqs = drive("127.0.0.1", server.server_address[1],
                 [Stream("/work", "/work", concurrency=2, rate=40),
                  Stream("/cache", "/cache?key=k{n}&kib=1", concurrency=1, rate=20,
                         key_space=3)],
                 1.0, stop=threading.Event())
    by = {e: [r for r in reqs if r.endpoint == e] for e in ("/work", "/cache")}
    assert 20 <= len(by["/work"]) <= 42
    assert 10 <= len(by["/cache"]) <= 21
    assert all(r.ok for r in reqs)
    assert get(server, "/cache?key=k2&kib=1")[1]["hit"]  # keys cycled in a space of 3


def test_drive_refuses_anything_but_loopback():
    with pytest.raises(ValueError, match="loopback"):
        drive("example.com", 80, [], 1.0, stop=threading.Event())


def test_per_second_buckets_by_start_time_with_a_short_last_bucket():
    t0 = 1_000 * S
    reqs = [Request("/a", t0 + 100_000_000, 0.010, ok=True),
            Request("/a", t0 + 200_000_000, 0.030, ok=True),
            Request("/a", t0 + 1_100_000_000, 0.020, ok=False),
            Request("/a", t0 + 1_300_000_000, 0.040, ok=True),
            Request("/b", t0 + 500_000_000, 0.001, ok=True)]
    buckets = per_second(reqs, t0, t0 + 1_500_000_000, {"/a": 4, "/b": 1}, endpoints=["/c"])
    a0, a1, b0, b1, c0, c1 = buckets
    assert (a0.endpoint, a0.count, a0.errors, a0.concurrency) == ("/a", 2, 0, 4)
    assert a0.latency_ms[0.5] == pytest.approx(20.0)
    assert a0.rps == pytest.approx(2.0)
    assert (a1.start_ns, a1.end_ns) == (t0 + S, t0 + 1_500_000_000)
    assert a1.rps == pytest.approx(4.0)  # 2 requests in half a second
    assert a1.errors_per_s == pytest.approx(2.0)
    assert a1.latency_ms[0.5] == pytest.approx(40.0)  # errors carry no latency
    assert (b0.endpoint, b0.count) == ("/b", 1)
    # seconds without requests are measured zeros, also for an endpoint not driven at all
    assert (b1.endpoint, b1.count, b1.rps, b1.latency_ms, b1.concurrency) == ("/b", 0, 0.0, {}, 1)
    assert (c0.endpoint, c0.count, c0.concurrency, c1.end_ns) == ("/c", 0, 0, t0 + 1_500_000_000)


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
