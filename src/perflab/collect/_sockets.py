"""The kernel's socket tables (/proc/net/tcp, tcp6, udp, udp6, unix, netlink), keyed by inode.

An open file descriptor that is a socket reads as ``socket:[INODE]``; these tables turn that
inode into endpoints and a state, as lsof and ss do. Read them from ``/proc/PID/net/...`` so that
a process in another network namespace is looked up in its own tables.
"""

from __future__ import annotations

import functools
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from perflab.collect._procfs import TCP_STATES


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

    def to_json(self) -> dict[str, object]:
        return {"inode": self.inode, "proto": self.proto, "family": self.family,
                "local": self.local, "remote": self.remote, "state": self.state,
                "socket_type": self.extra}


def decode_inet_address(hexaddr: str) -> str:
    """``0100007F:1F90`` -> ``127.0.0.1:8080``; IPv6 as ``[::1]:8080``.

    The kernel prints the address as 32-bit words in host byte order, the port in big-endian
    hex; so each 8-hex-digit word is byte-swapped on little-endian machines.
    """
    addr_hex, _, port_hex = hexaddr.partition(":")
    raw = bytes.fromhex(addr_hex)
    if sys.byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    port = int(port_hex, 16)
    if len(raw) == 4:
        return f"{socket.inet_ntop(socket.AF_INET, raw)}:{port}"
    ip6 = socket.inet_ntop(socket.AF_INET6, raw)
    return f"[{ip6}]:{port}"


def _is_unspecified_peer(endpoint: str) -> bool:
    return endpoint in ("0.0.0.0:0", "[::]:0")


def parse_inet_table(text: str, proto: str, family: str) -> dict[int, SocketEntry]:
    """/proc/net/{tcp,udp}{,6}: ``sl local rem st tx:rx tr:when retrnsmt uid timeout inode``."""
    out = {}
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 10:
            continue
        inode = int(f[9])
        if inode == 0:  # TIME-WAIT and orphaned sockets belong to no process
            continue
        remote = decode_inet_address(f[2])
        out[inode] = SocketEntry(
            inode=inode, proto=proto, family=family, local=decode_inet_address(f[1]),
            remote=None if _is_unspecified_peer(remote) else remote,
            state=TCP_STATES.get(f[3].upper(), f[3]),
        )
    return out


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


_TABLES = (
    ("net/tcp", "TCP", "IPv4"), ("net/tcp6", "TCP", "IPv6"),
    ("net/udp", "UDP", "IPv4"), ("net/udp6", "UDP", "IPv6"),
    ("net/udplite", "UDPLITE", "IPv4"), ("net/udplite6", "UDPLITE", "IPv6"),
    ("net/raw", "RAW", "IPv4"), ("net/raw6", "RAW", "IPv6"),
)


def read_socket_tables(base: Path, wanted: set[int] | None = None) -> dict[int, SocketEntry]:
    """The sockets in the tables under ``base`` (``/proc/PID`` or ``/proc``), by inode.

    With ``wanted``, only those inodes are looked up: a busy host's /proc/net/tcp holds tens of
    thousands of lines (TIME-WAIT included) and one process usually owns a handful of them.
    A table that cannot be read (absent protocol, permission) is skipped: its sockets then show
    as plain ``sock`` with their inode, as lsof shows them.
    """
    out: dict[int, SocketEntry] = {}
    parsers: list[tuple[str, Callable[[str], dict[int, SocketEntry]]]] = [
        (rel, functools.partial(parse_inet_table, proto=proto, family=family))
        for rel, proto, family in _TABLES
    ]
    parsers += [("net/unix", parse_unix_table), ("net/netlink", parse_netlink_table)]
    for rel, parse in parsers:
        if wanted is not None and not wanted - out.keys():
            break  # all found
        text = _read(base / rel)
        if text is None:
            continue
        if wanted is not None and len(wanted) <= _FEW:
            text = _lines_with_inodes(text, wanted - out.keys())
        found = parse(text)
        out.update(found if wanted is None else {i: e for i, e in found.items() if i in wanted})
    return out


_FEW = 64  # up to this many sockets, find their lines by substring search, not by parsing all


def _lines_with_inodes(text: str, inodes: set[int]) -> str:
    """The header and the lines that may hold one of ``inodes`` (the parser checks the column)."""
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


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
