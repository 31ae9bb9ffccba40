"""perflab load against real servers: nginx and the fault-injecting test server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import psutil
import pytest
from tests._schemas import validate
from tests.conftest import wait_for_samples

from perflab.cli import main
from perflab.store import Store

SRC = str(Path(__file__).resolve().parents[3] / "src")

pytestmark = pytest.mark.integration


def load_json(capsys, *args: str) -> tuple[int, dict]:
    rc = main(["load", *args, "--json"])
    out = capsys.readouterr().out
    doc = json.loads(out)
    validate(doc, "load")
    return rc, doc


def test_closed_model_against_nginx_counts_every_response(nginx_url, store_path, capsys):
    rc, doc = load_json(capsys, nginx_url, "-c", "4", "-d", "1", "--workers", "2",
                        "--store", str(store_path))
    assert rc == 0
    assert doc["model"] == "closed"
    assert doc["requests"] > 100
    assert doc["status_codes"] == {"200": doc["requests"]}
    assert doc["errors"] == {}
    assert doc["latency_ms"] == doc["service_time_ms"]
    assert doc["phases_ms"]["connect"]["count"] >= 4
    assert abs(doc["rps"] * doc["duration_s"] - doc["requests"]) < 1


def test_request_count_is_exact(nginx_url, store_path, capsys):
    rc, doc = load_json(capsys, nginx_url, "-c", "3", "-n", "500", "--workers", "2",
                        "--store", str(store_path))
    assert rc == 0
    assert doc["requests"] == 500


def test_store_holds_the_run_its_series_and_histogram(nginx_url, store_path, capsys):
    rc, doc = load_json(capsys, nginx_url, "-c", "2", "-d", "2", "--workers", "1",
                        "--store", str(store_path), "--name", "smoke")
    assert rc == 0
    with Store.open(store_path) as store:
        run = store.run(doc["run_id"])
        assert (run.kind, run.name, run.status) == ("load", "smoke", "ok")
        assert run.meta["summary"]["requests"] == doc["requests"]
        names = {(s.name, tuple(sorted(s.labels.items()))) for s in store.series(run.id)}
        assert ("load.rps", ()) in names
        assert ("load.errors_per_s", ()) in names
        assert ("load.connections", ()) in names
        for q in ("0.5", "0.9", "0.99", "0.999"):
            assert ("load.latency_ms", (("quantile", q),)) in names
        rps = store.samples(store.series(run.id, name="load.rps")[0].id)
        assert len(rps) == 2
        assert sum(v for _, v in rps) == pytest.approx(doc["requests"], rel=0.01)
        kinds = {(a.kind, a.name) for a in store.artifacts(run.id)}
        assert ("histogram", "latency") in kinds
        assert ("hgrm", "latency.hgrm") in kinds


def test_every_second_shows_the_connections_it_had(nginx_url, store_path, capsys):
    """The last second is taken after the connections close: it still shows the ones it had
    (a one-second test used to record 0 connections, and the demo's lock finding broke)."""
    rc, doc = load_json(capsys, nginx_url, "-c", "3", "-d", "1", "--workers", "1",
                        "--store", str(store_path))
    assert rc == 0
    with Store.open(store_path) as store:
        conns = store.samples(store.series(doc["run_id"], name="load.connections")[0].id)
        assert conns
        assert [v for _, v in conns] == [3.0] * len(conns)


def test_open_model_holds_the_rate_and_reports_service_time(test_server, store_path, capsys):
    srv = test_server()
    rc, doc = load_json(capsys, srv.url, "--rate", "400", "-d", "2", "-c", "4",
                        "--workers", "2", "--store", str(store_path))
    assert rc == 0
    assert doc["model"] == "open"
    assert doc["target_rate"] == 400
    assert doc["requests"] == pytest.approx(800, abs=8)
    assert doc["service_time_ms"]["count"] == doc["requests"]
    assert doc["rps"] * doc["duration_s"] == pytest.approx(doc["requests"], abs=1)
    assert (doc["scheduled"], doc["dropped"], doc["target_reached"]) == (800, 0, True)
    assert doc["lateness_ms"]["count"] == 800


def test_a_stalling_server_shows_in_latency_not_hidden_by_coordinated_omission(
        test_server, store_path, capsys):
    """wrk2's demonstration: latency from the intended start sees the stall."""
    srv = test_server("--stall-every", "1.5s", "--stall-for", "0.5s")
    rc, doc = load_json(capsys, srv.url, "--rate", "200", "-d", "3", "-c", "4",
                        "--max-connections", "4", "--workers", "1",
                        "--store", str(store_path))
    assert rc == 0
    assert doc["latency_ms"]["p99"] >= 0.8 * 500
    assert doc["service_time_ms"]["p50"] < 50
    assert doc["late"] > 0  # started late: every connection was held by the stall


def test_stages_ramp_the_rate_and_are_stored_as_events(test_server, store_path, capsys):
    srv = test_server()
    rc, doc = load_json(capsys, srv.url, "--stages", "1s:100,1s:300", "--workers", "1",
                        "--store", str(store_path))
    assert rc == 0
    # arrivals: ramp 0->100 over 1 s (50) + ramp 100->300 over 1 s (200)
    assert doc["requests"] == pytest.approx(250, abs=3)
    with Store.open(store_path) as store:
        events = store.events(doc["run_id"])
    assert [e.kind for e in events] == ["stage", "stage"]
    assert events[1].attrs["target_rate"] == 300
    assert events[0].end_ns == events[1].ts_ns


def test_tls_against_a_self_signed_server(test_server, tls_cert, store_path, capsys):
    srv = test_server("--tls", *tls_cert, scheme="https")
    rc, doc = load_json(capsys, srv.url + "/", "-c", "2", "-n", "200", "--workers", "1",
                        "--store", str(store_path))
    assert rc == 0
    assert doc["status_codes"] == {"200": 200}
    assert doc["phases_ms"]["tls"]["count"] >= 2


def test_https_to_a_plain_port_is_a_tls_error_exit_3(test_server, store_path, capsys):
    srv = test_server()
    rc = main(["load", srv.url.replace("http://", "https://"), "-d", "1",
               "--store", str(store_path)])
    assert rc == 3
    assert "TLS handshake" in capsys.readouterr().err


def test_server_closing_mid_response_counts_resets(test_server, store_path, capsys):
    srv = test_server("--close-mid-response")
    rc, doc = load_json(capsys, srv.url, "-c", "2", "-d", "1", "--workers", "1",
                        "--store", str(store_path))
    assert rc == 0
    assert doc["errors"].get("reset", 0) > 0
    assert doc["requests"] == 0
    assert doc["error_rate"] == 1.0


def test_a_server_speaking_garbage_counts_protocol_errors(test_server, store_path, capsys):
    srv = test_server("--garbage")
    _, doc = load_json(capsys, srv.url, "-c", "1", "-d", "1", "--workers", "1",
                       "--store", str(store_path))
    assert doc["errors"].get("protocol", 0) > 0


def test_refused_port_unknown_host_and_bad_url_are_clear_errors(store_path, capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        assert main(["load", f"http://127.0.0.1:{port}/", "--store", str(store_path)]) == 3
    assert "connection refused" in capsys.readouterr().err
    assert main(["load", "http://no-such-host.invalid/", "--allow-remote",
                 "--store", str(store_path)]) == 3
    assert "cannot resolve host" in capsys.readouterr().err
    assert main(["load", "http://no-such-host.invalid/", "--store", str(store_path)]) == 2
    assert "not this machine" in capsys.readouterr().err


@pytest.mark.parametrize("url", ["http://example.com/", "http://10.1.2.3:8080/",
                                 "https://[2001:db8::1]/"])
def test_a_target_off_this_machine_is_refused_before_any_packet(url, store_path, capsys):
    """Without --allow-remote, load goes to loopback only; nothing is resolved or sent."""
    assert main(["load", url, "-d", "1s", "--store", str(store_path)]) == 2
    assert "not this machine" in capsys.readouterr().err
    assert main(["load", "127.0.0.1:8080", "--store", str(store_path)]) == 2
    assert "invalid URL" in capsys.readouterr().err


def test_thresholds_exit_99_and_write_junit(test_server, store_path, tmp_path, capsys):
    srv = test_server()
    junit = tmp_path / "junit.xml"
    rc = main(["load", srv.url, "-c", "2", "-d", "1", "--workers", "1",
               "--threshold", "p99<10s", "--threshold", "rps>10000000",
               "--threshold", "error_rate<1%", "--junit", str(junit),
               "--store", str(store_path)])
    captured = capsys.readouterr()
    assert rc == 99
    assert "✓ p99<10s" in captured.out
    assert "✗ rps>10000000" in captured.out
    assert "1 of 3 thresholds failed: rps>10000000" in captured.err
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("3", "1")
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failed == ["rps>10000000"]
    assert "** run failed: 1 of 3 thresholds missed **" in captured.out
    with Store.open(store_path) as store:
        (run,) = store.runs()
        assert run.status == "failed"  # a run that missed a threshold is not "ok"


def test_an_overloaded_generator_ends_on_time_bounded_and_says_so(nginx_url, store_path):
    """--rate far beyond what one worker can send: the test still ends at its duration plus
    the drain, its memory stays bounded (arrivals are produced lazily), the summary says the
    target was not reached, the run is stored failed (exit 1; 99 with thresholds), and no
    asyncio warning reaches the user."""
    env = dict(os.environ, PYTHONPATH=SRC)
    proc = subprocess.run(
        [sys.executable, "-m", "perflab", "load", nginx_url, "--rate", "10000000", "-d", "2s",
         "--drain", "0.5s", "--workers", "1", "--store", str(store_path), "--json"],
        capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr
    assert "Task was destroyed" not in proc.stderr
    assert "Task exception was never retrieved" not in proc.stderr
    assert "target rate not reached" in proc.stderr
    doc = json.loads(proc.stdout)
    validate(doc, "load")
    assert doc["status"] == "failed"
    assert doc["target_reached"] is False
    assert doc["scheduled"] == 20_000_000
    assert doc["dropped"] == doc["scheduled"] - doc["lateness_ms"]["count"] > 19_000_000
    assert doc["duration_s"] <= 2.5 + 0.1  # the window plus the drain, as measured by itself
    assert doc["rps"] * doc["duration_s"] == pytest.approx(doc["requests"], abs=1)
    assert doc["worker_max_rss_bytes"] < 200 * 2**20  # 20 M arrivals materialised: > 500 MiB
    with Store.open(store_path) as store:
        assert store.run(doc["run_id"]).status == "failed"
    proc = subprocess.run(
        [sys.executable, "-m", "perflab", "load", nginx_url, "--rate", "10000000", "-d", "1s",
         "--workers", "1", "--threshold", "p99<10s", "--store", str(store_path)],
        capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 99, proc.stderr
    assert "** target rate not reached: achieved" in proc.stdout
    assert "never sent (dropped)" in proc.stdout


def test_abort_on_fail_stops_early_and_keeps_the_run(test_server, store_path, capsys):
    srv = test_server()
    rc, doc = load_json(capsys, srv.url, "-c", "2", "-d", "20", "--workers", "1",
                        "--threshold", "p50<1us", "--abort-on-fail",
                        "--store", str(store_path))
    assert rc == 99
    assert doc["status"] == "failed"
    assert doc["duration_s"] < 5
    with Store.open(store_path) as store:
        assert store.run(doc["run_id"]).status == "failed"


def test_hgrm_file_is_written(test_server, store_path, tmp_path, capsys):
    srv = test_server()
    hgrm = tmp_path / "lat.hgrm"
    rc = main(["load", srv.url, "-c", "2", "-n", "300", "--workers", "1", "--hgrm", str(hgrm),
               "--store", str(store_path)])
    assert rc == 0
    text = hgrm.read_text()
    assert text.splitlines()[0].split() == ["Value", "Percentile", "TotalCount",
                                            "1/(1-Percentile)"]
    assert "Total count    =          300]" in text


def test_watch_records_the_target_process_alongside(test_server, store_path, capsys):
    srv = test_server()
    rc, doc = load_json(capsys, srv.url, "-c", "2", "-d", "2", "--workers", "1",
                        "--watch", str(srv.pid), "--store", str(store_path))
    assert rc == 0
    with Store.open(store_path) as store:
        cpu = store.series(doc["run_id"], name="process.cpu.pct")
        assert [s.labels["pid"] for s in cpu] == [str(srv.pid)]
        # one a second while the 2 s test runs (a busy machine may shift a tick across an edge)
        assert 1 <= len(store.samples(cpu[0].id)) <= 3
        assert store.series(doc["run_id"], name="process.rss_bytes")


def test_compare_two_runs(test_server, store_path, capsys):
    srv = test_server()
    ids = []
    for c in ("1", "4"):
        _, doc = load_json(capsys, srv.url, "-c", c, "-n", "300", "--workers", "1",
                           "--store", str(store_path))
        ids.append(str(doc["run_id"]))
    assert main(["load", "compare", *ids, "--store", str(store_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    validate(doc, "load-compare")
    rows = {r["metric"]: r for r in doc["rows"]}
    assert rows["requests"]["a"] == rows["requests"]["b"] == 300
    assert rows["requests"]["delta"] == 0
    assert main(["load", "compare", *ids, "--store", str(store_path)]) == 0
    text = capsys.readouterr().out
    assert "latency p99" in text
    assert main(["load", "compare", ids[0], "999", "--store", str(store_path)]) == 2


def test_ctrl_c_stops_cleanly_prints_and_stores_an_aborted_run(test_server, store_path):
    srv = test_server()
    env = dict(os.environ, PYTHONPATH=SRC)
    proc = subprocess.Popen(
        [sys.executable, "-m", "perflab", "load", srv.url, "-c", "2", "-d", "30",
         "--workers", "2", "--store", str(store_path), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True)
    wait_for_samples(store_path, "load.rps")  # requests are being sent and recorded
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: the whole process group
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    doc = json.loads(out)
    assert doc["status"] == "aborted"
    assert doc["requests"] > 0
    assert 0.5 < doc["duration_s"] < 10
    with Store.open(store_path) as store:
        run = store.run(doc["run_id"])
        assert run.status == "aborted"
        assert store.series(run.id, name="load.rps")


def test_ctrl_c_in_the_open_model_owes_only_the_arrivals_due_by_then(test_server, store_path):
    """Stopped by the user, an open-model test is aborted (130), not failed: the arrivals after
    the stop were never due, so they are not "never sent"."""
    srv = test_server()
    env = dict(os.environ, PYTHONPATH=SRC)
    proc = subprocess.Popen(
        [sys.executable, "-m", "perflab", "load", srv.url, "--rate", "100", "-d", "60",
         "--store", str(store_path), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True)
    wait_for_samples(store_path, "load.rps")
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    doc = json.loads(out)
    assert doc["status"] == "aborted"
    assert doc["scheduled"] < 6000  # not the whole minute's
    # at most a few due at the very moment of the stop (a busy machine wakes the scheduler
    # late), never the rest of the minute
    assert doc["dropped"] < 50


def test_requests_beyond_the_timeout_count_as_timeouts(test_server, store_path, capsys):
    srv = test_server("--stall-every", "10s", "--stall-for", "9.5s")  # stalled from 0.5 s on
    time.sleep(0.6)
    _, doc = load_json(capsys, srv.url, "-c", "2", "-d", "1.5", "--timeout", "200ms",
                       "--workers", "1", "--store", str(store_path))
    assert doc["errors"].get("timeout", 0) >= 2
    assert doc["requests"] == 0


def test_think_time_paces_each_connection(test_server, store_path, capsys):
    srv = test_server()
    _, doc = load_json(capsys, srv.url, "-c", "2", "-d", "1", "--think-time", "100ms",
                       "--workers", "1", "--store", str(store_path))
    assert 10 <= doc["requests"] <= 22  # 2 connections x ~10 per second


def test_method_headers_and_body_reach_the_server(test_server, store_path, tmp_path, capsys):
    srv = test_server()
    body = tmp_path / "login.json"
    body.write_text('{"user": "alice"}')
    _, doc = load_json(capsys, srv.url + "/login", "-m", "POST", "--body-file", str(body),
                       "-n", "20", "-c", "2", "--workers", "1", "--store", str(store_path))
    assert doc["status_codes"] == {"200": 20}
    _, doc = load_json(capsys, srv.url + "/me", "-H", "Authorization: Bearer t0k3n", "-n", "20",
                       "-c", "2", "--workers", "1", "--store", str(store_path))
    assert doc["status_codes"] == {"200": 20}
    _, doc = load_json(capsys, srv.url + "/me", "-n", "20", "-c", "2", "--workers", "1",
                       "--store", str(store_path))
    assert doc["status_codes"] == {"401": 20}
    assert doc["error_rate"] == 1.0


def test_head_responses_end_with_their_headers(nginx_url, store_path, capsys):
    """nginx sends Content-Length on HEAD; no body follows and none must be waited for."""
    _, doc = load_json(capsys, nginx_url, "-m", "HEAD", "-n", "200", "-c", "2",
                       "--timeout", "2s", "--workers", "1", "--store", str(store_path))
    assert doc["status_codes"] == {"200": 200}
    assert doc["errors"] == {}
    assert doc["latency_ms"]["max"] < 1000


def test_key_space_bounds_the_keys_to_a_working_set(nginx_url, tmp_path, store_path, capsys):
    """nginx has /k0../k2 only: with --key-space 3 every request finds its key, across workers
    too; without it, keys run on past k2 and miss."""
    www = tmp_path / "nginx" / "www"
    for i in range(3):
        (www / f"k{i}").write_text(f"value {i}\n")
    _, doc = load_json(capsys, nginx_url + "k{n}", "-n", "60", "-c", "2", "--key-space", "3",
                       "--workers", "2", "--store", str(store_path))
    assert doc["status_codes"] == {"200": 60}
    _, doc = load_json(capsys, nginx_url + "k{n}", "-n", "60", "-c", "2", "--workers", "1",
                       "--store", str(store_path))
    assert doc["status_codes"] == {"200": 3, "404": 57}


def test_a_worker_that_dies_is_reported_and_the_rest_is_kept(test_server, store_path):
    srv = test_server()
    env = dict(os.environ, PYTHONPATH=SRC)
    proc = subprocess.Popen(
        [sys.executable, "-m", "perflab", "load", srv.url, "-c", "2", "-d", "4",
         "--workers", "2", "--store", str(store_path), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 10
    workers: list[psutil.Process] = []
    while len(workers) < 2 and time.monotonic() < deadline:
        workers = [c for c in psutil.Process(proc.pid).children()
                   if "perflab.load._worker" in " ".join(c.cmdline())]
        time.sleep(0.1)
    wait_for_samples(store_path, "load.rps")  # both are measuring (a second is stored)
    workers[-1].kill()  # one of our own worker processes, by its PID
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "exited before reporting its end" in err
    doc = json.loads(out)
    validate(doc, "load")
    assert doc["status"] == "failed"
    assert len(doc["warnings"]) == 1
    assert "exited before reporting its end" in doc["warnings"][0]
    assert doc["requests"] > 0
