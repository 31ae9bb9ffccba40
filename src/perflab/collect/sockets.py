"""The socket table, as ``ss -tanp`` shows it: /proc/net/{tcp,tcp6,udp,udp6} plus owners.

Sockets come from the /proc/net files (one line per socket: addresses, state, queues, inode).
Owners come from one pass over ``/proc/PID/fd`` per refresh: every ``socket:[INODE]`` link maps
an inode to (pid, name, fd), as ss does it; the map is rebuilt at each refresh (fds change
all the time) but only once per refresh, however many sockets there are.

Two things the /proc files do not say, and ss does: the backlog of a listening socket (ss
prints it as Send-Q) and whether an IPv6 socket bound to ``::`` also accepts IPv4 (ss prints
``*`` then, ``[::]`` otherwise). Both come from the kernel's sock_diag netlink interface
(collect._sockdiag), used only when reading the live /proc.

This module is the one parser of the inet tables. ``perflab net`` and ``perflab export`` read
them whole (or only the sockets of ``--pid``); ``perflab proc`` (collect._fdsockets) looks up
the inodes behind one process's fds in that process's own tables, ``/proc/PID/net/...``, so
that a process in another network namespace is found in its own.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import sys
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from perflab.collect._contracts import NetSocket, NetSocketProcess, NetState
from perflab.collect._sockdiag import DiagInfo, sock_diag_dump, tcp_state_codes_diag

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# /proc/net/tcp's `st` column (hex, the kernel's TCP_* numbering) -> ss's names; UDP uses the
# same numbering (07 = unconnected, 01 = connected)
TCP_STATES: dict[str, NetState] = {
    "01": "ESTAB", "02": "SYN-SENT", "03": "SYN-RECV", "04": "FIN-WAIT-1", "05": "FIN-WAIT-2",
    "06": "TIME-WAIT", "07": "UNCONN", "08": "CLOSE-WAIT", "09": "LAST-ACK", "0A": "LISTEN",
    "0B": "CLOSING", "0C": "NEW-SYN-RECV",
}
STATES: tuple[NetState, ...] = tuple(dict.fromkeys(TCP_STATES.values()))
# a state the kernel reports that the table above does not name (a newer kernel's): the row
# keeps the hex number as its state; --json says UNKNOWN with the number beside it
UNKNOWN_STATE: NetState = "UNKNOWN"
_NAMED: dict[str, NetState] = {s: s for s in STATES}
# ss's default when no state is asked for: connected sockets only
CONNECTED_STATES: frozenset[NetState] = frozenset(
    {"ESTAB", "SYN-SENT", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "LAST-ACK", "CLOSING"})
LISTEN_STATES: frozenset[NetState] = frozenset({"LISTEN", "UNCONN"})
# the protocols of the tables `perflab net` reads (proc's lookups also read udplite and raw)
_NET_PROTOS: dict[str, Literal["tcp", "udp"]] = {"tcp": "tcp", "udp": "udp"}


def net_state(state: str) -> NetState:
    """A row's state as ``perflab net`` names it: ss's name, or UNKNOWN for a bare number."""
    return _NAMED.get(state, UNKNOWN_STATE)


@dataclass(frozen=True, slots=True)
class SocketOwner:
    pid: int
    name: str
    fd: int

    def to_json(self) -> NetSocketProcess:
        return {"pid": self.pid, "name": self.name, "fd": self.fd}


@dataclass(frozen=True, slots=True)
class SocketRow:
    """One socket. For LISTEN sockets ``recv_q`` is the accept-queue fill and ``send_q`` the
    backlog (None when sock_diag could not tell), as ss shows them."""

    proto: str  # "tcp" | "udp"
    state: str
    recv_q: int
    send_q: int | None
    local_ip: IPAddress
    local_port: int
    peer_ip: IPAddress
    peer_port: int
    inode: int
    uid: int
    v6only: bool
    owners: tuple[SocketOwner, ...] = ()

    @property
    def family(self) -> int:
        return self.local_ip.version

    @property
    def local(self) -> str:
        return format_endpoint(self.local_ip, self.local_port, v6only=self.v6only)

    @property
    def peer(self) -> str:
        return format_endpoint(self.peer_ip, self.peer_port, v6only=self.v6only)

    def to_json(self) -> NetSocket:
        """The socket as ``perflab net --json`` shows it (a TCP or UDP one)."""
        state = net_state(self.state)
        out: NetSocket = {
            "proto": _NET_PROTOS[self.proto], "family": 4 if self.family == 4 else 6,
            "state": state, "recv_q": self.recv_q, "send_q": self.send_q, "local": self.local,
            "peer": self.peer, "local_ip": ip_text(self.local_ip), "local_port": self.local_port,
            "peer_ip": ip_text(self.peer_ip), "peer_port": self.peer_port, "inode": self.inode,
            "uid": self.uid, "processes": [o.to_json() for o in self.owners],
        }
        if state == UNKNOWN_STATE:
            out["state_code"] = self.state
        return out


def ip_text(ip: IPAddress) -> str:
    """The address as inet_ntop (and so ss) writes it: ``::ffff:127.0.0.1``, not
    ``::ffff:7f00:1`` as Python's ``ipaddress`` does before 3.13."""
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    return socket.inet_ntop(family, ip.packed)


