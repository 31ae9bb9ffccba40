"""perflab net against ss: the same sockets (state, local, peer, owning PID) at the same moment,
for a real listener with real client connections on loopback."""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests._schemas import validate

from conftest import require_tool
from perflab.cli import main
from perflab.collect.sockets import SocketCollector

pytestmark = pytest.mark.integration


# A server process: IPv4, IPv6-only and dual-stack listeners, 3 accepted clients and a backlog
# of one connection it never accepts. It prints "ready" and keeps everything open until stdin
# closes.
SERVER = textwrap.dedent("""
    import socket, sys
    v4 = socket.create_server(("127.0.0.1", 0), backlog=17)
    v6 = socket.socket(socket.AF_INET6)
    v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    v6.bind(("::1", 0)); v6.listen(9)
    dual = socket.socket(socket.AF_INET6)
    dual.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    dual.bind(("::", 0)); dual.listen(5)
    keep = []
    for lst, host in ((v4, "127.0.0.1"), (v6, "::1"), (v4, "127.0.0.1")):
        c = socket.create_connection((host, lst.getsockname()[1]))
        keep += [c, lst.accept()[0]]
    keep.append(socket.create_connection(("127.0.0.1", dual.getsockname()[1])))  # not accepted
    print("ready", v4.getsockname()[1], flush=True)
    sys.stdin.read()
""")


@contextlib.contextmanager
def serving(argv: list[str]):
    """Run SERVER through ``argv``; yields (pid, IPv4 listener's port) once it is ready."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline().split()
        assert line, "the server did not start"
        assert line[0] == "ready"
        yield proc.pid, int(line[1])
    finally:
        proc.stdin.close()
        proc.wait(10)
        proc.stdout.close()


@pytest.fixture
def server():
    with serving([sys.executable, "-c", SERVER]) as found:
        yield found


USERS = re.compile(r"pid=(\d+)")


def ss_sockets(ss: str, pid: int) -> set[tuple[str, str, str, int]]:
    out = subprocess.run([ss, "-tanp"], check=True, capture_output=True, text=True).stdout
    found = set()
    for line in out.splitlines()[1:]:
        f = line.split()
        pids = {int(p) for p in USERS.findall(line)}
        if pid in pids:
            found.add((f[0], f[3], f[4], pid))
    return found


def our_sockets(pid: int) -> set[tuple[str, str, str, int]]:
    rows = SocketCollector().sockets(tcp=True)
    return {(r.state, r.local, r.peer, pid) for r in rows if pid in {o.pid for o in r.owners}}


def test_socket_list_matches_ss(server):
    ss = require_tool("ss")
    pid, _port = server
    before = ss_sockets(ss, pid)
    ours = our_sockets(pid)
    after = ss_sockets(ss, pid)
    assert before == after, "the sockets changed while we looked; the test server is not idle"
    assert ours == before
    states = sorted(s[0] for s in ours)
    # 3 listeners, 3 client ends and 3 accepted ends, and one client end whose peer waits in
    # the accept queue: all owned by the server process
    assert states.count("LISTEN") == 3
    assert states.count("ESTAB") == 7
    assert any(local.startswith("*:") for _, local, _, _ in ours)       # dual-stack wildcard
    assert any(local.startswith("[::1]:") for _, local, _, _ in ours)


def test_listen_queues_match_ss(server):
    ss = require_tool("ss")
    pid, port = server
    out = subprocess.run([ss, "-tlnp", f"sport = :{port}"], check=True, capture_output=True,
                         text=True).stdout.splitlines()[1]
    _state, recv_q, send_q = out.split()[:3]
    row = next(r for r in SocketCollector().sockets(pids=[pid])
               if r.state == "LISTEN" and r.local_port == port)
    assert (row.recv_q, row.send_q) == (int(recv_q), int(send_q)) == (0, 17)


def test_net_cli_json_for_a_pid(server, tmp_path):
    pid, port = server
    proc = subprocess.run(
        [sys.executable, "-m", "perflab", "net", "--json", "--all", "--pid", str(pid),
         "--interval", "100ms"], check=True, capture_output=True, text=True,
        env={"PYTHONPATH": str(Path(__file__).parent.parent.parent / "src"), "PATH": "/usr/bin"})
    doc = json.loads(proc.stdout)
    validate(doc, "net")
    listener = next(s for s in doc["sockets"] if s["state"] == "LISTEN" and
                    s["local_port"] == port)
    assert listener["send_q"] == 17
    assert listener["processes"][0]["pid"] == pid
    assert doc["interval_s"] >= 0.1  # rates are measured over at least the asked interval
    assert all(pid in [p["pid"] for p in s["processes"]] for s in doc["sockets"])


def test_sock_diag_state_counts_equal_proc_net_tcp(server):
    """The exporter's cheap TCP state counts (sock_diag) are those of /proc/net/tcp{,6}."""
    from perflab.collect.sockets import count_tcp_states, count_tcp_states_diag  # noqa: PLC0415

    for _ in range(20):  # other engineers' connections come and go: find a quiet moment
        before = count_tcp_states(Path("/proc"))
        diag = count_tcp_states_diag()
        if count_tcp_states(Path("/proc")) == before:
            assert diag == before
            assert diag["LISTEN"] >= 3
            return
    pytest.skip("the machine's TCP sockets never stood still long enough to compare")


