"""The socket table from a fake /proc: addresses decoded and printed as ss prints them,
owners found through /proc/PID/fd, LISTEN queues, and `perflab net` on top of it."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import shutil
from pathlib import Path

import pytest
from tests._schemas import validate

from perflab.cli import main
from perflab.cli.net import CounterSnapshot, counter_rates, resolve_states
from perflab.collect._procfs import read_snmp
from perflab.collect.sockets import (
    CONNECTED_STATES,
    SocketCollector,
    format_endpoint,
    parse_hex_address,
)
from perflab.errors import EXIT_TARGET, EXIT_USAGE, UsageError

ROOT = Path(__file__).parent.parent
PROC = ROOT / "fixtures" / "proc_export"


@pytest.mark.parametrize(("text", "ip", "port"), [
    ("0100007F:1F90", "127.0.0.1", 8080),
    ("00000000:0016", "0.0.0.0", 22),
    ("00000000000000000000000001000000:9053", "::1", 36947),
    ("0000000000000000FFFF00000100007F:AC0B", "::ffff:127.0.0.1", 44043),
])
def test_parse_hex_address(text, ip, port):
    assert parse_hex_address(text) == (ipaddress.ip_address(ip), port)


@pytest.mark.parametrize(("ip", "port", "v6only", "shown"), [
    ("127.0.0.1", 80, False, "127.0.0.1:80"),
    ("0.0.0.0", 0, False, "0.0.0.0:*"),
    ("::", 22, False, "*:22"),          # dual-stack wildcard, as ss prints it
    ("::", 0, False, "*:*"),
    ("::", 22, True, "[::]:22"),        # IPv6-only wildcard
    ("::1", 8080, True, "[::1]:8080"),
    ("::ffff:127.0.0.1", 44043, False, "[::ffff:127.0.0.1]:44043"),  # not ::ffff:7f00:1
])
def test_format_endpoint_like_ss(ip, port, v6only, shown):
    assert format_endpoint(ipaddress.ip_address(ip), port, v6only=v6only) == shown


@pytest.fixture(scope="module")
def rows():
    return SocketCollector(PROC).sockets(tcp=True, udp=True)


def by_inode(rows, inode):
    return next(r for r in rows if r.inode == inode)


def test_every_socket_line_is_read(rows):
    assert len(rows) == 10
    assert sorted({r.proto for r in rows}) == ["tcp", "udp"]


def test_owners_from_fd_links_shared_listener(rows):
    listener = by_inode(rows, 1002)
    assert (listener.state, listener.local, listener.peer) == ("LISTEN", "127.0.0.1:8080",
                                                               "0.0.0.0:*")
    assert [(o.pid, o.name, o.fd) for o in listener.owners] == [(4242, "nginx", 3),
                                                                 (4244, "nginx", 3)]
    client = by_inode(rows, 1004)
    assert [(o.pid, o.name) for o in client.owners] == [(4243, "my worker (1)")]


def test_listen_queue_and_backlog(rows):
    listener = by_inode(rows, 1002)
    assert listener.recv_q == 2      # connections waiting to be accepted
    assert listener.send_q is None   # the backlog needs sock_diag: not in a fake /proc
    estab = by_inode(rows, 1004)
    assert (estab.recv_q, estab.send_q) == (0x20, 0x10)


def test_ipv6_rows_printed_like_ss(rows):
    assert by_inode(rows, 2001).local == "*:44043"      # "::" without bindv6only
    assert by_inode(rows, 2001).peer == "*:*"
    assert by_inode(rows, 2002).local == "[::1]:36947"  # specific address: IPv6-only
    assert by_inode(rows, 2002).peer == "[::]:*"
    mapped = next(r for r in rows if r.proto == "tcp" and r.family == 6 and r.inode == 0)
    assert (mapped.local, mapped.peer) == ("[::ffff:127.0.0.1]:44043",
                                           "[::ffff:127.0.0.1]:47272")
    assert by_inode(rows, 3002).local == "*:60054"


def test_unowned_sockets_have_no_process(rows):
    time_wait = next(r for r in rows if r.state == "TIME-WAIT")
    assert time_wait.inode == 0
    assert time_wait.owners == ()
    assert by_inode(rows, 1001).owners == ()  # no fd of any process points at it


def test_pid_filter_keeps_only_that_process_sockets():
    rows = SocketCollector(PROC).sockets(tcp=True, udp=True, pids=[4243])
    assert sorted(r.inode for r in rows) == [1004, 3001]


def test_state_selection_follows_ss_defaults():
    assert resolve_states(False, False, ()) == CONNECTED_STATES
    assert resolve_states(True, False, ()) is None
    assert resolve_states(False, True, ()) == frozenset({"LISTEN", "UNCONN"})
    assert resolve_states(False, False, ("established", "TIME-WAIT")) == frozenset(
        {"ESTAB", "TIME-WAIT"})
    with pytest.raises(UsageError, match="unknown socket state"):
        resolve_states(False, False, ("bogus",))


def test_counter_rates_over_the_interval():
    snap = CounterSnapshot(0, 100.0, read_snmp(PROC))
    later = dataclasses.replace(snap, mono_s=snap.mono_s + 2.0, snmp={
        **snap.snmp, "Tcp": {**snap.snmp["Tcp"], "RetransSegs": 31}})
    rates = {c.key: c for c in counter_rates(snap, later, udp=False)}
    assert rates["retrans_segs"].total == 31
    assert rates["retrans_segs"].per_s == pytest.approx(10.0)
    assert rates["listen_overflows"].per_s == 0
    assert "udp_in" not in rates
    first = {c.key: c for c in counter_rates(None, snap, udp=True)}
    assert first["listen_overflows"].total == 7
    assert first["listen_overflows"].per_s is None
    assert first["udp_no_ports"].total == 1


def test_net_json_validates_against_schema(capsys):
    code = main(["net", "--all", "-u", "--json", "--interval", "10ms", "--proc-root", str(PROC)])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    validate(doc, "net")
    assert doc["schema"] == "perflab.net/2"
    assert doc["states"] == {"LISTEN": 4, "ESTAB": 3, "TIME-WAIT": 1}
    listener = next(s for s in doc["sockets"] if s["inode"] == 1002)
    assert listener["processes"] == [{"pid": 4242, "name": "nginx", "fd": 3},
                                     {"pid": 4244, "name": "nginx", "fd": 3}]
    overflows = next(c for c in doc["counters"] if c["name"] == "listen_overflows")
    assert overflows == {"name": "listen_overflows", "source": "TcpExt.ListenOverflows",
                         "description": "accept queue full (SYN/ACK dropped)", "total": 7,
                         "per_s": 0.0}


def test_a_state_no_name_covers_is_unknown_with_its_number(tmp_path, capsys):
    """A newer kernel's TCP state (0x0D here) is UNKNOWN, as ss prints it, with its number
    beside it: the document stays within its schema (it was the bare "0D")."""
    proc = tmp_path / "proc"
    shutil.copytree(PROC, proc, symlinks=True)
    with (proc / "net" / "tcp").open("a", encoding="ascii") as f:
        f.write("   5: 0100007F:B8AC 0100007F:1F90 0D 00000000:00000000 00:00000000 00000000"
                "     0        0 0 3 0000000066061e2c\n")
    assert main(["net", "--all", "--json", "--interval", "10ms", "--proc-root", str(proc)]) == 0
    doc = json.loads(capsys.readouterr().out)
    validate(doc, "net")
    assert doc["states"] == {"LISTEN": 4, "ESTAB": 3, "TIME-WAIT": 1, "UNKNOWN": 1}
    (odd,) = [s for s in doc["sockets"] if s["state"] == "UNKNOWN"]
    assert (odd["state_code"], odd["local"]) == ("0D", "127.0.0.1:47276")
    assert all("state_code" not in s for s in doc["sockets"] if s is not odd)
    assert main(["net", "--all", "--interval", "10ms", "--proc-root", str(proc)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "TCP ESTAB 3  TIME-WAIT 1  LISTEN 4  UNKNOWN 1"


def test_net_default_shows_connected_sockets_only(capsys):
    assert main(["net", "--json", "--interval", "10ms", "--proc-root", str(PROC)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {s["state"] for s in doc["sockets"]} == {"ESTAB"}


def test_net_table_rendering(capsys):
    assert main(["net", "-l", "--interval", "10ms", "--proc-root", str(PROC)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "TCP ESTAB 3  TIME-WAIT 1  LISTEN 4"
    assert lines[1].split() == ["Netid", "State", "Recv-Q", "Send-Q", "Local", "Address:Port",
                                "Peer", "Address:Port", "Process"]
    assert lines[3].split() == ["tcp", "LISTEN", "2", "-", "127.0.0.1:8080", "0.0.0.0:*",
                                "nginx/4242,nginx/4244"]
    assert "TcpExt.ListenOverflows" in out


def test_net_bad_state_and_missing_pid(capsys):
    assert main(["net", "--state", "bogus", "--proc-root", str(PROC)]) == EXIT_USAGE
    assert main(["net", "--pid", "999999", "--proc-root", str(PROC)]) == EXIT_TARGET
    err = capsys.readouterr().err
    assert "unknown socket state 'bogus'" in err
    assert "no process with PID 999999" in err


def test_malformed_lines_are_skipped():
    from perflab.collect.sockets import parse_proc_net  # noqa: PLC0415

    text = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt uid timeout"
        " inode\n"
        "   0: GARBAGE:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1\n"
        "   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 2 1\n"
        "   2: truncated\n")
    rows = parse_proc_net(text, "tcp")
    assert [(r.local, r.inode) for r in rows] == [("127.0.0.1:8080", 2)]