def format_endpoint(ip: IPAddress, port: int, *, v6only: bool) -> str:
    """``127.0.0.1:80``, ``[::1]:80``, ``*:22`` (``::`` accepting IPv4 too), port 0 as ``*``."""
    port_s = str(port) if port else "*"
    if ip.version == 4:
        return f"{ip_text(ip)}:{port_s}"
    if ip.is_unspecified and not v6only:
        return f"*:{port_s}"
    return f"[{ip_text(ip)}]:{port_s}"


def parse_hex_address(text: str) -> tuple[IPAddress, int]:
    """``0100007F:1F90`` -> (127.0.0.1, 8080). The kernel prints each 32-bit word of the
    address in host byte order, so on little-endian machines every 4 bytes are reversed."""
    addr_hex, _, port_hex = text.partition(":")
    raw = bytes.fromhex(addr_hex)
    if sys.byteorder == "little":
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    ip: IPAddress = (ipaddress.IPv4Address(raw) if len(raw) == 4
                     else ipaddress.IPv6Address(raw))
    return ip, int(port_hex, 16)


# (proto, table under /proc or /proc/PID); every inet table has the same columns
TCP_TABLES = (("tcp", "net/tcp"), ("tcp", "net/tcp6"))
UDP_TABLES = (("udp", "net/udp"), ("udp", "net/udp6"))
INET_TABLES = (*TCP_TABLES, *UDP_TABLES,
               ("udplite", "net/udplite"), ("udplite", "net/udplite6"),
               ("raw", "net/raw"), ("raw", "net/raw6"))


def parse_proc_net(text: str, proto: str, inodes: Collection[int] | None = None
                   ) -> list[SocketRow]:
    """Parse /proc/net/tcp, tcp6, udp, udp6 (or udplite, raw: the same columns); owners,
    backlog and v6only not yet known. With ``inodes``, only those sockets (the addresses of
    the others are not even decoded)."""
    rows = []
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 10:
            continue
        try:
            inode = int(f[9])
            if inodes is not None and inode not in inodes:
                continue
            local_ip, local_port = parse_hex_address(f[1])
            peer_ip, peer_port = parse_hex_address(f[2])
            tx_hex, _, rx_hex = f[4].partition(":")
            recv_q, tx_q, uid = int(rx_hex, 16), int(tx_hex, 16), int(f[7])
        except ValueError:
            continue  # not a socket line (a kernel we do not know, a damaged copy)
        state = TCP_STATES.get(f[3], f[3])
        # the kernel's own rule: an IPv6 socket bound to a specific, non-v4-mapped address is
        # IPv6-only; for "::" only sock_diag (or the bindv6only default) can tell
        v6only = (local_ip.version == 6 and not local_ip.is_unspecified
                  and local_ip.ipv4_mapped is None)
        # for LISTEN /proc shows 0 as tx_queue; the backlog comes from sock_diag
        send_q = None if state == "LISTEN" else tx_q
        rows.append(SocketRow(
            proto=proto, state=state, recv_q=recv_q, send_q=send_q,
            local_ip=local_ip, local_port=local_port, peer_ip=peer_ip, peer_port=peer_port,
            uid=uid, inode=inode, v6only=v6only,
        ))
    return rows


