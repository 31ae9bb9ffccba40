"""`perflab load --cluster` on a real Dask cluster: a `dask scheduler` and `dask worker`
processes on loopback (subprocesses, bounded, stopped after the test), against perflab's test
server. The tests pin the exact split of the open model's arrivals, the merged run, the
scenario files travelling with the tasks, Ctrl-C stopping every task, and a worker killed
mid-test reported as a missing share while the others are merged."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator

import psutil
import pytest
from tests._targets import DaskCluster, dask_cluster
from tests.conftest import wait_for
from tests.integration.load.conftest import _env

from perflab.load import RunOptions, execute
from perflab.store import Store

pytestmark = pytest.mark.integration

_START_TIMEOUT_S = 180.0  # a cold worker on a loaded 2-core machine takes seconds


@pytest.fixture(scope="module")
def cluster3(tmp_path_factory) -> Iterator[DaskCluster]:
    with dask_cluster(3, tmp_path_factory.mktemp("dask"), env=_env(),
                      timeout_s=_START_TIMEOUT_S) as c:
        yield c


def _sending(cluster: DaskCluster, url: str) -> bool:
    """Every Dask worker has a load process connected to the target: the test has started."""
    port = int(url.rsplit(":", 1)[1])

    def connected(p: psutil.Process) -> bool:
        with contextlib.suppress(psutil.Error):
            return any(c.raddr and c.raddr.port == port for c in p.net_connections("tcp"))
        return False

    return all(any(connected(p) for p in cluster.load_processes(w)) for w in cluster.workers)


def _perflab(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "perflab", *args], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen[str], timeout_s: float = 240.0) -> tuple[int, dict, str]:
    out, err = proc.communicate(timeout=timeout_s)
    assert "Traceback" not in err, err
    return proc.returncode, json.loads(out), err


def test_open_model_is_split_exactly_and_merged_into_one_run(cluster3, test_server,
                                                            store_path):
    """300/s for 3 s on 3 Dask workers: the 900 arrivals are scheduled exactly once in all;
    one run holds the merged histogram, per-second series and the thresholds, evaluated on
    the whole."""
    srv = test_server()
    proc = _perflab("load", srv.url + "/", "--rate", "300", "-d", "3s", "--cluster",
                    cluster3.address, "--threshold", "error_rate<1%", "--threshold",
                    "p99<10s", "--store", str(store_path), "--json")
    code, doc, err = _finish(proc)
    assert code == 0, err
    assert doc["schema"] == "perflab.load/5"
    assert doc["cluster"] == {"address": cluster3.address, "dask_workers": 3, "shares": 3,
                              "partial": False, "missing": []}
    assert doc["scheduled"] == 900  # each of the schedule's arrivals in exactly one share
    assert doc["requests"] + doc["dropped"] + doc["unfinished"] + sum(
        doc["errors"].values()) == 900
    assert doc["latency_ms"]["count"] == doc["requests"]
    assert [t["passed"] for t in doc["thresholds"]] == [True, True]
    with Store.open(str(store_path)) as store:
        run = store.run(doc["run_id"])
        assert run.meta["cluster"] == cluster3.address
        assert run.meta["summary"]["cluster"]["partial"] is False
        names = {s.name for s in store.series(run.id)}
    assert {"load.rps", "load.latency_ms"} <= names


def test_scenario_and_its_data_travel_with_the_tasks(cluster3, test_server, tmp_path,
                                                     store_path):
    """The workers read the scenario and its CSV from the bytes sent with the task (their
    own temporary copy), not from the client's path."""
    srv = test_server()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "users.csv").write_text("user\nalice\nbob\n")
    scenario = tmp_path / "shop.py"
    scenario.write_text(textwrap.dedent(f"""
        from perflab.load import Scenario, Session, csv_feeder

        users = csv_feeder("data/users.csv")
        copied = "perflab-load-" in __file__ and "{tmp_path}" not in __file__
        api = Scenario("api", base_url="{srv.url}", rate=60)

        @api.task()
        async def login(s: Session) -> None:
            user = users.next()
            r = await s.post("/login", json={{"user": user["user"]}}, name="login")
            s.check("ran from the task's copy", copied)
            s.check("logged in", r.status == 200)
    """))
    code, doc, err = _finish(_perflab("load", "-s", str(scenario), "-d", "2s", "--cluster",
                                      cluster3.address, "--store", str(store_path), "--json"))
    assert code == 0, err
    assert doc["cluster"]["dask_workers"] == 3
    checks = doc["checks"]
    assert checks["ran from the task's copy"]["failed"] == 0
    assert checks["ran from the task's copy"]["passed"] > 0
    assert checks["logged in"]["failed"] == 0


