"""Helpers for your own tests and scripts that drive perflab.

``serve(store)`` starts a real ``perflab serve`` on a free loopback port, waits until it answers
and stops it (SIGINT, as Ctrl-C would) when the ``with`` block ends. Its span receivers'
machine-wide default ports (4317, 4318, 9411) are left alone: OTLP/HTTP is served on the hub's
own port, and ``--otlp-http HOST:PORT`` (or ``--otlp-grpc``, ``--zipkin``) among ``args`` opens
one of its own::

    from perflab.testing import serve

    with serve("lab.db", "--no-record") as hub:
        runs = json.load(urllib.request.urlopen(hub.url + "/api/runs"))
    assert hub.returncode == 0

The child is the same perflab as the caller's (same interpreter, the imported package first on
its ``PYTHONPATH``), so a checkout's ``src/`` serves as an installed perflab does.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from perflab.children import interrupt_then_kill

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["Served", "free_port", "serve"]

_STOP_TIMEOUT_S = 20.0  # open requests get 3 s and the recording commits; then it is killed


@dataclass
class Served:
    """A running ``perflab serve``: its base URL, process and output (stdout and stderr)."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        """The exit code once stopped (0 after a clean stop); None while it runs."""
        return self.process.poll()

    def log(self) -> str:
        """What the server printed so far."""
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    """A loopback TCP port that is free now (another process may still take it first)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _child_env(token: str | None) -> dict[str, str]:
    import perflab  # noqa: PLC0415  # only to find where this perflab was imported from

    here = str(Path(perflab.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    env.pop("PERFLAB_TOKEN", None)  # an outer token must not lock the hub under test
    if token is not None:
        env["PERFLAB_TOKEN"] = token
    return env


@contextlib.contextmanager
def serve(store: str | os.PathLike[str], *args: str, token: str | None = None,
          start_timeout_s: float = 30.0, log_path: str | os.PathLike[str] | None = None,
          ) -> Iterator[Served]:
    """Run ``perflab serve --listen 127.0.0.1:<free port> --store STORE ARGS...`` for the
    ``with`` block. Raises RuntimeError (with the server's output) when it does not answer
    within ``start_timeout_s``. Output goes to ``log_path`` (a temporary file if None)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with contextlib.ExitStack() as cleanup:
        if log_path is None:
            tmp = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="perflab-serve-"))
            log_path = Path(tmp) / "serve.log"
        log = cleanup.enter_context(Path(log_path).open("wb"))
        proc = subprocess.Popen(  # our own interpreter and module, fixed args
            [sys.executable, "-m", "perflab", "serve", "--listen", f"127.0.0.1:{port}",
             "--store", os.fspath(store), *_receiver_args(args), *args],
            env=_child_env(token), stdout=log, stderr=subprocess.STDOUT)
        served = Served(url, proc, Path(log_path))
        try:
            _wait_ready(served, start_timeout_s)
            yield served
        finally:
            _stop(proc)


def _receiver_args(args: tuple[str, ...]) -> list[str]:
    """``--no-...`` for each receiver ``args`` does not mention: hubs started by tests must not
    take (or fight over) the ports a real collector or the user's hub uses."""
    return [f"--no-{name}" for name in ("otlp-http", "otlp-grpc", "zipkin",
                                                     "fluent-forward", "syslog")
            if not any(a in (f"--{name}", f"--no-{name}") or a.startswith(f"--{name}=")
                       for a in args)]


def _wait_ready(served: Served, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:  # our own loopback URL
            with urllib.request.urlopen(served.url + "/login", timeout=1):  # noqa: S310
                pass
        except urllib.error.HTTPError:
            return  # it answered, with an error status: it is up
        except OSError:
            if served.process.poll() is not None or time.monotonic() > deadline:
                msg = f"perflab serve did not start: {served.log()}"
                raise RuntimeError(msg) from None
            time.sleep(0.1)
        else:
            return


def _stop(proc: subprocess.Popen[bytes]) -> None:
    interrupt_then_kill(proc, _STOP_TIMEOUT_S)
