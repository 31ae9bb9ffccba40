"""``perflab bench net``: TCP and UDP throughput between two sockets, iperf3-style, on loopback
or across two network namespaces joined by a veth pair (``--netns``, see ``_netns``).

The sender pushes a file already in the page cache with ``os.sendfile`` and the receiver
splices the socket into a pipe and the pipe into /dev/null, so no byte passes through Python;
both calls release the GIL, so one sender and one receiver thread per stream keep the two cores
busy as iperf3's client and server processes do. Bytes are counted per stream and sampled every
interval; the receivers read each stream to its end, so every byte sent is counted received.

With ``--netns`` each socket is created inside its side's namespace (the server's listening and
receiving sockets in the server's, the client's in the client's); the threads that move the bytes
are the same.
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
from typing import TYPE_CHECKING, Any, Literal

from perflab.errors import Unreachable
from perflab.netcap._netns import inside, veth_pair
from perflab.serving import listening_socket

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from perflab.netcap._contracts import (
        BenchNetDoc,
        NetConnectedDoc,
        NetIntervalDoc,
        NetStartDoc,
        NetSumDoc,
        NetUdpFiguresDoc,
    )

SCHEMA: Literal["perflab.bench-net/2"] = "perflab.bench-net/2"
_CONNECT_TIMEOUT_S = 5.0  # a veth link that has just come up may refuse for a moment


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the two ends live: loopback in this namespace (the default), or the server and
    the client each in a namespace of its own (``NetnsPair``)."""

    server_addr: str = "127.0.0.1"
    server_ns: str | None = None
    client_ns: str | None = None

    def netns(self) -> dict[str, str] | None:
        if self.server_ns is None or self.client_ns is None:
            return None
        return {"server": self.server_ns, "client": self.client_ns}


LOOPBACK = Endpoints()


@contextlib.contextmanager
def endpoints(*, netns: bool) -> Iterator[Endpoints]:
    """Loopback, or two namespaces joined by a veth pair that exist for the block only."""
    if not netns:
        yield LOOPBACK
        return
    with veth_pair() as pair:
        yield Endpoints(pair.server_addr, pair.server, pair.client)

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


def _send(stream: _Stream, fd: int, deadline: float, done: threading.Event) -> None:
    offset = 0
    with contextlib.suppress(OSError):
        while time.monotonic() < deadline and not done.is_set():
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


def _connect(ends: Endpoints, address: tuple[str, int], kind: int) -> socket.socket:
    """A client socket in the client's namespace, connected to ``address`` (retried while a
    new link comes up)."""
    deadline = time.monotonic() + _CONNECT_TIMEOUT_S
    while True:
        with inside(ends.client_ns):
            sock = socket.socket(socket.AF_INET, kind)
        try:
            sock.connect(address)
        except OSError as exc:
            sock.close()
            if time.monotonic() > deadline:
                raise Unreachable(f"cannot connect to {address[0]}:{address[1]}: {exc}",
                                  hint="see `ip netns list` and `ip -n NS addr`") from exc
            time.sleep(0.05)
        else:
            return sock


def _connected(k: int, client: socket.socket) -> NetConnectedDoc:
    local, remote = client.getsockname(), client.getpeername()
    return {"socket": k + 1, "local_host": local[0], "local_port": local[1],
            "remote_host": remote[0], "remote_port": remote[1]}


def _pair(server: socket.socket, ends: Endpoints, *, reverse: bool) -> _Stream:
    client = _connect(ends, server.getsockname()[:2], socket.SOCK_STREAM)
    accepted, _ = server.accept()
    for s in (client, accepted):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # normal: the client sends to the server; -R: the server sends (iperf3's meaning)
    return _Stream(accepted, client) if reverse else _Stream(client, accepted)


