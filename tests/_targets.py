"""Loopback targets for load tests and load benchmarks: a private nginx and perflab's own
test server (``perflab.load._testserver``). Shared by tests/integration/load/conftest.py and
benchmarks/_load_targets.py; the callers find the executables (and skip, fail or exit as
suits them)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from perflab.testing import free_port

NGINX_CONF = """
worker_processes 1;
daemon off;
{user}
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 4096; }}
http {{
  {access_log}
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path {root}/tmp; proxy_temp_path {root}/tmp; fastcgi_temp_path {root}/tmp;
  uwsgi_temp_path {root}/tmp; scgi_temp_path {root}/tmp;
  server {{ listen 127.0.0.1:{port}; root {root}/www;{location} }}
}}
"""
# the fixed answer of nginx(fixed=True): no file is opened, stat()ed or sent per request
FIXED_LOCATION = """
    location = / { default_type text/html; return 200 "hello from nginx for perflab load\\n"; }
  """


def wait_port(port: int, timeout_s: float = 10.0) -> bool:
    """True once something accepts connections on 127.0.0.1:port, False after the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            time.sleep(0.05)
        else:
            return True
    return False


@contextlib.contextmanager
def nginx(exe: str, root: Path, *, fixed: bool = False, location: str = "",
          access_log: Path | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """nginx on loopback serving a small static file, keep-alive reuse raised; yields
    (url, process) and stops it (SIGQUIT, a graceful stop) after the block.

    ``fixed``: ``/`` answers the same bytes from memory (``return 200``), the cheapest response
    nginx has, so that a load generator is measured rather than nginx's file serving.
    ``location``: location blocks of one's own; ``access_log``: log every request there in
    nginx's predefined ``combined`` format (off by default)."""
    (root / "www").mkdir(parents=True, exist_ok=True)
    (root / "tmp").mkdir(exist_ok=True)
    (root / "www" / "index.html").write_text("hello from nginx for perflab load\n")
    port = free_port()
    conf = root / "nginx.conf"
    # private tmp dirs (0700): as root, nginx's worker must stay root to read them
    user = "user root;" if os.geteuid() == 0 else ""
    location = (FIXED_LOCATION if fixed else "") + location
    log = f"access_log {access_log} combined;" if access_log else "access_log off;"
    conf.write_text(NGINX_CONF.format(root=root, port=port, user=user, location=location,
                                      access_log=log))
    proc = subprocess.Popen([exe, "-c", str(conf), "-p", str(root)], stderr=subprocess.DEVNULL)
    try:
        if not wait_port(port):
            msg = f"nginx did not start on port {port}"
            raise RuntimeError(msg)
        yield f"http://127.0.0.1:{port}/", proc
    finally:
        _stop(proc, signal.SIGQUIT)


def start_test_server(*flags: str, env: Mapping[str, str]) -> tuple[subprocess.Popen[str], str]:
    """perflab's test server on a free loopback port: (process, "host:port")."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "perflab.load._testserver", "--port", "0", *flags],
        stdout=subprocess.PIPE, text=True, env=dict(env))
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening on"):
        stop_test_server(proc)
        msg = f"the test server did not start: {line!r}"
        raise RuntimeError(msg)
    return proc, line.split()[-1]


def stop_test_server(proc: subprocess.Popen[str]) -> None:
    _stop(proc, signal.SIGTERM)
    if proc.stdout is not None:
        proc.stdout.close()


def _stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str], sig: int) -> None:
    proc.send_signal(sig)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