def read_proc_net(base: Path, tables: Iterable[tuple[str, str]],
                  inodes: Collection[int] | None = None) -> list[SocketRow]:
    """The sockets of ``tables`` (see INET_TABLES) under ``base``: ``/proc`` (the reader's
    network namespace) or ``/proc/PID`` (that process's). A table that cannot be read (no IPv6
    in this kernel or namespace, a protocol not loaded, permission) is skipped.

    With ``inodes``, only those sockets, and the reading stops once all are found: a busy
    host's /proc/net/tcp holds tens of thousands of lines (TIME-WAIT included) and one process
    usually owns a handful of them.
    """
    rows: list[SocketRow] = []
    missing = None if inodes is None else set(inodes)
    for proto, rel in tables:
        if missing is not None and not missing:
            break  # all found
        try:
            text = (base / rel).read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        if missing is not None:
            text = narrow_to_inodes(text, missing)
        found = parse_proc_net(text, proto, missing)
        rows.extend(found)
        if missing is not None:
            missing.difference_update(r.inode for r in found)
    return rows


_FEW = 64  # up to this many sockets, find their lines by substring search, not by parsing all


def narrow_to_inodes(text: str, inodes: Collection[int]) -> str:
    """A /proc/net table cut down to its header and the lines that may hold one of ``inodes``
    (the parser checks the column), when they are few; else the whole table."""
    if len(inodes) > _FEW:
        return text
    header, _, body = text.partition("\n")
    lines = [header]
    for inode in inodes:
        needle = f" {inode}"
        pos = body.find(needle)
        while pos >= 0:
            after = pos + len(needle)
            if after < len(body) and body[after] not in " \n":
                pos = body.find(needle, after)  # a longer number: 1005 in 10050
                continue
            start = body.rfind("\n", 0, pos) + 1
            end = body.find("\n", pos)
            end = len(body) if end < 0 else end
            lines.append(body[start:end])
            pos = body.find(needle, end)
    return "\n".join(lines) + "\n"


def count_tcp_states(root: Path) -> dict[str, int]:
    """Sockets per TCP state over /proc/net/tcp and tcp6 (only the `st` column is read).

    Cheaper than parsing the rows, dearer than ``count_tcp_states_diag`` (the kernel still
    formats every socket as text); for a /proc tree with no live kernel behind it.
    """
    counts: dict[str, int] = {}
    for _proto, rel in TCP_TABLES:
        try:
            # hot path: plain open(), no Path method per read
            with open(root / rel, encoding="ascii", errors="replace") as fh:  # noqa: PTH123
                text = fh.read()
        except OSError:
            continue
        for line in text.splitlines()[1:]:
            parts = line.split(None, 4)
            if len(parts) >= 4:
                state = TCP_STATES.get(parts[3], parts[3])
                counts[state] = counts.get(state, 0) + 1
    return counts


def socket_owners(proc_root: Path, pids: Iterable[int] | None = None
                  ) -> dict[int, list[SocketOwner]]:
    """inode -> owners, from the ``socket:[INODE]`` links in /proc/PID/fd (one pass)."""
    root = str(proc_root)
    owners: dict[int, list[SocketOwner]] = {}
    if pids is None:
        pids = [int(n) for n in os.listdir(root) if n.isdigit()]
    for pid in pids:
        fd_dir = f"{root}/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:  # exited, or another user's process without privileges
            continue
        name: str | None = None
        for fd in fds:
            try:
                link = os.readlink(f"{fd_dir}/{fd}")  # noqa: PTH115  # hot path: no Path per fd
            except OSError:
                continue
            if not link.startswith("socket:["):
                continue
            if name is None:
                name = _comm(root, pid)
            owners.setdefault(int(link[8:-1]), []).append(SocketOwner(pid, name, int(fd)))
    return owners


def network_namespace(proc_root: Path, pid: int | str) -> str | None:
    """The network namespace of ``pid`` (``net:[4026531840]``), or None when it cannot be read
    (gone, or another user's process without privileges)."""
    try:
        return os.readlink(f"{proc_root}/{pid}/ns/net")  # noqa: PTH115  # a name, not a path
    except OSError:
        return None


def foreign_namespace_pid(proc_root: Path, pids: Iterable[int]) -> int | None:
    """A PID whose network namespace holds all of ``pids`` when that is not the reader's (they
    run in one container, say), else None: its /proc/PID/net has their namespace's counters."""
    pids = list(pids)
    spaces = {network_namespace(proc_root, pid) for pid in pids}
    if len(spaces) != 1 or None in spaces or spaces == {network_namespace(proc_root, "self")}:
        return None
    return pids[0]


def _comm(root: str, pid: int) -> str:
    try:
        with open(f"{root}/{pid}/comm", "rb") as fh:  # noqa: PTH123  # hot path
            return fh.read().decode("utf-8", "replace").rstrip("\n")
    except OSError:
        return "?"


class SocketCollector:
    """Reads the socket table. ``sock_diag`` asks the live kernel for what /proc lacks; it is
    on by default only for the real /proc (a fake tree in tests has no kernel behind it)."""

    def __init__(self, proc_root: str | Path = "/proc", *, sock_diag: bool | None = None) -> None:
        self.root = Path(proc_root)
        self.sock_diag = (str(self.root) == "/proc") if sock_diag is None else sock_diag

    def sockets(self, *, tcp: bool = True, udp: bool = False,
                pids: Iterable[int] | None = None) -> list[SocketRow]:
        """Sockets of the chosen protocols with their owners; with ``pids``, only theirs."""
        tables: Sequence[tuple[str, str]] = (TCP_TABLES if tcp else ()) + (
            UDP_TABLES if udp else ())
        wanted = None if pids is None else set(pids)
        owners = socket_owners(self.root, wanted)
        if wanted is None:
            rows = read_proc_net(self.root, tables)
        else:  # only their sockets, looked up by inode, in each of their network namespaces
            rows = []
            for base in self._netns_bases(wanted):
                found = read_proc_net(base, tables, owners.keys() - {r.inode for r in rows})
                rows.extend(found)
        extra = self._diag(tcp=tcp, udp=udp) if self.sock_diag else {}
        v6only_default = self._bindv6only()
        out = []
        for row in rows:
            who = tuple(owners.get(row.inode, ())) if row.inode else ()
            if wanted is not None and not who:
                continue
            send_q, v6only = row.send_q, row.v6only
            info = extra.get(row.inode) if row.inode else None
            if info is not None:
                if row.state == "LISTEN":
                    send_q = info.wqueue
                if info.v6only is not None:
                    v6only = info.v6only
            elif row.local_ip.version == 6 and row.local_ip.is_unspecified:
                v6only = v6only_default
            out.append(SocketRow(
                proto=row.proto, state=row.state, recv_q=row.recv_q, send_q=send_q,
                local_ip=row.local_ip, local_port=row.local_port, peer_ip=row.peer_ip,
                peer_port=row.peer_port, inode=row.inode, uid=row.uid, v6only=v6only,
                owners=tuple(sorted(who, key=lambda o: (o.pid, o.fd))),
            ))
        return out

    def _netns_bases(self, pids: Iterable[int]) -> list[Path]:
        """Where to read the socket tables of ``pids``: ``/proc/PID/net`` shows the tables of
        that process's network namespace (a container's, say), ``/proc/net`` only the reader's.
        One base per namespace; the reader's own first. A namespace link that cannot be read
        (another user's process) falls back to the reader's namespace."""
        bases: dict[str | None, Path] = {network_namespace(self.root, "self"): self.root}
        for pid in sorted(pids):
            ns = network_namespace(self.root, pid)
            if ns is not None:
                bases.setdefault(ns, self.root / str(pid))
        return list(bases.values())

    def _bindv6only(self) -> bool:
        try:
            return (self.root / "sys/net/ipv6/bindv6only").read_text().strip() == "1"
        except OSError:
            return False

    def _diag(self, *, tcp: bool, udp: bool) -> dict[int, DiagInfo]:
        """inode -> backlog/v6only, for the sockets /proc leaves ambiguous; {} if unavailable."""
        out: dict[int, DiagInfo] = {}
        queries = []
        if tcp:  # listening sockets: backlog (both families) and v6only (IPv6)
            queries += [(socket.AF_INET, socket.IPPROTO_TCP, 1 << 10),
                        (socket.AF_INET6, socket.IPPROTO_TCP, 1 << 10)]
        if udp:
            queries.append((socket.AF_INET6, socket.IPPROTO_UDP, 0xFFFFFFFF))
        for family, proto, states in queries:
            with contextlib.suppress(OSError):
                out.update(sock_diag_dump(family, proto, states))
        return out


def count_tcp_states_diag() -> dict[str, int]:
    """TCP sockets per state (ss names), over IPv4 and IPv6, from sock_diag.

    The same counts as ``count_tcp_states`` at a fraction of the cost: the kernel formats no
    text, and only the state byte of each message is read. Raises OSError when sock_diag is
    unavailable.
    """
    return {TCP_STATES.get(f"{code:02X}", str(code)): n
            for code, n in tcp_state_codes_diag().items()}