def run_tcp(duration_s: float, streams: int = 1, *, reverse: bool = False,
            interval_s: float = 1.0, ends: Endpoints = LOOPBACK) -> BenchNetDoc:
    """Run the test; the result in iperf3's ``-J`` shape (``start``, ``intervals``, ``end``)."""
    with tempfile.TemporaryFile() as data:
        data.truncate(_FILE_BYTES)
        data.write(b"\0")  # a sparse file reads as zeros from the page cache
        with inside(ends.server_ns):
            server = listening_socket(ends.server_addr, 0)
        try:
            pairs = [_pair(server, ends, reverse=reverse) for _ in range(streams)]
        finally:
            server.close()
        connected = [_connected(k, p.receiver if reverse else p.sender)
                     for k, p in enumerate(pairs)]
        start = time.monotonic()
        done = threading.Event()
        threads = [threading.Thread(target=_receive, args=(p,), daemon=True) for p in pairs]
        threads += [threading.Thread(target=_send, daemon=True,
                                     args=(p, data.fileno(), start + duration_s, done))
                    for p in pairs]
        for t in threads:
            t.start()

        def mark() -> None:
            for p in pairs:
                p.marks.append(p.received)

        ticks, seconds, interrupted = _sample(start, duration_s, interval_s, mark, done)
        for t in threads:
            t.join(30)
        retransmits = sum(_retransmits(p.sender) for p in pairs)
        for p in pairs:
            p.sender.close()
            p.receiver.close()
    sent = sum(p.sent for p in pairs)
    received = sum(p.received for p in pairs)
    sender = not reverse
    doc: BenchNetDoc = {
        "schema": SCHEMA,
        "start": _start("TCP", len(pairs), duration_s, reverse, connected, ends),
        "intervals": _intervals([p.marks for p in pairs], ticks, sender=sender),
        "end": {"sum_sent": _sum(0.0, seconds, sent, retransmits=retransmits, sender=sender),
                "sum_received": _sum(0.0, seconds, received, sender=sender)},
    }
    if interrupted:
        doc["interrupted"] = True
    return doc


def _sample(start: float, duration_s: float, interval_s: float, mark: Callable[[], None],
            done: threading.Event) -> tuple[list[float], float, bool]:
    """Call ``mark`` at the end of every interval until the test's end or Ctrl-C, then set
    ``done`` (the senders stop): (ticks in seconds since ``start``, the seconds the test ran,
    whether Ctrl-C ended it)."""
    ticks: list[float] = []
    deadline = start + duration_s
    try:
        while (now := time.monotonic()) < deadline:
            time.sleep(min(interval_s, deadline - now))
            ticks.append(time.monotonic() - start)
            mark()
    except KeyboardInterrupt:
        done.set()
        return ticks, max(time.monotonic() - start, 1e-9), True
    done.set()
    return ticks, duration_s, False


def _sum(start: float, end: float, nbytes: int, *, sender: bool, **extra: Any) -> NetSumDoc:
    """One of iperf3's sums. ``sender`` is iperf3's: whether the client (the side that
    reports) is the one that sends, so true unless -R, in every sum of the document."""
    seconds = max(end - start, 1e-9)
    doc: NetSumDoc = {"start": start, "end": end, "seconds": seconds, "bytes": nbytes,
                      "bits_per_second": nbytes * 8 / seconds, "sender": sender}
    doc.update(extra)  # type: ignore[typeddict-item]  # retransmits, socket, UDP figures
    return doc


def _intervals(marks: list[list[int]], ticks: list[float], *,
               sender: bool) -> list[NetIntervalDoc]:
    """Per-interval bytes of each stream (``marks``: received bytes at each tick) and their
    sum, as the receiver counted."""
    intervals: list[NetIntervalDoc] = []
    previous = [0] * len(marks)
    last = 0.0
    for i, tick in enumerate(ticks):
        per = [m[i] - previous[k] for k, m in enumerate(marks)]
        previous = [m[i] for m in marks]
        intervals.append({
            "streams": [_sum(last, tick, n, socket=k + 1, sender=sender)
                        for k, n in enumerate(per)],
            "sum": _sum(last, tick, sum(per), sender=sender)})
        last = tick
    return intervals


def _start(  # noqa: PLR0917  # the test's description, in iperf3's order
        protocol: Literal["TCP", "UDP"], streams: int, duration_s: float, reverse: bool,
        connected: list[NetConnectedDoc], ends: Endpoints) -> NetStartDoc:
    start: NetStartDoc = {
        "connected": connected,
        "test_start": {"protocol": protocol, "num_streams": streams, "duration": duration_s,
                       "reverse": int(reverse)}}
    netns = ends.netns()
    if netns is not None:
        start["netns"] = {"server": netns["server"], "client": netns["client"]}
    return start


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


@dataclass(slots=True)
class _UdpStream:
    sender: socket.socket
    receiver: socket.socket
    count: _UdpCount = field(default_factory=_UdpCount)
    sent: list[int] = field(default_factory=lambda: [0, 0])  # datagrams, bytes


def _udp_send(sock: socket.socket, rate_bps: float, length: int, deadline: float,  # noqa: PLR0917  # a thread's target
              counts: list[int], done: threading.Event) -> None:
    payload = bytearray(length)
    gap_ns = length * 8 / rate_bps * 1e9
    start = time.perf_counter_ns()
    seq = 0
    while True:
        due = start + seq * gap_ns
        ahead = due - time.perf_counter_ns()
        if ahead > 0:
            time.sleep(ahead / 1e9)
        if time.monotonic() >= deadline or done.is_set():
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


