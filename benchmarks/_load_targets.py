"""Targets for the load benchmarks: a private nginx and perflab's test server, on loopback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(
    p for p in (SRC, os.environ.get("PYTHONPATH")) if p))

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
  keepalive_timeout 300s;
  client_body_temp_path {root}/tmp; proxy_temp_path {root}/tmp; fastcgi_temp_path {root}/tmp;
  uwsgi_temp_path {root}/tmp; scgi_temp_path {root}/tmp;
  server {{ listen 127.0.0.1:{port}; root {root}/www; }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            time.sleep(0.05)
        else:
            return
    raise SystemExit(f"nothing listens on port {port}")


@contextmanager
def nginx():
    """nginx serving a small static file with keep-alive reuse raised; yields (url, pid)."""
    exe = shutil.which("nginx")
    if exe is None:
        raise SystemExit("nginx is not installed (apt-get install nginx)")
    with tempfile.TemporaryDirectory(prefix="perflab-bench-nginx-") as tmp:
        root = Path(tmp)
        (root / "www").mkdir()
        (root / "tmp").mkdir()
        (root / "www" / "index.html").write_text("hello from nginx for perflab load\n")
        port = free_port()
        user = "user root;" if os.geteuid() == 0 else ""
        (root / "nginx.conf").write_text(NGINX_CONF.format(root=root, port=port, user=user))
        proc = subprocess.Popen([exe, "-c", str(root / "nginx.conf"), "-p", str(root)])
        try:
            _wait_port(port)
            yield f"http://127.0.0.1:{port}/", proc.pid
        finally:
            proc.send_signal(signal.SIGQUIT)
            proc.wait(timeout=10)


@contextmanager
def test_server(*flags: str):
    """perflab's test server (``python -m perflab.load._testserver``); yields its URL."""
    proc = subprocess.Popen([sys.executable, "-m", "perflab.load._testserver", "--port", "0",
                             *flags], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        yield "http://" + line.split()[-1] + "/"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def perflab_load(*args: str) -> dict:
    """Run ``perflab load ... --json`` (a fresh process, like a user) and return its document."""
    import json  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="perflab-bench-store-") as tmp:
        out = subprocess.run([sys.executable, "-m", "perflab", "load", *args, "--json",
                              "--store", f"{tmp}/bench.db"],
                             capture_output=True, text=True, env=ENV, check=False)
    if out.returncode not in (0, 99):
        raise SystemExit(f"perflab load failed ({out.returncode}): {out.stderr}")
    return json.loads(out.stdout)
