"""``perflab serve --chaos``: the Toxiproxy API beside the hub on its own port; a taken default
port warns and stays off, a taken --chaos-listen is exit 3."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import click
import pytest
import requests
from click.core import ParameterSource
from tests.conftest import wait_for
from tests.unit.chaos.conftest import wait_for_api

from perflab.cli._chaos_serve import serving_chaos
from perflab.errors import TargetError, UsageError
from perflab.serving import listening_socket
from perflab.store import CHAOS_FAULT_EVENT, Event, Store
from perflab.testing import free_port


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def test_serve_mounts_the_toxiproxy_api(tmp_path: Path) -> None:
    hub, api = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "perflab", "serve", "--listen", f"127.0.0.1:{hub}", "--no-record",
         "--store", str(tmp_path / "s.db"), "--no-otlp-http", "--no-zipkin", "--no-otlp-grpc",
         "--chaos-listen", f"127.0.0.1:{api}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        wait_for_api(api, "the Toxiproxy API of perflab serve")
        r = requests.post(f"http://127.0.0.1:{api}/proxies",
                          json={"name": "db", "upstream": "127.0.0.1:6379"}, timeout=5)
        assert r.status_code == 201
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert f"fault proxy: Toxiproxy API on http://127.0.0.1:{api}/" in out
    assert "Traceback" not in err


def _ctx(source: ParameterSource) -> click.Context:
    ctx = click.Context(click.Command("serve"))
    ctx.set_parameter_source("chaos_listen", source)
    return ctx


def test_a_taken_default_port_warns_and_stays_off(capsys: pytest.CaptureFixture[str]) -> None:
    taken = listening_socket("127.0.0.1", 0)
    port = taken.getsockname()[1]
    try:
        with serving_chaos(_ctx(ParameterSource.DEFAULT), chaos_on=True,
                           chaos_listen=f"127.0.0.1:{port}", token=None,
                           allowed_hosts=()) as address:
            assert address is None
    finally:
        taken.close()
    err = capsys.readouterr().err
    assert f"warning: --chaos: 127.0.0.1:{port} is already in use" in err


def test_a_taken_explicit_port_is_exit_3() -> None:
    taken = listening_socket("127.0.0.1", 0)
    port = taken.getsockname()[1]
    try:
        with pytest.raises(TargetError, match=rf"--chaos-listen 127\.0\.0\.1:{port} is already"), \
                serving_chaos(_ctx(ParameterSource.COMMANDLINE), chaos_on=False,
                              chaos_listen=f"127.0.0.1:{port}", token=None, allowed_hosts=()):
            pass
    finally:
        taken.close()
    assert TargetError.exit_code == 3


def test_off_without_the_flag() -> None:
    with serving_chaos(_ctx(ParameterSource.DEFAULT), chaos_on=False,
                       chaos_listen="127.0.0.1:8474", token=None, allowed_hosts=()) as address:
        assert address is None


def test_follow_load_without_the_proxy_is_bad_usage() -> None:
    with pytest.raises(UsageError, match="--follow-load"), \
            serving_chaos(_ctx(ParameterSource.DEFAULT), chaos_on=False,
                          chaos_listen="127.0.0.1:8474", token=None, allowed_hosts=(),
                          follow_load=True):
        pass
    assert UsageError.exit_code == 2


def _bands(store_path: Path, run_id: int) -> list[Event]:
    with Store.open(store_path) as store:
        return [e for e in store.events(run_id) if e.kind == CHAOS_FAULT_EVENT]


def test_serve_chaos_follow_load_puts_the_bands_on_the_load_runs(tmp_path: Path,
                                                                 echo: str) -> None:
    """As `chaos proxy --follow-load`: a load run running when the toxic comes gets its band;
    one that starts while the toxic is there gets it from its own start (the follower)."""
    store_path = tmp_path / "s.db"
    with Store.open(store_path) as store:
        before = store.create_run("load", "before").id
    hub, api = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "perflab", "serve", "--listen", f"127.0.0.1:{hub}", "--no-record",
         "--store", str(store_path), "--no-otlp-http", "--no-zipkin", "--no-otlp-grpc",
         "--chaos", "--chaos-listen", f"127.0.0.1:{api}", "--follow-load"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        wait_for_api(api, "the Toxiproxy API of perflab serve")
        base = f"http://127.0.0.1:{api}"
        requests.post(f"{base}/proxies", json={"name": "db", "upstream": echo}, timeout=10)
        r = requests.post(f"{base}/proxies/db/toxics", json={"type": "latency"}, timeout=10)
        assert r.status_code == 200
        (on_before,) = _bands(store_path, before)  # written before the API answered
        assert on_before.end_ns is None
        with Store.open(store_path) as store:
            after = store.create_run("load", "after")
        on_after = wait_for(lambda: _bands(store_path, after.id), timeout_s=30,
                            what="the band on the load run started after the toxic")
        assert on_after[0].ts_ns == after.started_ns
        assert on_after[0].attrs == on_before.attrs
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "(toxics also on the load runs running)" in out
    ends = {b.end_ns for run in (before, after.id) for b in _bands(store_path, run)}
    assert len(ends) == 1
    assert None not in ends  # the server's stop ended the band on every run at one moment
