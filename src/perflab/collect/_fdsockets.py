"""What the socket fds of one process are, as lsof names them (``perflab proc``), by inode.

An open file descriptor that is a socket reads as ``socket:[INODE]``; the kernel's socket tables
turn that inode into endpoints and a state, as lsof and ss do. They are read from
``/proc/PID/net/...`` so that a process in another network namespace is looked up in its own
tables. The inet tables (tcp, udp, udplite, raw; v4 and v6) are parsed by collect.sockets, the
one parser of them; unix and netlink, which only this view shows, here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from perflab.collect._contracts import ProcFileSocket
from perflab.collect.sockets import (
    INET_TABLES,
    IPAddress,
    SocketRow,
    ip_text,
    narrow_to_inodes,
    read_proc_net,
)


@dataclass(frozen=True, slots=True)
class SocketEntry:
    """One socket of a /proc/net table."""

    inode: int
    proto: str                # "TCP", "UDP", "unix", "netlink"
    family: str               # "IPv4", "IPv6", "unix", "netlink"
    local: str                # "127.0.0.1:8080", "[::1]:53", a unix path, "" when unnamed
    remote: str | None        # peer endpoint; None when unconnected / not applicable
    state: str | None         # "LISTEN", "ESTAB", "UNCONN" ...
    extra: str | None = None  # unix socket type (STREAM, DGRAM ...), netlink protocol

    def describe(self) -> str:
        """The lsof-like NAME column: ``local->remote (STATE)``."""
        text = self.local or "(unnamed)"
        if self.remote:
            text += f"->{self.remote}"
        if self.state:
            text += f" ({self.state})"
        return text

    def to_json(self) -> ProcFileSocket:
        return {"inode": self.inode, "proto": self.proto, "family": self.family,
                "local": self.local, "remote": self.remote, "state": self.state,
                "socket_type": self.extra}


def lsof_endpoint(ip: IPAddress, port: int) -> str:
    """``127.0.0.1:8080``, ``[::1]:8080``; a zero port stays ``0`` (lsof's spelling; ss
    writes ``*``, see sockets.format_endpoint)."""
    return f"{ip_text(ip)}:{port}" if ip.version == 4 else f"[{ip_text(ip)}]:{port}"


def inet_entry(row: SocketRow) -> SocketEntry:
    """A row of the inet tables (parsed by collect.sockets) as lsof names it."""
    unconnected = row.peer_ip.is_unspecified and row.peer_port == 0
    return SocketEntry(
        inode=row.inode, proto=row.proto.upper(), family=f"IPv{row.family}",
        local=lsof_endpoint(row.local_ip, row.local_port),
        remote=None if unconnected else lsof_endpoint(row.peer_ip, row.peer_port),
        state=row.state,
    )


_UNIX_TYPES = {"0001": "STREAM", "0002": "DGRAM", "0005": "SEQPACKET"}
_UNIX_STATES = {"01": "UNCONN", "02": "CONNECTING", "03": "CONNECTED", "04": "DISCONNECTING"}
_SO_ACCEPTCON = 0x00010000  # the Flags column has this bit for a listening socket


def parse_unix_table(text: str) -> dict[int, SocketEntry]:
    """/proc/net/unix: ``Num RefCount Protocol Flags Type St Inode [Path]``."""
    out = {}
    for line in text.splitlines()[1:]:
        f = line.split(None, 7)
        if len(f) < 7:
            continue
        inode = int(f[6])
        listening = int(f[3], 16) & _SO_ACCEPTCON
        path = f[7].strip() if len(f) > 7 else ""
        if path.startswith("@"):  # abstract namespace; the kernel prints the NUL as '@'
            path = path.replace("\0", "@")
        out[inode] = SocketEntry(
            inode=inode, proto="unix", family="unix", local=path, remote=None,
            state="LISTEN" if listening else _UNIX_STATES.get(f[5], f[5]),
            extra=_UNIX_TYPES.get(f[4], f[4]),
        )
    return out


_NETLINK_PROTOCOLS = {0: "ROUTE", 4: "SOCK_DIAG", 9: "AUDIT", 15: "KOBJECT_UEVENT", 16: "GENERIC"}


def parse_netlink_table(text: str) -> dict[int, SocketEntry]:
    """/proc/net/netlink: ``sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode``."""
    out = {}
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 10:
            continue
        inode, proto = int(f[9]), int(f[1])
        out[inode] = SocketEntry(
            inode=inode, proto="netlink", family="netlink", local=f"pid {f[2]}", remote=None,
            state=None, extra=_NETLINK_PROTOCOLS.get(proto, str(proto)),
        )
    return out


_OTHER_TABLES: tuple[tuple[str, Callable[[str], dict[int, SocketEntry]]], ...] = (
    ("net/unix", parse_unix_table), ("net/netlink", parse_netlink_table))


def read_socket_tables(base: Path, wanted: set[int] | None = None) -> dict[int, SocketEntry]:
    """The sockets in the tables under ``base`` (``/proc/PID`` or ``/proc``), by inode.

    With ``wanted``, only those inodes are looked up (see sockets.read_proc_net). A table that
    cannot be read (absent protocol, permission) is skipped: its sockets then show as plain
    ``sock`` with their inode, as lsof shows them. Sockets with inode 0 (TIME-WAIT, orphans)
    belong to no process and are left out.
    """
    out = {row.inode: inet_entry(row) for row in read_proc_net(base, INET_TABLES, wanted)
           if row.inode}
    for rel, parse in _OTHER_TABLES:
        if wanted is not None and not wanted - out.keys():
            break  # all found
        text = _read(base / rel)
        if text is None:
            continue
        if wanted is not None:
            text = narrow_to_inodes(text, wanted - out.keys())
        found = parse(text)
        out.update(found if wanted is None else {i: e for i, e in found.items() if i in wanted})
    return out


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
