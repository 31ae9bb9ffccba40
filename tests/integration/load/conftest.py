"""Real targets for the load engine: nginx, and perflab's own test server (faults, TLS)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from tests._targets import nginx, start_test_server, stop_test_server
from tests.conftest import require_tool

SRC = str(Path(__file__).resolve().parents[3] / "src")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, env.get("PYTHONPATH")) if p)
    return env


class Server:
    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url
        self.pid = proc.pid


@pytest.fixture
def test_server():
    """Start ``perflab.load._testserver`` with the given flags; stopped after the test."""
    started: list[subprocess.Popen[str]] = []

    def start(*flags: str, scheme: str = "http") -> Server:
        proc, hostport = start_test_server(*flags, env=_env())
        started.append(proc)
        return Server(proc, f"{scheme}://{hostport}")

    yield start
    for proc in started:
        stop_test_server(proc)


@pytest.fixture
def tls_cert(tmp_path: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1/localhost (openssl)."""
    openssl = require_tool("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    return str(cert), str(key)


@pytest.fixture
def nginx_url(tmp_path: Path):
    with nginx(require_tool("nginx"), tmp_path / "nginx") as (url, _proc):
        yield url
