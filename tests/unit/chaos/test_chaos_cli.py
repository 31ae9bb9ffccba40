"""`perflab chaos proxy`: starts, serves the API at --listen, creates --config's proxies, stops
on SIGTERM; refuses a non-loopback API without a token and a port in use, with one line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import requests
from tests.conftest import wait_for

from perflab.testing import free_port


def perflab(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perflab", *argv], capture_output=True,
                          text=True, check=False, timeout=60)


def api_up(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/version", timeout=2).ok
    except requests.ConnectionError:
        return False


def test_serves_the_config_proxies_and_stops_on_sigterm(tmp_path: Path, echo: str) -> None:
    port = free_port()
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "echo", "upstream": echo}]))
    proc = subprocess.Popen([sys.executable, "-m", "perflab", "chaos", "proxy", "--listen",
                             f"127.0.0.1:{port}", "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: api_up(port), timeout_s=30, what="the chaos API")
        proxies = requests.get(f"http://127.0.0.1:{port}/proxies", timeout=5).json()
        assert proxies["echo"]["upstream"] == echo
        assert proxies["echo"]["enabled"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"http://127.0.0.1:{port}/" in out
    assert "Traceback" not in err


def test_non_loopback_api_needs_a_token() -> None:
    out = perflab("chaos", "proxy", "--listen", "0.0.0.0:0")
    assert out.returncode == 2
    assert out.stderr.startswith("perflab: error: refusing to serve on 0.0.0.0:0")
    assert "hint:" in out.stderr


def test_port_in_use_is_one_line() -> None:
    import socket  # noqa: PLC0415

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = perflab("chaos", "proxy", "--listen", f"127.0.0.1:{port}")
    assert out.returncode == 3
    assert out.stderr.startswith(f"perflab: error: 127.0.0.1:{port} is already in use")
    assert "Traceback" not in out.stderr


def test_a_bad_config_is_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.json"
    config.write_text("{not json")
    out = perflab("chaos", "proxy", "--listen", "127.0.0.1:0", "--config", str(config))
    assert out.returncode == 2
    assert "not JSON" in out.stderr
    config.write_text(json.dumps([{"name": "x", "upstream": "192.0.2.1:80"}]))
    out = perflab("chaos", "proxy", "--listen", "127.0.0.1:0", "--config", str(config))
    assert out.returncode == 2
    assert "not a loopback address" in out.stderr
    assert "Traceback" not in out.stderr
