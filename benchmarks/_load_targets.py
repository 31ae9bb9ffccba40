"""Targets for the load benchmarks: a private nginx and perflab's test server, on loopback;
and the set-up they share: perflab's bytecode, the CPU time of finished children.

The targets themselves are tests/_targets.py, shared with the load integration tests."""

from __future__ import annotations

import atexit
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's tests/ package, for its loopback targets
from tests import _targets  # noqa: E402  # importable only once the checkout is on the path

SRC = str(ROOT / "src")
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(
    p for p in (SRC, os.environ.get("PYTHONPATH")) if p))


@contextmanager
def nginx(*, fixed: bool = False):
    """nginx serving a small static file (``fixed``: a fixed answer from memory) with keep-alive
    reuse raised; yields (url, pid)."""
    exe = shutil.which("nginx")
    if exe is None:
        raise SystemExit("nginx is not installed (apt-get install nginx)")
    with tempfile.TemporaryDirectory(prefix="perflab-bench-nginx-") as tmp, \
            _targets.nginx(exe, Path(tmp), fixed=fixed) as (url, proc):
        yield url, proc.pid


@contextmanager
def test_server(*flags: str):
    """perflab's test server (``python -m perflab.load._testserver``); yields its URL."""
    proc, hostport = _targets.start_test_server(*flags, env=ENV)
    try:
        yield f"http://{hostport}/"
    finally:
        _targets.stop_test_server(proc)


@contextmanager
def dask_cluster(n_workers: int):
    """A Dask scheduler and ``n_workers`` workers on loopback; yields the cluster (its
    ``address``)."""
    with tempfile.TemporaryDirectory(prefix="perflab-bench-dask-") as tmp, \
            _targets.dask_cluster(n_workers, Path(tmp), env=ENV) as cluster:
        yield cluster


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


def use_bytecode(env: dict[str, str], *, compile_each_start: bool) -> None:
    """Set ``env`` so that perflab runs with its bytecode, cached in a private directory
    removed at exit; or, ``compile_each_start``, so that it compiles every module at each
    start, as a checkout with PYTHONDONTWRITEBYTECODE=1 does."""
    if compile_each_start:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        return
    pycache = tempfile.mkdtemp(prefix="perflab-bench-pyc-")
    atexit.register(shutil.rmtree, pycache, ignore_errors=True)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache


def children_cpu() -> float:
    """CPU seconds of our finished children and the descendants they reaped."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime
