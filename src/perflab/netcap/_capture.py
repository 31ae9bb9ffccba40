"""``perflab capture``: a packet capture through tcpdump (libpcap, tcpdump's filter syntax),
bounded in time, optionally into a ring of files; tcpdump's own errors become one line and a
hint (no permission, no such interface, a filter that does not compile)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from perflab.children import interrupt_then_kill
from perflab.errors import AccessDenied, InvalidValue, ToolMissing

_STATS = re.compile(r"^(\d+) packets? (captured|received by filter|dropped by kernel)")
_READY_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 5.0
_BUFFER_KIB = 32768  # the kernel's buffer for tcpdump (its default, 2 MiB, drops bursts on a busy
#                      machine: a loopback transfer fills it before tcpdump is scheduled)


@dataclass(frozen=True, slots=True)
class CaptureSpec:
    """What to capture: ``ring_files`` > 0 keeps that many files of ``ring_bytes`` each."""

    interface: str
    output: str
    duration_s: float
    bpf_filter: str = ""
    snaplen: int = 262144
    ring_files: int = 0
    ring_bytes: int = 0


@dataclass(slots=True)
class CaptureResult:
    files: list[str]
    captured: int | None = None
    received: int | None = None
    dropped: int | None = None
    stderr: list[str] = field(default_factory=list)


def tcpdump_argv(tcpdump: str, spec: CaptureSpec) -> list[str]:
    """tcpdump's command line for ``spec``: packets handed over and written as they come
    (--immediate-mode, -U: without them the last block the kernel holds is lost when tcpdump is
    stopped), names not resolved (-n); as root it keeps root's rights (-Z root), so it writes
    where the user can."""
    argv = [tcpdump, "-i", spec.interface, "-w", spec.output, "-s", str(spec.snaplen),
            "--immediate-mode", "-U", "-n", "-B", str(_BUFFER_KIB)]
    if os.geteuid() == 0:
        argv += ["-Z", "root"]
    if spec.ring_files:
        # tcpdump's -C counts millions of bytes; the last file may grow to one packet beyond
        argv += ["-C", str(max(1, spec.ring_bytes // 1_000_000)), "-W", str(spec.ring_files)]
    if spec.bpf_filter:
        argv.append(spec.bpf_filter)
    return argv


def refusal(spec: CaptureSpec, lines: list[str]) -> Exception:
    """tcpdump's first error line as perflab's error, with what to do about it."""
    message = next((ln.removeprefix("tcpdump: ") for ln in lines if ln.startswith("tcpdump: ")),
                   lines[0] if lines else "tcpdump exited before capturing")
    if "No such device" in message or "doesn't exist" in message:
        return InvalidValue(f"no interface {spec.interface!r}: {message}",
                            hint="list interfaces with `ip -br link`; --iface any captures all")
    if "permission" in message.lower() or "not permitted" in message:
        return AccessDenied(
            f"no permission to capture on {spec.interface!r}",
            hint="run as root, or give tcpdump the capability: "
                 "setcap cap_net_raw,cap_net_admin=eip $(command -v tcpdump)")
    if spec.bpf_filter and ("syntax error" in message or "filter" in message
                            or "unknown" in message or "illegal" in message):
        return InvalidValue(f"bad capture filter {spec.bpf_filter!r}: {message}",
                            hint="the filter uses tcpdump's syntax (man pcap-filter), "
                                 "e.g. 'tcp port 8080 and host 10.0.0.2'")
    if spec.output in message:
        return InvalidValue(f"cannot write {spec.output}: {message}",
                            hint="give -o a path in a writable directory")
    return InvalidValue(f"tcpdump refused the capture: {message}",
                        hint="see `man tcpdump` for what it means")


def ring_files(output: str) -> list[str]:
    """The files a ring capture wrote: OUTPUT followed by tcpdump's file number."""
    path = Path(output)
    pattern = re.compile(re.escape(path.name) + r"\d+$")
    found = [p for p in path.parent.glob(path.name + "*") if pattern.match(p.name)]
    return [str(p) for p in sorted(found, key=lambda p: p.stat().st_mtime)]


@dataclass(slots=True)
class Tcpdump:
    """A running tcpdump: its stderr lines as they come, and whether it is listening yet."""

    spec: CaptureSpec
    proc: subprocess.Popen[bytes]
    lines: list[str] = field(default_factory=list)
    listening: threading.Event = field(default_factory=threading.Event)
    reader: threading.Thread | None = None

    @classmethod
    def start(cls, spec: CaptureSpec, *, pipe: bool = False) -> Tcpdump:
        """tcpdump for ``spec``, in its own session (Ctrl-C reaches perflab, which stops it
        with SIGINT so it flushes); ``pipe``: its stdout is ours to read (``-w -``)."""
        tcpdump = shutil.which("tcpdump")
        if tcpdump is None:
            raise ToolMissing("tcpdump", install="apt-get install tcpdump")
        proc = subprocess.Popen(  # noqa: S603  # argv built from typed options, no shell
            tcpdump_argv(tcpdump, spec), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipe else subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        running = cls(spec, proc)
        running.reader = threading.Thread(target=running.read_stderr, daemon=True)
        running.reader.start()
        return running

    def read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            if "listening on" in line:
                self.listening.set()
        self.listening.set()  # tcpdump ended: no more waiting

    def wait_listening(self) -> bool:
        """True once tcpdump listens (False: it ended, or did not start in time)."""
        self.listening.wait(_READY_TIMEOUT_S)
        return self.proc.poll() is None

    def stop(self) -> None:
        """SIGINT, then SIGKILL if tcpdump does not end; its stderr read to the end and closed.
        Once stopped, nothing more."""
        _stop(self.proc)
        if self.reader is not None:
            self.reader.join(_STOP_TIMEOUT_S)
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def finish(self) -> CaptureResult:
        """Stop tcpdump; its counts, or its refusal as perflab's error."""
        self.stop()
        lines = self.lines
        if (self.proc.returncode not in (0, -signal.SIGINT)
                and not any("captured" in ln for ln in lines)):
            raise refusal(self.spec, lines)
        spec = self.spec
        result = CaptureResult(files=ring_files(spec.output) if spec.ring_files else [spec.output],
                               stderr=lines)
        for line in lines:
            match = _STATS.match(line)
            if match:
                count, what = int(match[1]), match[2]
                if what == "captured":
                    result.captured = count
                elif what == "received by filter":
                    result.received = count
                else:
                    result.dropped = count
        return result


def capture(spec: CaptureSpec) -> CaptureResult:
    """Capture for ``spec.duration_s`` (from when tcpdump is listening), then stop tcpdump with
    SIGINT so it flushes and prints its counts. Ctrl-C stops early and still reports."""
    running = Tcpdump.start(spec)
    try:
        if running.wait_listening():
            deadline = time.monotonic() + spec.duration_s
            while running.proc.poll() is None and time.monotonic() < deadline:
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
    except KeyboardInterrupt:
        pass  # Ctrl-C ends a capture early, as it does tcpdump's: what was captured is kept
    return running.finish()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT (tcpdump flushes and prints its counts), then SIGKILL if it does not end."""
    interrupt_then_kill(proc, _STOP_TIMEOUT_S)
