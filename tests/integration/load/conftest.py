"""Real targets for the load engine: nginx, and perflab's own test server (faults, TLS)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.conftest import require_tool

SRC = str(Path(__file__).resolve().parents[3] / "src")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, env.get("PYTHONPATH")) if p)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
        proc = subprocess.Popen(
            [sys.executable, "-m", "perflab.load._testserver", "--port", "0", *flags],
            stdout=subprocess.PIPE, text=True, env=_env())
        started.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on"), line
        hostport = line.split()[-1]
        return Server(proc, f"{scheme}://{hostport}")

    yield start
    for proc in started:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def tls_cert(tmp_path: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1/localhost (openssl)."""
    openssl = require_tool("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    return str(cert), str(key)


NGINX_CONF = """
worker_processes 1;
daemon off;
{user}
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path {root}/tmp; proxy_temp_path {root}/tmp; fastcgi_temp_path {root}/tmp;
  uwsgi_temp_path {root}/tmp; scgi_temp_path {root}/tmp;
  server {{ listen 127.0.0.1:{port}; root {root}/www; }}
}}
"""


def start_nginx(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    """nginx on loopback serving a small static file, keep-alive reuse raised; (proc, url)."""
    nginx = require_tool("nginx")
    (root / "www").mkdir(parents=True, exist_ok=True)
    (root / "tmp").mkdir(exist_ok=True)
    (root / "www" / "index.html").write_text("hello from nginx for perflab load\n")
    port = free_port()
    conf = root / "nginx.conf"
    # pytest's tmp dirs are private (0700): as root, nginx's worker must stay root to read them
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(NGINX_CONF.format(root=root, port=port, user=user))
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(root)],
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("nginx did not start")
    return proc, f"http://127.0.0.1:{port}/"


@pytest.fixture
def nginx_url(tmp_path: Path):
    proc, url = start_nginx(tmp_path / "nginx")
    yield url
    proc.send_signal(signal.SIGQUIT)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
