"""Which of a process's sockets the pprof detection probes: TCP listeners reachable on
loopback (bound to loopback or a wildcard), never one bound to another address, a UDP
socket or a connected socket; a process without listeners, or a spent budget, probes
nothing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import psutil
from tests.conftest import require_root, require_tool, wait_for

from perflab.collect.sockets import socket_owners
from perflab.incident._pprof_detect import detect_pprof, loopback_listeners
from perflab.serving import http_url


def _listener(host: str, family: int = socket.AF_INET) -> socket.socket:
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((host, 0))
    s.listen()
    return s


def _own_address() -> str | None:
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family == socket.AF_INET and not a.address.startswith("127."):
                return str(a.address)
    return None


def test_loopback_and_wildcard_listeners_are_probed_others_not():
    socks = [_listener("127.0.0.1"), _listener("0.0.0.0")]  # not served
    own = _own_address()
    other = _listener(own) if own else None
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    try:
        got = {port: host for host, port in loopback_listeners(os.getpid())}
        loop_port, any_port = (s.getsockname()[1] for s in socks)
        assert got[loop_port] == "127.0.0.1"
        assert got[any_port] == "127.0.0.1"  # a wildcard is reached on its family's loopback
        assert udp.getsockname()[1] not in got
        if other is not None:
            assert other.getsockname()[1] not in got
    finally:
        for s in (*socks, udp, *([other] if other else [])):
            s.close()


def test_an_ipv6_wildcard_is_probed_on_ipv6_loopback():
    try:
        s = _listener("::", socket.AF_INET6)
    except OSError:
        return  # no IPv6 here: nothing to check
    try:
        got = {port: host for host, port in loopback_listeners(os.getpid())}
        assert got[s.getsockname()[1]] == "::1"
        assert http_url("::1", 6060) == "http://[::1]:6060"
    finally:
        s.close()


def test_a_process_without_listeners_or_gone_probes_nothing(sleeper):
    assert loopback_listeners(sleeper.pid) == []
    assert detect_pprof(sleeper.pid) == []
    assert loopback_listeners(2**22 + 12345) == []  # above pid_max: no such process


def test_a_spent_budget_probes_nothing():
    s = _listener("127.0.0.1")
    try:
        assert detect_pprof(os.getpid(), budget_s=0.0) == []
    finally:
        s.close()


def test_a_process_in_another_network_namespace_is_not_probed(tmp_path):
    """Its 127.0.0.1 is not ours: our 127.0.0.1:PORT would be another process."""
    unshare = require_tool("unshare")
    require_root("a network namespace of its own (unshare -n)")
    ready = tmp_path / "port"
    code = ("import socket, sys, time\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
            f"open({str(ready)!r}, 'w').write(str(s.getsockname()[1]))\n"
            "time.sleep(120)\n")
    proc = subprocess.Popen([unshare, "-n", sys.executable, "-c", code])
    try:
        wait_for(ready.exists, timeout_s=30, what="the namespaced listener")
        # unshare execs python (no --fork): the same PID, which does listen on its loopback
        assert socket_owners(Path("/proc"), [proc.pid])
        assert loopback_listeners(proc.pid) == []
    finally:
        proc.kill()
        proc.wait()
