"""A fault controller (``perflab chaos inject|net``) in a child process, for the fault tests
and the rollback benchmark: start it, wait until the fault is applied, read its journal,
interrupt or kill it, and check what it changed is back."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perflab.chaos.faults import NetnsDoc

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}


class Controller:
    """``perflab chaos ARGV --store STORE`` running; ``applied`` is the line it printed."""

    def __init__(self, argv: list[str], store_path: Path, *, sigint_ignored: bool = False
                 ) -> None:
        self.store_path = store_path
        # sigint_ignored: as a shell starts a background job (`cmd &` in a script)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "perflab", "chaos", *argv, "--store", str(store_path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
            preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # noqa: PLW1509  # before exec, no threads started yet
            if sigint_ignored else None)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.applied = ""

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_applied(self, timeout_s: float = 60.0) -> str:
        """The controller's "applied" line; raises when it exits or says nothing in time."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                msg = f"the controller exited before applying: {''.join(self.stderr)}"
                raise AssertionError(msg)
            if line.startswith(("perflab chaos inject:", "perflab chaos net:")):
                self.applied = line.strip()
                return self.applied
        msg = f"no fault applied after {timeout_s:g} s: {''.join(self.stderr)}"
        raise AssertionError(msg)

    def journal(self) -> dict[str, Any]:
        """The journal of the fault in progress (the one this controller owns)."""
        for path in (self.store_path.parent / "chaos" / "faults").glob("*.json"):
            doc = json.loads(path.read_text())
            if doc["controller"]["pid"] == self.proc.pid:
                doc["path"] = str(path)
                return doc
        msg = "no journal for this controller"
        raise AssertionError(msg)

    def signal(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)

    def finish(self, timeout_s: float = 120.0) -> tuple[int, str, str]:
        """Wait for the controller's end: (exit code, stdout, stderr)."""
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        self.proc.wait(timeout=timeout_s)
        self._close()
        return self.proc.returncode, out, "".join(self.stderr)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)
        self._close()

    def _close(self) -> None:
        with contextlib.suppress(queue.Empty):
            while self.lines.get(timeout=10) is not None:
                pass
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def step_restored(step: dict[str, Any]) -> bool:
    """Whether the change an undo step stands for is undone (what a rollback must achieve)."""
    op = step["op"]
    if op == "cont":
        return process_state(step["pid"]) not in ("T", "t")
    if op in ("kill_group", "end_group"):  # no live process left in the group (zombies are dead)
        return not any(_pgrp_state(p, step["pid"]) for p in Path("/proc").iterdir()
                       if p.name.isdigit())
    if op in ("unlink", "rmtree"):
        return not Path(step["path"]).exists()
    if op == "rlimit":
        limits = resource.prlimit(step["pid"], resource.RLIMIT_NOFILE)
        return limits == (step["soft"], step["hard"])
    if op == "nft_delete":
        return step["table"] not in _ns(step.get("netns"), ["nft", "list", "tables"])
    if op == "tc_delete":
        return "7a1:" not in _ns(step.get("netns"), ["tc", "qdisc", "show", "dev", step["dev"]])
    return True  # spawn, end_event, http_delete: checked by the tests that use them


def process_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"


def _pgrp_state(proc: Path, pgid: int) -> bool:
    """Whether the process at ``proc`` is alive (not a zombie) in process group ``pgid``."""
    try:
        fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return int(fields[2]) == pgid and fields[0] not in ("Z", "X")


def _ns(netns: str | None, argv: list[str]) -> str:
    full = argv if netns is None else ["ip", "netns", "exec", netns, *argv]
    return subprocess.run(full, capture_output=True, text=True, check=False).stdout


@contextlib.contextmanager
def scratch_netns(name: str) -> Iterator[tuple[NetnsDoc, Path]]:
    """A perflab namespace and a scratch directory (for a store), both removed at the end."""
    from perflab.chaos.faults import create_netns, delete_netns  # noqa: PLC0415

    doc = create_netns(name)
    tmp = Path(tempfile.mkdtemp(prefix=f"perflab-{name}-"))
    try:
        yield doc, tmp
    finally:
        delete_netns(name)
        shutil.rmtree(tmp, ignore_errors=True)
