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
from typing import TYPE_CHECKING

from perflab.testing import free_port

if TYPE_CHECKING:
    import psutil

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


class DaskCluster:
    """A ``dask scheduler`` and ``dask worker`` processes on loopback (``dask_cluster``)."""

    def __init__(self, address: str, scheduler: subprocess.Popen[bytes],
                 workers: list[subprocess.Popen[bytes]]) -> None:
        self.address, self.scheduler, self.workers = address, scheduler, workers

    def load_processes(self, worker: subprocess.Popen[bytes]) -> list[psutil.Process]:
        """The perflab load processes a Dask worker started."""
        import psutil  # noqa: PLC0415  # a dev dependency, for the Dask targets only

        try:
            children = psutil.Process(worker.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        return [p for p in children if _is_load_worker(p)]


def _is_load_worker(p: psutil.Process) -> bool:
    import psutil  # noqa: PLC0415

    with contextlib.suppress(psutil.Error):
        return "perflab.load._worker" in " ".join(p.cmdline())
    return False


@contextlib.contextmanager
def dask_cluster(n_workers: int, log_dir: Path, *, env: Mapping[str, str],
                 timeout_s: float = 180.0) -> Iterator[DaskCluster]:
    """A Dask scheduler and ``n_workers`` workers (one thread, no nanny: killing one kills
    it) on loopback, ready when yielded; their logs in ``log_dir``. Everything is stopped
    after the block, the load processes the workers started included."""
    import psutil  # noqa: PLC0415
    from distributed import Client  # noqa: PLC0415  # only the Dask tests and benchmark

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "scheduler.log").open("wb") as log:
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
             "--port", str(port), "--no-dashboard"], env=dict(env), stdout=log, stderr=log)
    cluster = DaskCluster(address, scheduler, [])
    try:
        for i in range(n_workers):
            with (log_dir / f"worker{i}.log").open("wb") as log:
                cluster.workers.append(subprocess.Popen(
                    [sys.executable, "-m", "distributed.cli.dask_worker", address,
                     "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny", "--no-dashboard",
                     "--name", f"w{i}"], env=dict(env), stdout=log, stderr=log))
        with Client(address, timeout=timeout_s) as client:  # the scheduler answers
            if n_workers:
                client.wait_for_workers(n_workers, timeout=timeout_s)
        yield cluster
    finally:
        orphans = [p for w in cluster.workers for p in cluster.load_processes(w)]
        for proc in [*cluster.workers, scheduler]:
            _stop(proc, signal.SIGTERM)
        for p in orphans:  # a test that failed midway: no load process outlives it
            with contextlib.suppress(psutil.Error):
                p.kill()