def _udp_stream(ends: Endpoints, *, reverse: bool) -> tuple[_UdpStream, socket.socket]:
    """A connected pair of datagram sockets, the server's in its namespace; the client's
    socket is returned too, for ``start.connected``."""
    with inside(ends.server_ns):
        server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind((ends.server_addr, 0))
    client = _connect(ends, server.getsockname(), socket.SOCK_DGRAM)
    server.connect(client.getsockname())
    # normal: the client sends to the server; -R: the server sends (iperf3's meaning)
    stream = _UdpStream(server, client) if reverse else _UdpStream(client, server)
    stream.receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    return stream, client


def _udp_figures(packets: int, lost: int, jitter_ms: float) -> NetUdpFiguresDoc:
    return {"jitter_ms": jitter_ms, "lost_packets": lost, "packets": packets,
            "lost_percent": 100.0 * lost / packets if packets else 0.0}


def run_udp(duration_s: float, rate_bps: float, *, streams: int = 1, reverse: bool = False,
            length: int = 1448, interval_s: float = 1.0,
            ends: Endpoints = LOOPBACK) -> BenchNetDoc:
    """UDP at ``rate_bps`` per stream (iperf3's -b) for ``duration_s``: iperf3's -u figures
    (loss, jitter), ``streams`` in parallel, from the server to the client with ``reverse``."""
    pairs = [_udp_stream(ends, reverse=reverse) for _ in range(streams)]
    flows = [flow for flow, _ in pairs]
    connected = [_connected(k, client) for k, (_, client) in enumerate(pairs)]
    stop, done = threading.Event(), threading.Event()  # the receivers', the senders'
    start = time.monotonic()
    readers = [threading.Thread(target=_udp_receive, args=(f.receiver, f.count, stop),
                                daemon=True) for f in flows]
    writers = [threading.Thread(target=_udp_send, daemon=True,
                                args=(f.sender, rate_bps, length, start + duration_s, f.sent,
                                      done))
               for f in flows]
    for t in (*readers, *writers):
        t.start()

    def mark() -> None:
        for f in flows:
            f.count.marks.append(f.count.bytes)

    try:
        ticks, seconds, interrupted = _sample(start, duration_s, interval_s, mark, done)
        for t in writers:
            t.join(30)
        time.sleep(_UDP_DRAIN_S)  # what is still in the receive buffers
    finally:
        stop.set()
        for t in (*readers, *writers):
            t.join(5)
        for f in flows:
            f.sender.close()
            f.receiver.close()
    doc = _udp_document(flows, ticks, (duration_s, seconds), connected, ends, reverse=reverse)
    if interrupted:
        doc["interrupted"] = True
    return doc


def _udp_document(flows: list[_UdpStream], ticks: list[float], times: tuple[float, float],
                  connected: list[NetConnectedDoc], ends: Endpoints, *,
                  reverse: bool) -> BenchNetDoc:
    """iperf3 3.12's UDP end: ``sum`` and ``sum_received`` with the receivers' jitter (the
    mean over streams, as iperf3 averages it) and loss; ``sum_sent`` with the datagrams sent.
    Loss is exact: both ends are in this process, so what was sent is known."""
    packets = sum(f.sent[0] for f in flows)
    lost = sum(max(0, f.sent[0] - f.count.packets) for f in flows)
    jitter_ms = sum(f.count.jitter_ns for f in flows) / len(flows) / 1e6
    received = sum(f.count.bytes for f in flows)
    udp = _udp_figures(packets, lost, jitter_ms)
    sender = not reverse
    duration_s, seconds = times  # asked for, ran (shorter after Ctrl-C)
    return {
        "schema": SCHEMA,
        "start": _start("UDP", len(flows), duration_s, reverse, connected, ends),
        "intervals": _intervals([f.count.marks for f in flows], ticks, sender=sender),
        # iperf3 3.12 marks UDP's sum_sent as the sender's and sum_received as the
        # receiver's whatever -R, unlike TCP's (checked against its -J in an integration test)
        "end": {"sum_sent": _sum(0.0, seconds, sum(f.sent[1] for f in flows),
                                 sender=True, **_udp_figures(packets, 0, 0.0)),
                "sum_received": _sum(0.0, seconds, received, sender=False, **udp),
                "sum": _sum(0.0, seconds, received, sender=sender, **udp)},
    }
