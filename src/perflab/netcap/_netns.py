"""Two network namespaces joined by a veth pair, for ``perflab bench net --netns``.

The server's namespace is ``perflab-bn<PID>-<N>s``, the client's ``perflab-bn<PID>-<N>c`` (the
PID in hex, N a serial of the process); the veth
pair has one end in each, ``169.254.0.1/30`` (server) and ``169.254.0.2/30`` (client), and
nothing else: the namespaces have no other link, so the test's traffic never reaches the host's
network (the addresses cannot clash with the host's, which is in another namespace).

No process is started inside: the thread that creates a socket enters the namespace with
``setns(2)`` (a network namespace is per thread) and leaves it once the socket exists; a socket
stays in the namespace it was created in, so the test's threads run it from anywhere. Both
namespaces are deleted on every exit path (an error, Ctrl-C, SIGTERM), and a later run deletes
those of a perflab that was killed with -9 (their PID is gone).
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import re
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from perflab.errors import AccessDenied, TargetError, ToolMissing

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType

_RUN_NETNS = Path("/run/netns")
_OURS = re.compile(r"^perflab-bn([0-9a-f]+)-\d+[sc]$")  # the PID in hex, then a serial
_SERIAL = itertools.count()
_CLONE_NEWNET = 0x40000000
SERVER_ADDR = "169.254.0.1"
CLIENT_ADDR = "169.254.0.2"


@dataclass(frozen=True, slots=True)
class NetnsPair:
    server: str
    client: str
    server_addr: str = SERVER_ADDR
    client_addr: str = CLIENT_ADDR


def _ip(*args: str, check: bool = True) -> None:
    argv = ["ip", *args]
    out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=20)  # noqa: S603  # our own argv
    if check and out.returncode != 0:
        raise TargetError(f"`{' '.join(argv)}` failed: {out.stderr.strip()}",
                          hint="see `ip netns list`; the kernel needs network namespaces and veth")


def _delete(*names: str) -> None:
    for name in names:
        _ip("netns", "del", name, check=False)


def _delete_orphans() -> None:
    """Namespaces of a perflab that died without its clean-up (kill -9)."""
    if not _RUN_NETNS.is_dir():
        return
    for entry in _RUN_NETNS.iterdir():
        match = _OURS.match(entry.name)
        if match and not Path(f"/proc/{int(match[1], 16)}").exists():  # no such PID any more
            _delete(entry.name)


def _raise_interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def veth_pair() -> Iterator[NetnsPair]:
    """Create the two namespaces and their link; delete them when the block ends."""
    if os.geteuid() != 0:
        raise AccessDenied("bench net --netns needs root (it creates network namespaces)",
                           hint="run it as root (sudo), or without --netns to test on loopback")
    if shutil.which("ip") is None:
        raise ToolMissing("ip", install="apt install iproute2")
    _delete_orphans()
    # unique per process and per call (two threads may each run a test)
    tag = f"bn{os.getpid():x}-{next(_SERIAL) % 1000}"
    pair = NetnsPair(f"perflab-{tag}s", f"perflab-{tag}c")
    server_if, client_if = f"pl{tag}s", f"pl{tag}c"  # at most 15 characters (IFNAMSIZ 16)
    # SIGTERM ends the block as Ctrl-C does, so the finally below runs (only the main thread
    # may set a handler; another thread's caller keeps its own)
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt) if main else None
    try:
        _ip("netns", "add", pair.server)
        _ip("netns", "add", pair.client)
        _ip("link", "add", server_if, "type", "veth", "peer", "name", client_if)
        for ns, ifname, addr in ((pair.server, server_if, pair.server_addr),
                                 (pair.client, client_if, pair.client_addr)):
            _ip("link", "set", ifname, "netns", ns)
            _ip("-n", ns, "addr", "add", f"{addr}/30", "dev", ifname)
            _ip("-n", ns, "link", "set", ifname, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield pair
    finally:
        _delete(pair.server, pair.client)  # the veth pair goes with its namespaces
        _ip("link", "del", server_if, check=False)  # still here if a move failed
        if previous is not None:  # None: a handler not set from Python, or not the main thread
            signal.signal(signal.SIGTERM, previous)


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise TargetError(f"setns failed: {os.strerror(err)}",
                          hint="entering a network namespace needs root (CAP_SYS_ADMIN)")


@contextlib.contextmanager
def inside(netns: str | None) -> Iterator[None]:
    """Run the block's socket calls in ``netns`` (this thread only); None: where we are."""
    if netns is None:
        yield
        return
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(_RUN_NETNS / netns, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(home)
