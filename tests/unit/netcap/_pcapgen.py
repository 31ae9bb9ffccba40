"""Capture files built byte by byte: frames of a scripted TCP conversation, written as pcap or
pcapng, so the reader and the analysis are tested against known answers."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
CLIENT = ("10.0.0.1", 40000)
SERVER = ("10.0.0.2", 80)


def tcp_ip(src: tuple[str, int], dst: tuple[str, int], seq: int, *, ack: int, flags: int,
           payload: bytes = b"", window: int = 65535) -> bytes:
    """An IPv4 packet (IPv6 when the addresses are) carrying one TCP segment."""
    tcp = struct.pack("!HHIIHHHH", src[1], dst[1], seq % 2**32, ack % 2**32, (5 << 12) | flags,
                      window, 0, 0) + payload
    a, b = ipaddress.ip_address(src[0]), ipaddress.ip_address(dst[0])
    if a.version == 6:
        return struct.pack("!IHBB", 6 << 28, len(tcp), 6, 64) + a.packed + b.packed + tcp
    return struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0) + a.packed \
        + b.packed + tcp


def ethernet(ip: bytes) -> bytes:
    version = ip[0] >> 4
    return b"\x02" * 6 + b"\x04" * 6 + struct.pack("!H", 0x86DD if version == 6 else 0x0800) + ip


def sll(ip: bytes) -> bytes:
    version = ip[0] >> 4
    proto = 0x86DD if version == 6 else 0x0800
    return struct.pack("!HHH8sH", 0, 1, 6, b"\x02" * 8, proto) + ip


def sll2(ip: bytes) -> bytes:
    version = ip[0] >> 4
    proto = 0x86DD if version == 6 else 0x0800
    return struct.pack("!HHIHBB8s", proto, 0, 1, 1, 0, 6, b"\x02" * 8) + ip


def pcap(frames: list[tuple[int, bytes]], link_type: int = 1, *, nanos: bool = False,
         big_endian: bool = False) -> bytes:
    order = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 262144, link_type)
    for ts_ns, data in frames:
        frac = ts_ns % 10**9 if nanos else ts_ns % 10**9 // 1000
        out += struct.pack(order + "IIII", ts_ns // 10**9, frac, len(data), len(data)) + data
    return out


def pcapng(frames: list[tuple[int, bytes]], link_type: int = 1) -> bytes:
    """Section header, one interface (nanosecond resolution), enhanced packet blocks."""
    def block(kind: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        size = len(body) + 12
        return struct.pack("<II", kind, size) + body + struct.pack("<I", size)

    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    tsresol = struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)
    out += block(1, struct.pack("<HHI", link_type, 0, 262144) + tsresol)
    for ts_ns, data in frames:
        out += block(6, struct.pack("<IIIII", 0, ts_ns >> 32, ts_ns & 0xFFFFFFFF, len(data),
                                    len(data)) + data)
    return out


@dataclass
class Conversation:
    """A TCP connection scripted packet by packet, with each side's sequence numbers kept."""

    client: tuple[str, int] = CLIENT
    server: tuple[str, int] = SERVER
    cseq: int = 1000
    sseq: int = 5000
    now_ns: int = 1_700_000_000_000_000_000
    packets: list[tuple[int, bytes]] = field(default_factory=list)

    def at(self, ms: float) -> Conversation:
        self.now_ns += round(ms * 1_000_000)
        return self

    def send(self, *, from_client: bool, flags: int = ACK, payload: bytes = b"",
             seq: int | None = None, window: int = 65535, advance: bool = True) -> None:
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        mine, theirs = (self.cseq, self.sseq) if from_client else (self.sseq, self.cseq)
        used = seq if seq is not None else mine
        self.packets.append((self.now_ns, tcp_ip(src, dst, used, ack=theirs if flags & ACK else 0,
                                                 flags=flags, payload=payload, window=window)))
        if advance and seq is None:
            grow = len(payload) + (1 if flags & (SYN | FIN) else 0)
            if from_client:
                self.cseq += grow
            else:
                self.sseq += grow

    def handshake(self, rtt_ms: float = 1.0) -> None:
        self.send(from_client=True, flags=SYN)
        self.at(rtt_ms / 2).send(from_client=False, flags=SYN | ACK)
        self.at(rtt_ms / 2).send(from_client=True)

    def frames(self, wrap: object = ethernet) -> list[tuple[int, bytes]]:
        assert callable(wrap)
        return [(ts, wrap(ip)) for ts, ip in self.packets]
