"""The planted-fault Go programs of tests/fixtures/debug/, built once per session, and a way to
run one as a loopback service that is stopped and reaped on every exit path."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tests.conftest import require_tool

if TYPE_CHECKING:
    from collections.abc import Iterator

FIXTURES = Path(__file__).parent.parent.parent / "fixtures" / "debug"
_BUILT: dict[str, Path] = {}
_OUT = Path(tempfile.mkdtemp(prefix="perflab-debug-go-"))


def build(name: str, *, race: bool = False) -> Path:
    """``go build`` of tests/fixtures/debug/NAME (with -race when asked), cached per session."""
    go = require_tool("go")
    key = f"{name}{'-race' if race else ''}"
    if key not in _BUILT:
        out = _OUT / key
        args = [go, "build", *(["-race"] if race else []), "-o", str(out), "."]
        env = {**os.environ, "GOFLAGS": "-mod=mod", "GOCACHE": str(_OUT / "cache"),
               "CGO_ENABLED": "1" if race else "0"}
        subprocess.run(args, cwd=FIXTURES / name, check=True, env=env, timeout=300)
        _BUILT[key] = out
    return _BUILT[key]


@contextmanager
def service(name: str, **env: str) -> Iterator[str]:
    """Start a fixture service (it prints its loopback address first); yield its base URL."""
    proc = subprocess.Popen([str(build(name))], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, **env}, start_new_session=True)
    try:
        assert proc.stdout is not None
        addr = proc.stdout.readline().strip()
        assert addr.startswith("127.0.0.1:"), addr
        yield f"http://{addr}"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
