"""Frames to TCP segments: the link layers a Linux capture writes (Ethernet with VLAN tags,
Linux cooked SLL and SLL2 for ``-i any``, raw IP, BSD loopback), then IPv4/IPv6 and TCP."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

LINK_NULL = 0
LINK_ETHERNET = 1
LINK_RAW = 101
LINK_LINUX_SLL = 113
LINK_LINUX_SLL2 = 276
LINK_IPV4 = 228
LINK_IPV6 = 229
SUPPORTED_LINKS = {
    LINK_NULL: "BSD loopback", LINK_ETHERNET: "Ethernet", LINK_RAW: "raw IP",
    LINK_LINUX_SLL: "Linux cooked (SLL)", LINK_LINUX_SLL2: "Linux cooked (SLL2)",
    LINK_IPV4: "IPv4", LINK_IPV6: "IPv6",
}

_ETH_IPV4 = 0x0800
_ETH_IPV6 = 0x86DD
_VLAN_TAGS = {0x8100, 0x88A8}
_PROTO_TCP = 6
_IPV6_EXTENSIONS = {0, 43, 60}  # hop-by-hop, routing, destination options

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


@dataclass(frozen=True, slots=True)
class Segment:
    """One TCP segment: endpoints as text, the header fields the analysis needs, the payload
    kept by the capture and the payload's length on the wire (``seglen``, from the IP header,
    so a small snaplen still counts bytes right)."""

    src: str
    sport: int
    dst: str
    dport: int
    seq: int
    ack: int
    flags: int
    window: int
    seglen: int
    payload: bytes


def _network(link_type: int, data: bytes) -> tuple[int, bytes] | None:
    """(ethertype, network-layer bytes) of a frame, or None for what is not IP."""
    if link_type == LINK_ETHERNET:
        if len(data) < 14:  # Ethernet header
            return None
        at, proto = 14, struct.unpack_from("!H", data, 12)[0]
        while proto in _VLAN_TAGS and len(data) >= at + 4:
            proto = struct.unpack_from("!H", data, at + 2)[0]
            at += 4
        return proto, data[at:]
    if link_type == LINK_LINUX_SLL:
        return (struct.unpack_from("!H", data, 14)[0], data[16:]) if len(data) >= 16 else None
    if link_type == LINK_LINUX_SLL2:
        return (struct.unpack_from("!H", data, 0)[0], data[20:]) if len(data) >= 20 else None
    if link_type == LINK_NULL:
        if len(data) < 4:
            return None
        family = struct.unpack_from("=I", data)[0]
        return (_ETH_IPV4 if family == 2 else _ETH_IPV6), data[4:]  # AF_INET
    if link_type in (LINK_RAW, LINK_IPV4, LINK_IPV6):
        if not data:
            return None
        return (_ETH_IPV4 if data[0] >> 4 == 4 else _ETH_IPV6), data
    return None


def _ip(proto: int, packet: bytes) -> tuple[str, str, int, bytes] | None:
    """(source, destination, TCP length on the wire, TCP bytes kept) of an IP packet carrying
    TCP (not a later fragment), or None."""
    if proto == _ETH_IPV4 and len(packet) >= 20:
        ihl = (packet[0] & 0x0F) * 4
        total, frag, ip_proto = (struct.unpack_from("!H", packet, 2)[0],
                                 struct.unpack_from("!H", packet, 6)[0], packet[9])
        if ip_proto != _PROTO_TCP or frag & 0x1FFF:
            return None
        src = str(ipaddress.IPv4Address(packet[12:16]))
        dst = str(ipaddress.IPv4Address(packet[16:20]))
        return src, dst, total - ihl, packet[ihl:total]
    if proto == _ETH_IPV6 and len(packet) >= 40:
        length, next_header = struct.unpack_from("!H", packet, 4)[0], packet[6]
        at = 40
        while next_header in _IPV6_EXTENSIONS and len(packet) >= at + 8:
            next_header, ext = packet[at], (packet[at + 1] + 1) * 8
            length -= ext
            at += ext
        if next_header != _PROTO_TCP:
            return None
        src = f"[{ipaddress.IPv6Address(packet[8:24])}]"
        dst = f"[{ipaddress.IPv6Address(packet[24:40])}]"
        return src, dst, length, packet[at:at + length]
    return None


def decode(link_type: int, data: bytes) -> Segment | None:
    """The TCP segment in a frame, or None when the frame carries something else (or too
    little of its TCP header was captured)."""
    net = _network(link_type, data)
    if net is None:
        return None
    ip = _ip(*net)
    if ip is None:
        return None
    src, dst, tcp_len, tcp = ip
    if len(tcp) < 20:  # TCP header
        return None
    sport, dport, seq, ack, off_flags, window = struct.unpack_from("!HHIIHH", tcp)
    offset = (off_flags >> 12) * 4
    return Segment(src, sport, dst, dport, seq, ack, off_flags & 0x1FF, window,
                   max(0, tcp_len - offset), tcp[offset:])