@pytest.fixture
def server_in_netns():
    """The same server in a network namespace of its own, as a container's would be."""
    unshare = require_tool("unshare")
    ip = require_tool("ip")
    script = f"{ip} link set lo up && exec {sys.executable} -c {shlex.quote(SERVER)}"
    # unshare and sh exec: the PID is the server's
    with serving([unshare, "--net", "sh", "-c", script]) as found:
        yield found


def test_pid_in_another_network_namespace_shows_its_own_sockets(server_in_netns):
    """As `nsenter -t PID -n ss -tanp` shows them; our namespace's /proc/net has none of them."""
    nsenter = require_tool("nsenter")
    ss = require_tool("ss")
    pid, _ = server_in_netns
    assert Path(f"/proc/{pid}/ns/net").readlink() != Path("/proc/self/ns/net").readlink()
    out = subprocess.run([nsenter, "-t", str(pid), "-n", ss, "-tanp"], check=True,
                         capture_output=True, text=True).stdout
    want = set()
    for line in out.splitlines()[1:]:
        f = line.split()
        if pid in {int(p) for p in USERS.findall(line)}:
            want.add((f[0], f[3], f[4], pid))
    assert len(want) == 10  # 3 listeners, 3 accepted, 3 clients, 1 waiting in the backlog
    rows = SocketCollector().sockets(tcp=True, pids=[pid])
    assert {(r.state, r.local, r.peer, pid) for r in rows} == want


def test_pid_in_another_namespace_shows_that_namespaces_counters(server_in_netns, capsys):
    """The counters under the table are the container's own: its 3+1 connections opened and
    accepted, not this machine's hundreds of thousands."""
    pid, _ = server_in_netns
    assert main(["net", "--pid", str(pid), "--interval", "100ms", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    validate(doc, "net")
    assert doc["netns_pid"] == pid
    totals = {c["name"]: c["total"] for c in doc["counters"]}
    assert totals["active_opens"] == 4  # 3 clients connected and accepted, 1 left in the backlog
    assert totals["passive_opens"] == 4
    assert main(["net", "--pid", str(pid), "--interval", "100ms"]) == 0
    assert f"in the network namespace of PID {pid}" in capsys.readouterr().out


def test_pid_in_our_namespace_has_no_netns(server, capsys):
    pid, _ = server
    assert main(["net", "--pid", str(pid), "--interval", "100ms", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["netns_pid"] is None
