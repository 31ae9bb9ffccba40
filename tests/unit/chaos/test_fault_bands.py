"""Toxics on the timeline: a toxic added through the Toxiproxy API (here by toxiproxy-python)
is a ``chaos.fault`` band on a run, from its addition to its removal, with its parameters."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import toxiproxy
from tests._faults import Controller
from tests.conftest import wait_for
from tests.unit.chaos.conftest import wait_for_api
from toxiproxy.api import APIConsumer

from perflab.chaos import ChaosServer, FaultBands, running_server
from perflab.serving import listening_socket
from perflab.store import CHAOS_FAULT_EVENT, Event, Store
from perflab.testing import free_port


def _bands(store_path: Path, run_id: int) -> list[Event]:
    with Store.open(store_path) as store:
        return [e for e in store.events(run_id) if e.kind == CHAOS_FAULT_EVENT]


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "s.db"


@pytest.fixture
def bands(store_path: Path) -> FaultBands:
    return FaultBands(store_path)


@pytest.fixture
def chaos_server(bands: FaultBands) -> Iterator[ChaosServer]:
    """conftest's server (its ``client`` talks to this one), with the bands on a store."""
    sock = listening_socket("127.0.0.1", 0)
    with running_server(sock, bands=bands) as chaos:
        yield chaos
    sock.close()


def test_a_toxic_is_a_band_from_its_addition_to_its_removal(
        client: toxiproxy.Toxiproxy, bands: FaultBands, store_path: Path, echo: str) -> None:
    proxy = client.create(upstream=echo, name="redis")
    assert bands.run_id is None  # no toxic yet, no run
    proxy.add_toxic(type="latency", name="slow", stream="upstream", toxicity=0.5,
                    attributes={"latency": 100, "jitter": 10})
    assert bands.run_id is not None
    with Store.open(store_path) as store:
        assert store.run(bands.run_id).kind == "chaos"
    (band,) = _bands(store_path, bands.run_id)
    assert band.end_ns is None  # open while the toxic is there
    assert band.attrs == {"fault": "toxic", "proxy": "redis", "name": "slow", "type": "latency",
                          "stream": "upstream", "toxicity": 0.5,
                          "attributes": {"latency": 100, "jitter": 10}}
    proxy.destroy_toxic("slow")
    (band,) = _bands(store_path, bands.run_id)
    assert band.end_ns is not None
    assert band.end_ns >= band.ts_ns


def test_a_toxic_with_a_duration_ends_its_band_when_it_expires(
        chaos_server: ChaosServer, bands: FaultBands, store_path: Path, echo: str) -> None:
    base = f"http://127.0.0.1:{chaos_server.port}"
    assert requests.post(f"{base}/proxies", json={"name": "db", "upstream": echo},
                         timeout=10).status_code == 201
    r = requests.post(f"{base}/proxies/db/toxics", timeout=10,
                      json={"type": "http_error", "stream": "upstream", "duration": "200ms",
                            "attributes": {"status": 500, "path_prefix": "/api"}})
    assert r.status_code == 200
    assert bands.run_id is not None
    run_id = bands.run_id
    band = wait_for(lambda: next((b for b in _bands(store_path, run_id)
                                  if b.end_ns is not None), None),
                    timeout_s=30, what="the expired toxic's band to end")
    assert band is not None
    assert band.attrs["duration"] == "200ms"
    assert band.attrs["attributes"]["path_prefix"] == "/api"
    assert band.attrs["attributes"]["status"] == 500


def test_an_update_ends_the_band_and_opens_one_with_the_new_parameters(
        client: toxiproxy.Toxiproxy, chaos_server: ChaosServer, bands: FaultBands,
        store_path: Path,
        echo: str) -> None:
    proxy = client.create(upstream=echo, name="redis")
    proxy.add_toxic(type="bandwidth", name="bw", attributes={"rate": 100})
    r = requests.post(f"http://127.0.0.1:{chaos_server.port}/proxies/redis/toxics/bw",
                      json={"attributes": {"rate": 5}}, timeout=10)
    assert r.status_code == 200
    assert bands.run_id is not None
    old, new = _bands(store_path, bands.run_id)
    assert old.end_ns is not None
    assert new.end_ns is None
    assert (old.attrs["attributes"], new.attrs["attributes"]) == ({"rate": 100}, {"rate": 5})


