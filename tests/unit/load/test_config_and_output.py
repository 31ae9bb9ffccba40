"""Targets, requests on the wire, the end summary, compare, and the CLI's quick form."""

import socket
import ssl
from collections import Counter

import httptools
import pytest

from perflab.cli import main
from perflab.cli.load import quiet_blas
from perflab.errors import InvalidValue
from perflab.load._config import LoadConfig, RequestSpec, parse_target
from perflab.load._engine import classify
from perflab.load._hdr import Histogram
from perflab.load._result import LoadResult
from perflab.load._summary import render_summary


def test_parse_target():
    t = parse_target("https://127.0.0.1:8443/api?x=1")
    assert (t.scheme, t.host, t.port, t.path, t.addr, t.tls) == (
        "https", "127.0.0.1", 8443, "/api?x=1", "127.0.0.1", True)
    assert t.host_header == "127.0.0.1:8443"
    assert parse_target("http://localhost/").host_header == "localhost"


@pytest.mark.parametrize("url", ["127.0.0.1:80", "ftp://x/", "http://", "http://h:99999/"])
def test_malformed_urls_are_usage_errors(url):
    with pytest.raises(InvalidValue) as exc:
        parse_target(url, resolve=False)
    assert exc.value.exit_code == 2


def test_request_bytes():
    t = parse_target("http://127.0.0.1:8080/p", resolve=False)
    assert RequestSpec().encode(t) == (
        b"GET /p HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: perflab\r\n\r\n")
    post = RequestSpec("POST", (("X-A", "1"), ("Host", "example")), b"{}").encode(t)
    assert post == (b"POST /p HTTP/1.1\r\nUser-Agent: perflab\r\nX-A: 1\r\nHost: example\r\n"
                    b"Content-Length: 2\r\n\r\n{}")


def test_error_kinds():
    assert classify(ConnectionRefusedError()) == "refused"
    assert classify(ConnectionResetError()) == "reset"
    assert classify(None) == "reset"
    assert classify(socket.gaierror()) == "dns"
    assert classify(ssl.SSLError()) == "tls"
    assert classify(TimeoutError()) == "timeout"
    assert classify(httptools.HttpParserError()) == "protocol"
    assert classify(OSError()) == "other"


def result(open_model: bool) -> LoadResult:
    cfg = LoadConfig(parse_target("http://127.0.0.1:8080/", resolve=False), connections=50,
                     rate=1000.0 if open_model else None, duration_s=10.0, workers=2)
    lat = Histogram()
    lat.record_many([1000] * 90 + [20000] * 10)
    svc = None
    if open_model:
        svc = Histogram()
        svc.record_many([500] * 100)
    r = LoadResult(cfg, 0, 10.0, "ok", lat, svc, Counter({200: 95, 503: 5}),
                   Counter({"reset": 2}))
    if open_model:
        r.scheduled, r.late, r.dropped = 10_000, 3, 9_898
        r.lateness = Histogram()
        r.lateness.record_many([10] * 99 + [2000])
    r.run_id = 7
    r.thresholds = [{"threshold": "p99<10ms", "metric": "p99", "op": "<", "limit": 10.0,
                     "actual": 20.0, "unit": "ms", "passed": False}]
    return r


def test_summary_of_a_closed_test_reads_like_wrk():
    text = render_summary(result(open_model=False))
    assert text.splitlines() == [
        "perflab load  http://127.0.0.1:8080/  (closed model, 50 connections, 2 workers)",
        "",
        "  requests   100 in 10.00s   10.0 req/s   7 failed (6.86%)",
        ("  latency    p50   1.00ms  p90   1.00ms  p99   20.0ms  p99.9   20.0ms  max   20.0ms"
        "  mean   2.90ms"),
        "  status     200: 95  503: 5",
        "  errors     reset: 2",
        "",
        "  thresholds",
        "    ✗ p99<10ms                 20.0ms",
        "",
        "  stored as run 7 (perflab show 7)",
    ]


def test_summary_of_an_open_test_shows_service_time_the_schedule_and_its_lateness():
    text = render_summary(result(open_model=True))
    assert "(open model, target 1.00k/s, up to 500 connections, 2 workers)" in text
    assert "(from intended start)" in text
    assert "  service    p50    500µs" in text
    assert ("  schedule   10,000 arrivals: 102 started (3 late by > 1ms), 9,898 never sent "
            "(dropped)") in text
    assert "  lateness   p50   10.0µs" in text


def test_requests_in_the_summary_add_up_to_the_rate_and_duration():
    """One definition: rps = requests / duration_s, in the summary and the JSON alike."""
    r = result(open_model=True)
    r.duration_s = 2.0
    doc = r.to_json()
    assert doc["rps"] * doc["duration_s"] == pytest.approx(doc["requests"])
    assert "  requests   100 in 2.00s   50.0 req/s" in render_summary(r)


def test_an_open_test_that_dropped_its_arrivals_did_not_reach_its_target():
    r = result(open_model=True)
    assert r.target_reached is False
    assert r.to_json()["target_reached"] is False
    r.dropped = 10  # 0.1 % of 10,000
    assert r.target_reached is True
    assert result(open_model=False).target_reached is None


def test_json_has_the_documented_keys():
    doc = result(open_model=True).to_json()
    for key in ("requests", "duration_s", "rps", "latency_ms", "service_time_ms",
                "status_codes", "errors", "late", "dropped", "lateness_ms", "thresholds"):
        assert key in doc
    for key in ("p50", "p90", "p99", "p999", "max", "mean"):
        assert key in doc["latency_ms"]
    assert doc["error_rate"] == pytest.approx(7 / 102)
    assert doc["status_codes"] == {"200": 95, "503": 5}


def test_load_url_is_short_for_load_run_url(capsys, tmp_path):
    store = str(tmp_path / "s.db")
    assert main(["load", "htp:/x", "--store", store]) == 2
    assert "invalid URL 'htp:/x'" in capsys.readouterr().err
    assert main(["load", "-c", "5", "htp:/y", "--store", store]) == 2
    assert "invalid URL 'htp:/y'" in capsys.readouterr().err
    assert main(["load", "compare", "1", "2", "--store", store]) == 2
    assert "no store at" in capsys.readouterr().err
    assert main(["load", "run", "--store", store]) == 2
    assert "give a URL or a scenario file" in capsys.readouterr().err


def test_the_load_command_keeps_openblas_to_one_thread_unless_told():
    """perflab load's numpy never calls BLAS: OpenBLAS's thread per core, started at numpy's
    import during the test and joined at exit, only took CPU and wall time from the test.
    A user's own setting stands."""
    environ: dict[str, str] = {}
    quiet_blas(environ)
    assert environ == {"OPENBLAS_NUM_THREADS": "1"}
    chosen = {"OPENBLAS_NUM_THREADS": "4"}
    quiet_blas(chosen)
    assert chosen == {"OPENBLAS_NUM_THREADS": "4"}
