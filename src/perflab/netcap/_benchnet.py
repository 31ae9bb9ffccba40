"""``perflab bench net``: TCP throughput between two sockets on loopback, iperf3-style.

The sender pushes a file already in the page cache with ``os.sendfile`` and the receiver
splices the socket into a pipe and the pipe into /dev/null, so no byte passes through Python;
both calls release the GIL, so one sender and one receiver thread per stream keep the two cores
busy as iperf3's client and server processes do. Bytes are counted per stream and sampled every
interval; the receivers read each stream to its end, so every byte sent is counted received.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import struct
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from perflab.serving import listening_socket

if TYPE_CHECKING:
    from perflab.netcap._contracts import BenchNetDoc, NetIntervalDoc, NetSumDoc

_CHUNK = 4 * 1024 * 1024
_FILE_BYTES = 64 * 1024 * 1024
_PIPE_BYTES = 1024 * 1024
_F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ, named in Python 3.10+ only on some builds
_TCPI_TOTAL_RETRANS = 100  # offset of tcpi_total_retrans in struct tcp_info (Linux)


@dataclass(slots=True)
class _Stream:
    sender: socket.socket
    receiver: socket.socket
    sent: int = 0
    received: int = 0
    marks: list[int] = field(default_factory=list)  # received bytes at each interval's end


def _retransmits(sock: socket.socket) -> int:
    with contextlib.suppress(OSError):
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        if len(info) >= _TCPI_TOTAL_RETRANS + 4:
            return int(struct.unpack_from("I", info, _TCPI_TOTAL_RETRANS)[0])
    return 0


def _send(stream: _Stream, fd: int, deadline: float) -> None:
    offset = 0
    with contextlib.suppress(OSError):
        while time.monotonic() < deadline:
            n = os.sendfile(stream.sender.fileno(), fd, offset, _CHUNK)
            stream.sent += n
            offset = (offset + n) % (_FILE_BYTES - _CHUNK)
    with contextlib.suppress(OSError):
        stream.sender.shutdown(socket.SHUT_WR)


def _receive(stream: _Stream) -> None:
    """Socket -> pipe -> /dev/null with splice: the bytes never reach user space (iperf3 reads
    them into a buffer; this leaves the core to the sender). recv_into where splice fails."""
    read_end, write_end = os.pipe()
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        with contextlib.suppress(OSError):
            fcntl.fcntl(write_end, _F_SETPIPE_SZ, _PIPE_BYTES)
        with contextlib.suppress(OSError):
            fd = stream.receiver.fileno()
            while n := os.splice(fd, write_end, _PIPE_BYTES):
                stream.received += n
                while n:
                    n -= os.splice(read_end, devnull, n)
            return
        view = memoryview(bytearray(_CHUNK))
        with contextlib.suppress(OSError):
            while n := stream.receiver.recv_into(view):
                stream.received += n
    finally:
        for fd in (read_end, write_end, devnull):
            os.close(fd)


def _pair(server: socket.socket, *, reverse: bool) -> _Stream:
    client = socket.create_connection(server.getsockname()[:2])
    accepted, _ = server.accept()
    for s in (client, accepted):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # normal: the client sends to the server; -R: the server sends (iperf3's meaning)
    return _Stream(accepted, client) if reverse else _Stream(client, accepted)


def run_tcp(duration_s: float, streams: int = 1, *, reverse: bool = False,
            interval_s: float = 1.0) -> BenchNetDoc:
    """Run the test; the result in iperf3's ``-J`` shape (``start``, ``intervals``, ``end``)."""
    with tempfile.TemporaryFile() as data:
        data.truncate(_FILE_BYTES)
        data.write(b"\0")  # a sparse file reads as zeros from the page cache
        server = listening_socket("127.0.0.1", 0)
        pairs = [_pair(server, reverse=reverse) for _ in range(streams)]
        server.close()
        start = time.monotonic()
        deadline = start + duration_s
        threads = [threading.Thread(target=_receive, args=(p,), daemon=True) for p in pairs]
        threads += [threading.Thread(target=_send, args=(p, data.fileno(), deadline),
                                     daemon=True) for p in pairs]
        for t in threads:
            t.start()
        ticks = []
        while (now := time.monotonic()) < deadline:
            time.sleep(min(interval_s, deadline - now))
            ticks.append(time.monotonic() - start)
            for p in pairs:
                p.marks.append(p.received)
        for t in threads:
            t.join(30)
        retransmits = sum(_retransmits(p.sender) for p in pairs)
        for p in pairs:
            p.sender.close()
            p.receiver.close()
    return _document(pairs, ticks, duration_s, retransmits, reverse=reverse)


def _sum(start: float, end: float, nbytes: int, **extra: Any) -> NetSumDoc:
    seconds = max(end - start, 1e-9)
    doc: NetSumDoc = {"start": start, "end": end, "seconds": seconds, "bytes": nbytes,
                      "bits_per_second": nbytes * 8 / seconds, "sender": False}
    doc.update(extra)  # type: ignore[typeddict-item]  # sender, retransmits, socket
    return doc