def test_reset_and_stop_end_every_band_and_finish_the_run(
        store_path: Path, echo: str) -> None:
    with Store.open(store_path) as store:
        load_run = store.create_run("load", "checkout").id
    bands = FaultBands(store_path, load_run)
    sock = listening_socket("127.0.0.1", 0)
    with running_server(sock, bands=bands) as chaos:
        old = APIConsumer.host, APIConsumer.port
        try:
            tp = toxiproxy.Toxiproxy()
            tp.update_api_consumer("127.0.0.1", chaos.port)
            proxy = tp.create(upstream=echo, name="a")
            proxy.add_toxic(type="timeout", attributes={"timeout": 0})
            tp.reset()
            proxy.add_toxic(type="slow_close", attributes={"delay": 10})
        finally:
            APIConsumer.host, APIConsumer.port = old
    sock.close()
    first, second = _bands(store_path, load_run)
    assert first.attrs["type"] == "timeout"
    assert second.attrs["type"] == "slow_close"
    assert first.end_ns is not None  # by /reset
    assert second.end_ns is not None  # by the server's stop
    with Store.open(store_path) as store:
        assert store.run(load_run).status == "running"  # given, not ours to finish
        assert [r.kind for r in store.runs()] == ["load"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def test_chaos_proxy_makes_a_chaos_run_at_start(store_path: Path, echo: str) -> None:
    api = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "perflab", "chaos", "proxy", "--listen", f"127.0.0.1:{api}",
         "--store", str(store_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        wait_for_api(api, "perflab chaos proxy's API")
        with Store.open(store_path) as store:
            (run,) = store.runs()
        assert run.kind == "chaos"
        base = f"http://127.0.0.1:{api}"
        requests.post(f"{base}/proxies", json={"name": "db", "upstream": echo}, timeout=10)
        requests.post(f"{base}/proxies/db/toxics", json={"type": "latency"}, timeout=10)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"toxics as bands on run {run.id}" in out
    (band,) = _bands(store_path, run.id)
    assert band.attrs["proxy"] == "db"
    assert band.end_ns is not None
    with Store.open(store_path) as store:
        assert store.run(run.id).status == "ok"


def test_chaos_proxy_refuses_a_wrong_run(store_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "perflab", "chaos", "proxy", "--listen", "127.0.0.1:0",
         "--store", str(store_path), "--run", "99"],
        capture_output=True, text=True, env=_env(), timeout=60, check=False)
    assert proc.returncode != 0
    assert proc.stderr.startswith("perflab: error:")
    assert "Traceback" not in proc.stderr


def test_follow_load_puts_each_band_on_the_load_runs_running(store_path: Path,
                                                             echo: str) -> None:
    """A load run running when a toxic is added gets the band too; one that starts while the
    toxic is there gets it from its own start; a finished one gets nothing."""
    with Store.open(store_path) as store:
        finished = store.create_run("load", "yesterday").id
        store.finish_run(finished, "ok")
        first = store.create_run("load", "first").id
    bands = FaultBands(store_path, follow_load=True)
    sock = listening_socket("127.0.0.1", 0)
    with running_server(sock, bands=bands) as chaos:
        base = f"http://127.0.0.1:{chaos.port}"
        requests.post(f"{base}/proxies", json={"name": "db", "upstream": echo}, timeout=10)
        requests.post(f"{base}/proxies/db/toxics", json={"type": "latency"}, timeout=10)
        (on_first,) = _bands(store_path, first)
        assert on_first.end_ns is None
        with Store.open(store_path) as store:
            second_run = store.create_run("load", "second")
        assert bands.poll() == [second_run.id]
        assert bands.poll() == []  # followed once
        (on_second,) = _bands(store_path, second_run.id)
        assert on_second.ts_ns == second_run.started_ns
        assert on_second.attrs == on_first.attrs
        requests.delete(f"{base}/proxies/db/toxics/latency_downstream", timeout=10)
    sock.close()
    assert bands.run_id is not None
    ends = {b.end_ns for run in (bands.run_id, first, second_run.id)
            for b in _bands(store_path, run)}
    assert len(ends) == 1
    assert None not in ends  # one removal ends the band on every run at the same moment
    assert _bands(store_path, finished) == []


def test_chaos_proxy_follow_load_then_perflab_load(store_path: Path, web: str) -> None:
    """The user's one step: the proxy with --follow-load, a toxic, then `perflab load` through
    the proxy; the load run's timeline has the band."""
    api = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "perflab", "chaos", "proxy", "--listen", f"127.0.0.1:{api}",
         "--store", str(store_path), "--follow-load"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        wait_for_api(api, "perflab chaos proxy's API")
        base = f"http://127.0.0.1:{api}"
        listen = requests.post(f"{base}/proxies", json={"name": "web", "upstream": web},
                               timeout=10).json()["listen"]
        requests.post(f"{base}/proxies/web/toxics", timeout=10, json={
            "type": "http_latency", "stream": "upstream", "attributes": {"latency": 50}})
        load = subprocess.run(
            [sys.executable, "-m", "perflab", "load", "run", f"http://{listen}/", "-n", "40",
             "-c", "1", "--workers", "1", "--store", str(store_path), "--json"],
            capture_output=True, text=True, env=_env(), timeout=120, check=False)
        assert load.returncode == 0, load.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "and on the load runs running" in out
    with Store.open(store_path) as store:
        (load_run,) = store.runs(kind="load")
    (band,) = _bands(store_path, load_run.id)
    assert band.attrs["type"] == "http_latency"
    assert band.ts_ns == load_run.started_ns  # the toxic was there when the load began


def test_a_net_delay_through_a_proxy_with_a_store_is_recorded_once(
        client: toxiproxy.Toxiproxy, chaos_server: ChaosServer, store_path: Path,
        echo: str) -> None:
    """`chaos net --delay --proxy` records its band itself; the proxy (same store) adds none."""
    client.create(upstream=echo, name="svc", listen="127.0.0.1:0")
    ctl = Controller(["net", "--delay", "100ms", "--proxy", "svc", "--proxy-api",
                      f"http://127.0.0.1:{chaos_server.port}", "--duration", "10m"],
                     store_path)
    assert "latency toxic" in ctl.wait_applied()
    ctl.signal(signal.SIGINT)
    assert ctl.finish()[0] == 130
    with Store.open(store_path) as store:
        faults = [e for run in store.runs() for e in store.events(run.id)
                  if e.kind == CHAOS_FAULT_EVENT]
    assert len(faults) == 1
    assert faults[0].attrs.get("fault") != "toxic"  # the net fault's own band, with its params
