"""Child processes the demo starts, and the guarantee that they all stop.

Each child runs in its own session (so its own process group): a Ctrl-C at the terminal reaches
only the demo, which then stops the children in order. ``stop()`` sends SIGTERM to the whole group,
waits, then SIGKILLs the group and reaps the child, so no grandchild survives either.

Should the demo itself be killed (SIGKILL: no cleanup runs), Linux stops each child for us: a
child is started through a two-line launcher that sets ``PR_SET_PDEATHSIG`` (SIGTERM when the
parent dies) and then ``exec``s the real command, which keeps that setting.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

from perflab.errors import TargetError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


# Runs in the child before the real command: ask for SIGTERM when the parent dies, then exec.
_LAUNCHER = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG\n"
    "os.execvp(sys.argv[1], sys.argv[1:])\n"
)


class ChildFailed(TargetError):
    """A child exited before it was ready, or did not become ready in time."""


class Child:
    """One child process with its output in a log file (shown when it fails)."""

    def __init__(self, name: str, argv: Sequence[str], *, log_path: Path,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def start(self) -> None:
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, *self.argv], stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True,
            close_fds=True,
        )

    def wait_ready(self, ready: Callable[[], bool], timeout_s: float) -> None:
        """Poll ``ready()`` until it is true; raise if the child exits or time runs out."""
        assert self.proc is not None, "not started"
        deadline = time.monotonic() + timeout_s
        while True:
            if ready():
                return
            if self.proc.poll() is not None:
                raise ChildFailed(f"the {self.name} {self.how_it_ended()} before it was ready: "
                                  f"{self.last_output()}", hint=f"its output is in {self.log_path}")
            if time.monotonic() >= deadline:
                raise ChildFailed(f"the {self.name} was not ready after {timeout_s:.0f}s",
                                  hint=f"its output is in {self.log_path}")
            time.sleep(0.05)

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def how_it_ended(self) -> str:
        """``exited with code 1`` or ``was killed by SIGKILL``."""
        code = self.proc.poll() if self.proc is not None else None
        if code is None:
            return "is running"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"was killed by {name}"
        return f"exited with code {code}"

    def last_output(self, lines: int = 3) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip()
        except OSError:
            return ""
        return " | ".join(text.splitlines()[-lines:]) or "(no output)"

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the child's process group: SIGTERM, wait, SIGKILL, reap. Safe to call twice."""
        proc = self.proc
        if proc is not None:
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout_s)
            # The child is gone or stuck; either way nothing of its group may outlive us.
            _signal_group(proc.pid, signal.SIGKILL)
            # SIGKILL cannot be refused, but lands only when the child is next scheduled (or
            # leaves an uninterruptible wait): give it longer than the polite timeout.
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(timeout_s, 10.0))
        if self._log is not None:
            self._log.close()
            self._log = None


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def port_accepts(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether we could bind ``host:port`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel says is free now (a child may still lose a race for it; it then fails
    and says so)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
