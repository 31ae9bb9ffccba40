"""Reading capture files: classic pcap (either byte order, micro- or nanosecond stamps) and
pcapng (section, interface, enhanced and simple packet blocks), with the struct module only.

A file that ends mid-record keeps every whole packet before the cut: ``PcapFile.truncated``
says so, and the caller reports it instead of dropping what was read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from perflab.errors import InvalidFile

if TYPE_CHECKING:
    from collections.abc import Iterator

_PCAP_MAGICS = {  # magic as read little-endian -> (byte order, ticks per second)
    0xA1B2C3D4: ("<", 1_000_000), 0xD4C3B2A1: (">", 1_000_000),
    0xA1B23C4D: ("<", 1_000_000_000), 0x4D3CB2A1: (">", 1_000_000_000),
}
_PCAPNG_SHB = 0x0A0D0D0A
_PCAPNG_BOM = 0x1A2B3C4D
_PCAPNG_IDB = 1
_PCAPNG_SPB = 3
_PCAPNG_EPB = 6
_IF_TSRESOL = 9


class ByteSource(Protocol):
    """Where a capture is read from: a file, or tcpdump's stdout as the live mode reads it
    (``read(n)`` blocks until ``n`` bytes or the end, as a buffered pipe's does)."""

    def read(self, n: int, /) -> bytes: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Packet:
    """One captured frame: when (ns since the epoch), its link type, and the bytes kept."""

    ts_ns: int
    link_type: int
    data: bytes


@dataclass(slots=True)
class PcapFile:
    """The packets of one file, read lazily by ``packets()``; ``truncated`` once a cut was met."""

    path: str
    stream: ByteSource
    truncated: bool = False
    link_types: set[int] = field(default_factory=set)

    def packets(self) -> Iterator[Packet]:
        head = self.stream.read(4)
        if len(head) < 4:  # a magic number's size
            raise InvalidFile("not a capture file: shorter than a pcap header", path=self.path,
                              hint="write captures with `perflab capture` or tcpdump -w")
        (magic,) = struct.unpack("<I", head)
        if magic == _PCAPNG_SHB:
            yield from self._pcapng(head)
        elif magic in _PCAP_MAGICS:
            yield from self._pcap(*_PCAP_MAGICS[magic])
        else:
            raise InvalidFile(f"not a pcap or pcapng file (magic 0x{magic:08x})", path=self.path,
                              hint="write captures with `perflab capture` or tcpdump -w")

    def _read(self, n: int) -> bytes | None:
        """``n`` bytes, or None (and ``truncated``) when the file ends inside them."""
        data = self.stream.read(n)
        if len(data) == n:
            return data
        if data:
            self.truncated = True
        return None

    def _pcap(self, order: str, ticks: int) -> Iterator[Packet]:
        rest = self._read(20)
        if rest is None:
            self.truncated = True
            return
        link_type = struct.unpack(order + "IIIIHHI", b"\0" * 4 + rest)[6] & 0x0FFFFFFF
        self.link_types.add(link_type)
        record = struct.Struct(order + "IIII")
        scale = 1_000_000_000 // ticks
        while (header := self._read(16)) is not None:
            sec, frac, incl, _orig = record.unpack(header)
            data = self._read(incl)
            if data is None:
                self.truncated = True
                return
            yield Packet(sec * 1_000_000_000 + frac * scale, link_type, data)

    def _pcapng(self, first: bytes) -> Iterator[Packet]:
        order = "<"
        interfaces: list[tuple[int, int]] = []  # (link type, ticks per second)
        block_type = struct.unpack("<I", first)[0]
        while True:
            length_bytes = self._read(4)
            if length_bytes is None:
                return
            if block_type == _PCAPNG_SHB:
                bom = self._read(4)
                if bom is None:
                    return
                order = "<" if struct.unpack("<I", bom)[0] == _PCAPNG_BOM else ">"
                interfaces = []
                length = struct.unpack(order + "I", length_bytes)[0]
                body = self._read(length - 16)
            else:
                length = struct.unpack(order + "I", length_bytes)[0]
                body = self._read(length - 12)
            if body is None or self._read(4) is None or length < 12:
                self.truncated = True
                return
            if block_type == _PCAPNG_IDB:
                link_type = struct.unpack(order + "H", body[:2])[0]
                interfaces.append((link_type, _tsresol(body[8:], order)))
                self.link_types.add(link_type)
            elif block_type == _PCAPNG_EPB:
                iface, hi, lo, incl = struct.unpack(order + "IIII", body[:16])
                link_type, ticks = interfaces[iface] if iface < len(interfaces) else (-1, 10**6)
                stamp = (hi << 32) | lo
                yield Packet(stamp * 1_000_000_000 // ticks, link_type, body[20:20 + incl])
            elif block_type == _PCAPNG_SPB and interfaces:
                yield Packet(0, interfaces[0][0], body[4:])
            head = self._read(4)
            if head is None:
                return
            block_type = struct.unpack(order + "I", head)[0]


def _tsresol(options: bytes, order: str) -> int:
    """An interface's ticks per second, from its if_tsresol option (default microseconds)."""
    at = 0
    while at + 4 <= len(options):
        code, size = struct.unpack(order + "HH", options[at:at + 4])
        if code == 0:
            break
        if code == _IF_TSRESOL and size >= 1:
            value = int(options[at + 4])
            ticks: int = 2 ** (value & 0x7F) if value & 0x80 else 10 ** value
            return ticks
        at += 4 + (size + 3) // 4 * 4
    return 1_000_000


def open_capture(path: str) -> PcapFile:
    """A capture file, opened for ``packets()``; an unreadable path is one clear error."""
    try:
        stream = open(path, "rb")  # noqa: SIM115, PTH123  # the caller closes it
    except OSError as exc:
        raise InvalidFile(f"cannot read: {exc.strerror}", path=path,
                          hint="give the .pcap file written by `perflab capture -o`") from exc
    return PcapFile(path, stream)
