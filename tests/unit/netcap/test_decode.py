"""Frames to TCP segments: the link layers and IP cases a Linux capture holds."""

from __future__ import annotations

import struct

import pytest
from tests.unit.netcap._pcapgen import ACK, CLIENT, SERVER, ethernet, sll, sll2, tcp_ip

from perflab.netcap._decode import (
    LINK_ETHERNET,
    LINK_IPV6,
    LINK_LINUX_SLL,
    LINK_LINUX_SLL2,
    LINK_NULL,
    LINK_RAW,
    decode,
)

IP = tcp_ip(CLIENT, SERVER, 7, ack=9, flags=ACK, payload=b"hello")
IP6 = tcp_ip(("fd00::1", 1), ("fd00::2", 2), 7, ack=9, flags=ACK, payload=b"hi")


@pytest.mark.parametrize(("link", "frame"), [
    (LINK_ETHERNET, ethernet(IP)),
    (LINK_ETHERNET, ethernet(IP)[:12] + b"\x81\x00\x00\x05" + ethernet(IP)[12:]),  # VLAN 5
    (LINK_LINUX_SLL, sll(IP)),
    (LINK_LINUX_SLL2, sll2(IP)),
    (LINK_RAW, IP),
    (LINK_NULL, struct.pack("=I", 2) + IP),
])
def test_every_link_layer_gives_the_segment(link: int, frame: bytes) -> None:
    seg = decode(link, frame)
    assert seg is not None
    assert (seg.src, seg.sport, seg.dst, seg.dport) == (*CLIENT, *SERVER)
    assert (seg.seq, seg.ack, seg.flags, seg.seglen, seg.payload) == (7, 9, ACK, 5, b"hello")


def test_ipv6_past_a_hop_by_hop_header() -> None:
    hop = bytes([6, 0]) + b"\0" * 6  # next header TCP, 8 bytes
    packet = bytearray(IP6[:40]) + hop + IP6[40:]
    packet[6] = 0  # hop-by-hop first
    struct.pack_into("!H", packet, 4, len(packet) - 40)
    seg = decode(LINK_IPV6, bytes(packet))
    assert seg is not None
    assert (seg.src, seg.dst, seg.payload) == ("[fd00::1]", "[fd00::2]", b"hi")


def test_snaplen_cut_payload_still_counts_its_length() -> None:
    seg = decode(LINK_RAW, IP[:42])  # IP + TCP headers + 2 payload bytes kept
    assert seg is not None
    assert (seg.seglen, seg.payload) == (5, b"he")


@pytest.mark.parametrize(("link", "frame"), [
    (LINK_ETHERNET, b"\0" * 10),                                   # runt
    (LINK_ETHERNET, b"\0" * 12 + b"\x08\x06" + b"\0" * 28),        # ARP
    (LINK_RAW, IP[:9] + b"\x11" + IP[10:]),                        # UDP
    (LINK_RAW, IP[:6] + b"\x00\x10" + IP[8:]),                     # a later fragment
    (LINK_RAW, IP[:30]),                                           # TCP header cut
    (LINK_RAW, b""),
    (LINK_LINUX_SLL, b"\0" * 8),
    (LINK_LINUX_SLL2, b"\0" * 8),
    (LINK_NULL, b"\0\0"),
    (LINK_IPV6, IP6[:6] + b"\x11" + IP6[7:]),                      # IPv6 UDP
    (147, IP),                                                     # a user link type
])
def test_what_is_not_a_tcp_segment(link: int, frame: bytes) -> None:
    assert decode(link, frame) is None
