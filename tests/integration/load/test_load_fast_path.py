"""The closed model's fast path against real servers: exact figures at full speed, and each bad
case (a connection per request, a slow server, a server that dies) handled as before."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest
from tests.conftest import wait_for_samples
from tests.integration.load.test_load_engine import SRC, load_json

from perflab.cli import main
from perflab.load import Interval, LoadRunner, RunOptions
from perflab.load._run import build_config
from perflab.store import Store

pytestmark = pytest.mark.integration


def test_every_response_is_in_the_histograms_and_in_its_second(nginx_url):
    """Two workers against nginx at full speed: the seconds add up to the test, response for
    response, and their histograms merge into the test's histogram count for count."""
    cfg, _ = build_config(RunOptions(url=nginx_url, connections=8, duration_s=2, workers=2))
    seconds: list[Interval] = []

    def keep(iv: Interval) -> bool:
        seconds.append(iv)
        return False  # never abort

    result = LoadRunner(cfg, on_interval=keep).run()
    assert result.requests > 1000
    assert result.status == "ok"
    assert sum(iv.completed for iv in seconds) == result.requests == result.latency.total
    assert sum(sum(iv.codes.values()) for iv in seconds) == result.requests
    merged = seconds[0].latency.copy()
    for iv in seconds[1:]:
        merged.merge(iv.latency)
    assert (merged.counts == result.latency.counts).all()
    assert (merged.min, merged.max, merged.mean) == (
        result.latency.min, result.latency.max, result.latency.mean)
    assert result.phases["ttfb"].total == result.requests
    assert result.phases["connect"].total == 8
    assert not result.errors


def test_a_connection_per_request_is_counted_and_replaced(test_server, store_path, capsys):
    """`Connection: close` on every answer: each is counted, and its connection replaced."""
    srv = test_server("--close-after-response")
    rc, doc = load_json(capsys, srv.url, "-c", "2", "-d", "1", "--workers", "1",
                        "--store", str(store_path))
    assert rc == 0
    assert doc["requests"] > 20
    assert doc["errors"] == {}
    assert doc["status_codes"] == {"200": doc["requests"]}
    assert doc["phases_ms"]["connect"]["count"] >= doc["requests"]


def test_a_slow_server_is_measured_not_counted_as_failing(test_server, store_path, capsys):
    """Every answer held up to 0.4 s in each second: the latency shows it, nothing fails."""
    srv = test_server("--stall-every", "1s", "--stall-for", "0.4s")
    rc, doc = load_json(capsys, srv.url, "-c", "2", "-d", "2", "--workers", "1",
                        "--store", str(store_path))
    assert rc == 0
    assert doc["errors"] == {}
    assert doc["requests"] > 10
    assert doc["latency_ms"]["max"] >= 100


def test_a_server_that_dies_mid_test_leaves_its_answers_and_refusals(test_server, store_path):
    """The server is killed after a second: what it answered is kept, the requests it held
    are resets, and reconnecting to the closed port is refused with a growing pause (dozens
    of refusals, not a busy loop)."""
    srv = test_server()
    env = dict(os.environ, PYTHONPATH=SRC)
    proc = subprocess.Popen(
        [sys.executable, "-m", "perflab", "load", srv.url, "-c", "2", "-d", "3",
         "--workers", "1", "--store", str(store_path), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    wait_for_samples(store_path, "load.rps")  # it is under way
    srv.proc.kill()  # our own test server, by its PID
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    doc = json.loads(out)
    assert doc["requests"] > 0
    assert 0 < doc["errors"].get("refused", 0) < 200
    assert doc["status"] == "ok"


def test_refused_input_leaves_no_worker_behind(store_path, capsys):
    """`perflab load` starts its workers before it checks the input: a refused target (exit
    3) or a bad threshold (exit 2) terminates and reaps them."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        assert main(["load", f"http://127.0.0.1:{port}/", "--workers", "2",
                     "--store", str(store_path)]) == 3
    assert main(["load", "http://127.0.0.1:9/", "--threshold", "p99<20xs",
                 "--store", str(store_path)]) == 2
    capsys.readouterr()
    workers = [c for c in psutil.Process().children(recursive=True)
               if "perflab.load._worker" in " ".join(c.cmdline())]
    assert workers == []
    with Store.open(store_path) as store:
        assert store.runs() == []


def test_ctrl_c_while_the_workers_start_is_quiet(nginx_url, store_path):
    """Ctrl-C reaches the command, not its workers (their own process group): interrupted
    while they are still importing, it exits 130 with one line and no traceback."""
    env = dict(os.environ, PYTHONPATH=SRC)
    proc = subprocess.Popen(
        [sys.executable, "-m", "perflab", "load", nginx_url, "-d", "5", "--workers", "2",
         "--store", str(store_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
            "perflab.load._worker" in " ".join(c.cmdline())
            for c in psutil.Process(proc.pid).children()):
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: the foreground process group
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted" in err
