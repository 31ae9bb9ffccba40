"""The kernel's sock_diag netlink interface (linux/inet_diag.h): what /proc/net/tcp does not say.

A dump asks for the sockets of one family and protocol in some states and gets binary records
back, with no text formatted by the kernel: the backlog of listening sockets (``wqueue``),
whether an IPv6 socket is IPv6-only, and cheap per-state counts. collect.sockets uses it.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
INET_DIAG_SKV6ONLY = 11
_NLMSGHDR = struct.Struct("=IHHII")            # len, type, flags, seq, pid
_NLMSG_LEN_TYPE = struct.Struct("=IH")
_REQ_V2 = struct.Struct("=BBBxI48x")           # family, protocol, ext, pad, states, sockid
_DIAG_MSG = struct.Struct("=BBBB48xIIIII")     # family, state, timer, retrans, id, expires,
#                                                 rqueue, wqueue, uid, inode


@dataclass(frozen=True, slots=True)
class DiagInfo:
    rqueue: int
    wqueue: int
    v6only: bool | None


def _diag_messages(family: int, proto: int, states: int) -> Iterator[tuple[bytes, int, int]]:
    """Run one inet_diag dump; yield (buffer, start of the inet_diag_msg, end of the message)."""
    req = _REQ_V2.pack(family, proto, 0, states)
    msg = _NLMSGHDR.pack(_NLMSGHDR.size + len(req), SOCK_DIAG_BY_FAMILY,
                         NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + req
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as nl:
        nl.settimeout(2.0)
        nl.sendto(msg, (0, 0))
        while True:
            data = nl.recv(1 << 17)
            if not data:
                return
            off = 0
            while off + _NLMSGHDR.size <= len(data):
                length, mtype = _NLMSG_LEN_TYPE.unpack_from(data, off)
                if mtype == NLMSG_DONE:
                    return
                if mtype == NLMSG_ERROR or length < _NLMSGHDR.size:
                    raise OSError("sock_diag request refused")
                yield data, off + _NLMSGHDR.size, off + length
                off += (length + 3) & ~3


def sock_diag_dump(family: int, proto: int, states: int) -> dict[int, DiagInfo]:
    """One inet_diag dump: inode -> (rqueue, wqueue, v6only) for sockets in ``states``."""
    out: dict[int, DiagInfo] = {}
    for data, body, end in _diag_messages(family, proto, states):
        _fam, _state, _t, _r, _exp, rq, wq, _uid, inode = _DIAG_MSG.unpack_from(data, body)
        out[inode] = DiagInfo(rq, wq, _v6only_attr(data, body + _DIAG_MSG.size, end))
    return out


def tcp_state_codes_diag() -> dict[int, int]:
    """TCP sockets per state code (the kernel's TCP_* numbers), IPv4 and IPv6 together; only
    the state byte of each message is read. Raises OSError when sock_diag is unavailable."""
    counts: dict[int, int] = {}
    for family in (socket.AF_INET, socket.AF_INET6):
        for data, body, _end in _diag_messages(family, socket.IPPROTO_TCP, 0xFFF):
            state = data[body + 1]
            counts[state] = counts.get(state, 0) + 1
    return counts


def _v6only_attr(data: bytes, start: int, end: int) -> bool | None:
    pos = start
    while pos + 4 <= end:
        alen, atype = struct.unpack_from("=HH", data, pos)
        if alen < 4:
            break
        if atype == INET_DIAG_SKV6ONLY:
            return bool(data[pos + 4])
        pos += (alen + 3) & ~3
    return None