def _document(pairs: list[_Stream], ticks: list[float], duration_s: float, retransmits: int,
              *, reverse: bool) -> BenchNetDoc:
    intervals: list[NetIntervalDoc] = []
    previous = [0] * len(pairs)
    last = 0.0
    for i, tick in enumerate(ticks):
        per = [p.marks[i] - previous[k] for k, p in enumerate(pairs)]
        previous = [p.marks[i] for p in pairs]
        intervals.append({
            "streams": [_sum(last, tick, n, socket=k + 1, sender=False)
                        for k, n in enumerate(per)],
            "sum": _sum(last, tick, sum(per), sender=False)})
        last = tick
    sent = sum(p.sent for p in pairs)
    received = sum(p.received for p in pairs)
    return {
        "schema": "perflab.bench-net/1",
        "start": {"test_start": {"protocol": "TCP", "num_streams": len(pairs),
                                 "duration": duration_s, "reverse": int(reverse)}},
        "intervals": intervals,
        "end": {"sum_sent": _sum(0.0, duration_s, sent, retransmits=retransmits, sender=True),
                "sum_received": _sum(0.0, duration_s, received, sender=True)},
    }


_UDP_HEADER = struct.Struct("!QQ")  # send time (ns, this host's monotonic clock), sequence number
_UDP_DRAIN_S = 0.5


@dataclass(slots=True)
class _UdpCount:
    packets: int = 0
    bytes: int = 0
    highest: int = -1
    jitter_ns: float = 0.0
    last_transit_ns: int | None = None
    marks: list[int] = field(default_factory=list)


def _udp_send(sock: socket.socket, rate_bps: float, length: int, deadline: float,
              counts: list[int]) -> None:
    payload = bytearray(length)
    gap_ns = length * 8 / rate_bps * 1e9
    start = time.perf_counter_ns()
    seq = 0
    while True:
        due = start + seq * gap_ns
        ahead = due - time.perf_counter_ns()
        if ahead > 0:
            time.sleep(ahead / 1e9)
        if time.monotonic() >= deadline:
            break
        _UDP_HEADER.pack_into(payload, 0, time.perf_counter_ns(), seq)
        with contextlib.suppress(OSError):  # ENOBUFS: the datagram is lost, as on a wire
            sock.send(payload)
        counts[0] += 1
        counts[1] += length
        seq += 1


def _udp_receive(sock: socket.socket, count: _UdpCount, stop: threading.Event) -> None:
    """Loss from gaps in the sequence numbers; jitter as RFC 3550 (and iperf3) define it: the
    mean deviation of the transit time between consecutive datagrams, smoothed by 1/16."""
    view = memoryview(bytearray(65536))
    sock.settimeout(0.1)
    while not stop.is_set():
        try:
            n = sock.recv_into(view)
        except TimeoutError:
            continue
        except OSError:
            return
        sent_ns, seq = _UDP_HEADER.unpack_from(view)
        transit = time.perf_counter_ns() - sent_ns
        if count.last_transit_ns is not None:
            count.jitter_ns += (abs(transit - count.last_transit_ns) - count.jitter_ns) / 16
        count.last_transit_ns = transit
        count.packets += 1
        count.bytes += n
        count.highest = max(count.highest, seq)


def run_udp(duration_s: float, rate_bps: float, *, length: int = 1448,
            interval_s: float = 1.0) -> BenchNetDoc:
    """UDP at ``rate_bps`` for ``duration_s``: iperf3's -u figures (loss, jitter)."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    receiver.bind(("127.0.0.1", 0))
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.connect(receiver.getsockname())
    count, sent, stop = _UdpCount(), [0, 0], threading.Event()
    start = time.monotonic()
    deadline = start + duration_s
    reader = threading.Thread(target=_udp_receive, args=(receiver, count, stop), daemon=True)
    writer = threading.Thread(target=_udp_send, args=(sender, rate_bps, length, deadline, sent),
                              daemon=True)
    reader.start()
    writer.start()
    ticks = []
    while (now := time.monotonic()) < deadline:
        time.sleep(min(interval_s, deadline - now))
        ticks.append(time.monotonic() - start)
        count.marks.append(count.bytes)
    writer.join(30)
    time.sleep(_UDP_DRAIN_S)  # what is still in the receive buffer
    stop.set()
    reader.join(5)
    sender.close()
    receiver.close()
    intervals: list[NetIntervalDoc] = []
    last, previous = 0.0, 0
    for tick, mark in zip(ticks, count.marks, strict=True):
        interval = _sum(last, tick, mark - previous, socket=1)
        intervals.append({"streams": [interval], "sum": _sum(last, tick, mark - previous)})
        last, previous = tick, mark
    lost = max(0, sent[0] - count.packets)  # both ends are here: what was sent is known
    udp = {"jitter_ms": count.jitter_ns / 1e6, "lost_packets": lost, "packets": sent[0],
           "lost_percent": 100.0 * lost / sent[0] if sent[0] else 0.0}
    return {
        "schema": "perflab.bench-net/1",
        "start": {"test_start": {"protocol": "UDP", "num_streams": 1, "duration": duration_s,
                                 "reverse": 0}},
        "intervals": intervals,
        "end": {"sum_sent": _sum(0.0, duration_s, sent[1], sender=True),
                "sum_received": _sum(0.0, duration_s, count.bytes, sender=True),
                "sum": _sum(0.0, duration_s, count.bytes, sender=False, **udp)},
    }
