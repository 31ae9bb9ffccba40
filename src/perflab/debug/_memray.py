"""Allocation sites of a Python process that has no debug agent, through ``memray attach``.

memray injects its tracker into the running interpreter (through gdb on Python < 3.14) and
streams every allocation to a capture file. Its "leaked" records at any moment are the
allocations made since the attach that are still live: the growth since the attach, by stack.
The file is read while it is being written, so the watch takes a dozen snapshots as it does for
tracemalloc and Go's heap profile.

Attaching takes seconds (tens of seconds on a busy machine: gdb loads the interpreter's
symbols), so it runs in the background and the watch reads RSS meanwhile. The capture is read
in a child process: memray's reader prints to the C stderr when it meets the record being
written, and a child keeps that (and any crash on a half-written file) out of perflab.
Tracking stops at the end of the watch (``memray detach``, left to finish on its own), and
``--duration`` bounds it if perflab is killed first.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from perflab.debug._goheap import SiteSample

ATTACH_MARGIN_S = 120.0   # --duration beyond the watch: tracking ends even if perflab is killed
READ_TIMEOUT_S = 60.0
_PYTHON_EXE = re.compile(r"python[0-9.]*[dmu]*$")


def is_python_process(pid: int, proc_root: Path = Path("/proc")) -> bool:
    """True when ``pid`` runs a CPython interpreter (its executable, or libpython mapped in)."""
    try:
        exe = (proc_root / str(pid) / "exe").readlink()
    except OSError:
        return False
    if _PYTHON_EXE.search(exe.name):
        return True
    try:
        with (proc_root / str(pid) / "maps").open() as maps:
            return any("libpython" in line for line in maps)
    except OSError:
        return False


def memray_missing() -> str | None:
    """Why ``memray attach`` cannot run here (None when it can)."""
    try:
        import memray  # noqa: F401, PLC0415  (the reader; an optional dependency)
    except ImportError:
        return "memray is not installed (pip install memray)"
    if shutil.which("gdb") is None and shutil.which("lldb") is None:
        return "memray attach needs gdb or lldb (apt-get install gdb)"
    return None


class MemraySource:
    """Sites from ``memray attach``: live bytes allocated since the attach, by Python stack (and
    native frames with ``native``)."""

    name = "memray attach"

    def __init__(self, pid: int, *, duration_s: float, native: bool = False) -> None:
        self.pid = pid
        self.native = native
        self._dir = tempfile.TemporaryDirectory(prefix="perflab-memray-")
        self.capture = Path(self._dir.name) / "capture.bin"
        self.failure: str | None = None
        cmd = [sys.executable, "-m", "memray", "attach", "-o", str(self.capture), "-f",
               "--duration", str(int(duration_s + ATTACH_MARGIN_S)), "--no-compress",
               str(pid)]
        if native:
            cmd.insert(-1, "--native")
        self._attach: subprocess.Popen[bytes] | None = subprocess.Popen(  # noqa: S603  (fixed argv)
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        self.attached = False

    def sample(self) -> dict[str, float]:
        return {}  # the trend comes from smaps; memray names the sites

    def _attach_done(self) -> bool:
        proc = self._attach
        if self.attached:
            return True
        if proc is None or proc.poll() is None:
            return False
        _, err = proc.communicate()
        self._attach = None
        if proc.returncode != 0:
            lines = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
            self.failure = f"memray attach failed: {lines[-1] if lines else proc.returncode}"
            return False
        self.attached = True
        return True

    def sites(self) -> dict[str, SiteSample] | None:
        if not self._attach_done() or not self.capture.exists():
            return None
        try:
            out = subprocess.run(  # noqa: S603  (our own interpreter and module)
                [sys.executable, "-m", "perflab.debug._memray_read", str(self.capture),
                 "native" if self.native else "python"],
                capture_output=True, timeout=READ_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            return None
        if out.returncode != 0:
            return None  # a record cut mid-write: the next snapshot reads further
        return {key: SiteSample(s["function"], s["file"], s["line"], s["bytes"], s["objects"],
                                tuple(s["stack"]))
                for key, s in json.loads(out.stdout).items()}

    def close(self) -> None:
        proc = self._attach
        if proc is not None and proc.poll() is None:  # still attaching: stop gdb
            self.failure = ("memray attach did not finish within the watch (gdb is slow on a "
                            "busy machine): watch longer to name the sites")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.communicate(timeout=10)
        elif proc is not None:
            self._attach_done()  # it ended between the last snapshot and now
        if self.attached:
            # detaching goes through gdb again: left running on its own so that the watch's
            # report is not held up; --duration ends the tracking if it fails
            subprocess.Popen(  # noqa: S603  (fixed argv)
                [sys.executable, "-m", "memray", "detach", str(self.pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self._dir.cleanup()