def test_ctrl_c_stops_every_task(cluster3, test_server, store_path):
    """SIGINT to the client: every Dask worker's load processes stop, the run so far is
    merged and stored as aborted, exit 130."""
    srv = test_server()
    # the closed model: an open one stopped early also misses its target rate (exit 1, as a
    # local test does), which is not what this test is about
    proc = _perflab("load", srv.url + "/", "-c", "3", "--think-time", "20ms", "-d", "120s",
                    "--cluster", cluster3.address, "--store", str(store_path), "--json")
    try:
        wait_for(lambda: _sending(cluster3, srv.url), timeout_s=_START_TIMEOUT_S,
                 what="every Dask worker's load processes sending")
        proc.send_signal(signal.SIGINT)
        code, doc, err = _finish(proc, timeout_s=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert code == 130, (err, {k: doc[k] for k in ("status", "warnings", "scheduled", "dropped")})
    assert doc["status"] == "aborted"
    assert doc["duration_s"] < 60
    assert doc["cluster"]["partial"] is False
    wait_for(lambda: not any(cluster3.load_processes(w) for w in cluster3.workers),
             timeout_s=60, what="every load process to exit")


def test_a_worker_killed_mid_test_is_a_missing_share(test_server, tmp_path, store_path):
    """One of three Dask workers is killed during the test: its share is reported missing,
    the two others are merged, the run is marked partial, and its status follows the
    thresholds (passed here: exit 0)."""
    srv = test_server()
    with dask_cluster(3, tmp_path / "dask", env=_env(), timeout_s=_START_TIMEOUT_S) as cluster:
        proc = _perflab("load", srv.url + "/", "--rate", "90", "-d", "8s", "--cluster",
                        cluster.address, "--threshold", "error_rate<1%",
                        "--store", str(store_path), "--json")
        victim = cluster.workers[1]
        try:
            wait_for(lambda: _sending(cluster, srv.url), timeout_s=_START_TIMEOUT_S,
                     what="every Dask worker's load processes sending")
            victim.kill()
            code, doc, err = _finish(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert code == 0, err
    cl = doc["cluster"]
    assert cl["partial"] is True
    assert cl["dask_workers"] == 3
    assert len(cl["missing"]) == 1
    assert cl["missing"][0]["count"] == 1
    assert "left the cluster" in cl["missing"][0]["reason"]
    assert doc["status"] == "ok"
    assert doc["thresholds"][0]["passed"] is True
    assert doc["requests"] > 0
    assert doc["scheduled"] == 2 * 240  # the two surviving shares of 720 arrivals
    with Store.open(str(store_path)) as store:
        assert store.run(doc["run_id"]).meta["summary"]["cluster"]["partial"] is True


def test_a_scenario_raising_on_the_workers_is_shown_and_the_run_kept(cluster3, test_server,
                                                                     tmp_path, store_path):
    """A scenario's own bug, raised in the tasks' load processes: its traceback is shown,
    exit 2, and what was measured until then is merged and stored."""
    srv = test_server()
    scenario = tmp_path / "bug.py"
    scenario.write_text(textwrap.dedent(f"""
        from perflab.load import Scenario, Session

        api = Scenario("api", base_url="{srv.url}", rate=30)
        calls = 0

        @api.task()
        async def buggy(s: Session) -> None:
            global calls
            calls += 1
            await s.get("/", name="root")
            if calls > 10:
                raise KeyError("no such field")
    """))
    proc = _perflab("load", "-s", str(scenario), "-d", "20s", "--cluster", cluster3.address,
                    "--store", str(store_path), "--json")
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 2, err
    assert "KeyError: 'no such field'" in err
    assert "the run so far was kept" in err
    doc = json.loads(out)
    assert doc["requests"] > 0
    assert doc["cluster"]["dask_workers"] == 3


def test_local_cluster(test_server, store_path):
    """--cluster local:2 starts a local Dask cluster of two workers for the test (and stops
    it): the test is split over them and merged."""
    srv = test_server()
    code, doc, err = _finish(_perflab("load", srv.url + "/", "-c", "4", "-n", "400",
                                      "--cluster", "local:2", "--workers", "2",
                                      "--store", str(store_path), "--json"))
    assert code == 0, err
    assert doc["requests"] == 400  # the closed model's count, split over 4 processes
    assert doc["cluster"] == {"address": "local:2", "dask_workers": 2, "shares": 4,
                              "partial": False, "missing": []}


def test_a_scenario_failing_to_load_on_the_workers_is_its_error(cluster3, test_server,
                                                                tmp_path, store_path):
    """A scenario that loads here but raises on the workers (it reads something their
    machine lacks): the error the workers met, exit 2, no traffic."""
    srv = test_server()
    scenario = tmp_path / "there.py"
    scenario.write_text(textwrap.dedent(f"""
        from perflab.load import Scenario, Session

        if "perflab-load-" in __file__:  # the task's copy, on a Dask worker
            raise RuntimeError("missing on the worker")
        api = Scenario("api", base_url="{srv.url}", rate=30)

        @api.task()
        async def ping(s: Session) -> None:
            await s.get("/")
    """))
    proc = _perflab("load", "-s", str(scenario), "-d", "5s", "--cluster", cluster3.address,
                    "--store", str(store_path), "--json")
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 2, err
    assert "RuntimeError: missing on the worker" in err
    assert "there.py" in err  # the user's traceback, from the scenario file's frames
    assert out == ""


def test_stop_event_ends_a_distributed_test(cluster3, test_server, store_path):
    """execute(stop=...) (what the demo and the capacity search use) stops every task: the
    result is merged and marked aborted, long before the planned end."""
    srv = test_server()
    stop = threading.Event()
    timer = threading.Timer(8.0, stop.set)
    timer.start()
    try:
        outcome = execute(RunOptions(url=srv.url + "/", connections=3, duration_s=120.0,
                                     cluster=cluster3.address, store_path=str(store_path),
                                     live=False), stop=stop)
    finally:
        timer.cancel()
    assert outcome.result is not None
    assert outcome.interrupted
    assert outcome.result.status == "aborted"
    assert outcome.result.duration_s < 60
    assert outcome.result.cluster is not None
    assert outcome.result.cluster["dask_workers"] == 3


def test_a_cluster_without_workers_is_refused(test_server, tmp_path, store_path):
    """A scheduler with no worker: one error line and a hint, exit 3, no run created."""
    srv = test_server()
    with dask_cluster(0, tmp_path / "dask", env=_env(), timeout_s=_START_TIMEOUT_S) as cluster:
        proc = _perflab("load", srv.url + "/", "-d", "2s", "--cluster", cluster.address,
                        "--store", str(store_path))
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3
    assert err.startswith(f"perflab: error: the Dask cluster {cluster.address} has no workers")
    assert "hint: start some: dask worker" in err
    assert not store_path.exists()


def test_abort_on_fail_reads_the_merged_seconds_live(cluster3, test_server, store_path):
    """--abort-on-fail on a cluster: the tasks' seconds are merged as they come, the
    threshold (missed by every request) is evaluated on the whole, and every task is stopped
    long before the planned minute; exit 99."""
    srv = test_server()
    code, doc, err = _finish(_perflab(
        "load", srv.url + "/", "--rate", "60", "-d", "60s", "--cluster", cluster3.address,
        "--threshold", "p99<1us", "--abort-on-fail", "--store", str(store_path), "--json"))
    assert code == 99, err
    assert doc["status"] == "failed"
    assert "stopped early: a threshold failed (--abort-on-fail)" in doc["warnings"]
    assert doc["duration_s"] < 40
    assert doc["thresholds"][0]["passed"] is False
    assert doc["cluster"]["partial"] is False
