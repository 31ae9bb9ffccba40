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
from tests.unit.chaos.conftest import wait_for_api

from perflab.cli._chaos_serve import serving_chaos
from perflab.errors import TargetError
from perflab.serving import listening_socket
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
