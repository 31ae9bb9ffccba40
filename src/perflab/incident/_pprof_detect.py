"""A Go suspect's net/http/pprof endpoint found from its PID, so ``perflab incident open --pid
PID`` takes its goroutine dump without ``--pprof URL``.

The process's listening TCP sockets are its ``socket:[INODE]`` fds (/proc/PID/fd) that its own
network namespace's tables (/proc/PID/net/tcp, tcp6) show in LISTEN. Each one reachable on
loopback (bound to a loopback or wildcard address; a socket bound to another address is not
probed: perflab sends requests to loopback only; nor is any socket of a process in another
network namespace, whose loopback is not this one) gets one ``GET
/debug/pprof/goroutine?debug=2``; the ports that answer 200 with a goroutine dump are the
pprof base URLs. Bounded: at most ``MAX_LISTENERS`` sockets, each probe ``PROBE_TIMEOUT_S``
per connect and read, all of them within ``BUDGET_S``, at most ``PROBE_BYTES`` read (a target
that accepts and never answers costs one timeout, never a hang).
"""

from __future__ import annotations

import contextlib
import http.client
import time
from pathlib import Path

from perflab.collect.sockets import (
    TCP_TABLES,
    network_namespace,
    read_proc_net,
    socket_owners,
)
from perflab.serving import http_url

PROBE_PATH = "/debug/pprof/goroutine?debug=2"
MAX_LISTENERS = 16
PROBE_TIMEOUT_S = 2.0
BUDGET_S = 8.0
PROBE_BYTES = 4096  # enough to see the dump's first line
_DUMP_START = b"goroutine "


def loopback_listeners(pid: int, proc_root: Path = Path("/proc")) -> list[tuple[str, int]]:
    """(loopback host, port) of each TCP socket ``pid`` listens on that loopback reaches, by
    port; empty for a process that is gone or not ours to read, and for one in another network
    namespace (a container's): its loopback is not ours, and our 127.0.0.1:PORT would be
    another process."""
    space = network_namespace(proc_root, pid)
    if space is None or space != network_namespace(proc_root, "self"):
        return []
    inodes = set(socket_owners(proc_root, [pid]))
    if not inodes:
        return []
    out: dict[int, str] = {}
    for row in read_proc_net(proc_root / str(pid), TCP_TABLES, inodes):
        ip = row.local_ip
        if row.state != "LISTEN" or not (ip.is_loopback or ip.is_unspecified):
            continue
        wildcard_host = "127.0.0.1" if ip.version == 4 else "::1"  # its family's loopback
        out.setdefault(row.local_port, str(ip) if ip.is_loopback else wildcard_host)
    return sorted(((h, p) for p, h in out.items()), key=lambda hp: hp[1])[:MAX_LISTENERS]


def _is_pprof(host: str, port: int, timeout_s: float) -> bool:
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("GET", PROBE_PATH, headers={"User-Agent": "perflab incident"})
        resp = conn.getresponse()
        return resp.status == 200 and resp.read(PROBE_BYTES).startswith(_DUMP_START)
    except (OSError, http.client.HTTPException):
        return False  # refused, timed out, not HTTP: not a pprof endpoint
    finally:
        with contextlib.suppress(OSError):
            conn.close()


def detect_pprof(pid: int, proc_root: Path = Path("/proc"), *,
                 budget_s: float = BUDGET_S) -> list[str]:
    """The pprof base URLs (``http://127.0.0.1:6060``) of process ``pid``'s loopback
    listeners, in port order; probing stops when the budget is spent."""
    deadline = time.monotonic() + budget_s
    found = []
    for host, port in loopback_listeners(pid, proc_root):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        if _is_pprof(host, port, min(PROBE_TIMEOUT_S, left)):
            found.append(http_url(host, port))
    return found
