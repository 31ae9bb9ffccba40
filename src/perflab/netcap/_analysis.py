"""TCP analysis per flow, with Wireshark's definitions (epan/dissectors/packet-tcp.c,
``tcp_analyze_sequence_number``) so that counts agree with ``tcp.analysis.*`` on the same file:

- a **retransmission** is a segment with data (or SYN/FIN) whose sequence number is below the
  highest one seen in its direction, and is not a keep-alive, an out-of-order segment (one that
  came within the first RTT, or 3 ms, after the highest; one stamped before it is not, since
  Wireshark's difference is unsigned) or, as Wireshark also counts it among
  retransmissions, a fast (after two duplicate ACKs, within 20 ms) or spurious one (already
  acknowledged);
- a **duplicate ACK** carries no data, no SYN/FIN/RST, repeats its direction's last ACK number
  and window (non-zero) and sits at the next expected sequence number; the row of duplicates
  that makes a fast retransmission ends only when the ACK number moves (Wireshark 4.0);
- the **data RTT** of an ACK is the time since the segment it acknowledges exactly (its end);
- the **handshake RTT** is SYN to the ACK of the SYN/ACK (Wireshark's ``initial_rtt``).

Sequence numbers are taken relative to each direction's first one, as Wireshark does, since it
treats a next-expected number of 0 as "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from perflab.netcap._decode import ACK, FIN, RST, SYN
from perflab.netcap._http import HttpStream

if TYPE_CHECKING:
    from perflab.netcap._decode import Segment

_MOD = 1 << 32
_FAST_RETRANSMISSION_NS = 20_000_000
_DEFAULT_OOO_NS = 3_000_000


def _lt(a: int, b: int) -> bool:
    """a < b in sequence space (RFC 1982)."""
    return 0 < (b - a) % _MOD < _MOD // 2


def _gt(a: int, b: int) -> bool:
    return _lt(b, a)


def _within(delta_ns: int, limit_ns: int) -> bool:
    """delta < limit as Wireshark compares them, unsigned: a packet stamped before the one it is
    measured from (a capture's CPUs can stamp a burst out of order) is never within the limit."""
    return 0 <= delta_ns < limit_ns


@dataclass(slots=True)
class _Unacked:
    seq: int
    nextseq: int
    ts_ns: int


@dataclass(slots=True)
class Direction:
    """What one side sent, as the analysis tracks it (Wireshark's ``tcp_flow_t``)."""

    base: int | None = None
    nextseq: int = 0
    nextseq_ns: int = 0
    lastack: int = 0
    lastack_ns: int = 0
    window: int | None = None
    dupacks_in_row: int = 0
    unacked: list[_Unacked] = field(default_factory=list)  # newest first
    bytes: int = 0
    packets: int = 0
    retransmissions: int = 0
    dup_acks: int = 0
    zero_windows: int = 0
    resets: int = 0
    http: HttpStream = field(default_factory=HttpStream)


@dataclass(slots=True)
class Flow:
    """One TCP connection: the side that sent the SYN (or the first packet) is the client."""

    client: tuple[str, int]
    server: tuple[str, int]
    start_ns: int
    end_ns: int = 0
    fwd: Direction = field(default_factory=Direction)  # client -> server
    rev: Direction = field(default_factory=Direction)  # server -> client
    syn_ns: int | None = None
    synack_seen: bool = False
    handshake_rtt_ns: int | None = None
    rtt_ns: list[int] = field(default_factory=list)
    rtt_at_ns: list[int] = field(default_factory=list)  # when each RTT was measured (its ACK)
    retransmitted_at_ns: list[int] = field(default_factory=list)
    dup_acked_at_ns: list[int] = field(default_factory=list)

    def add(self, seg: Segment, ts_ns: int) -> None:
        from_client = (seg.src, seg.sport) == self.client
        fwd, rev = (self.fwd, self.rev) if from_client else (self.rev, self.fwd)
        self.end_ns = ts_ns
        fwd.packets += 1
        fwd.bytes += seg.seglen
        if fwd.base is None:
            fwd.base = seg.seq if seg.flags & SYN else (seg.seq - 1) % _MOD
        if rev.base is None and seg.flags & ACK:  # the peer's SYN/ACK was not captured
            rev.base = (seg.ack - 1) % _MOD
        seq = (seg.seq - fwd.base) % _MOD
        # as Wireshark: made relative even without the ACK flag (a SYN's 0 becomes a number
        # that can look "after" segments and so clear them; RTTs follow from that)
        ack = (seg.ack - (rev.base or 0)) % _MOD
        self._handshake(seg, ts_ns, from_client=from_client)
        if seg.flags & RST:
            fwd.resets += 1
        flagged = self._classify(fwd, rev, seg, seq, ack=ack, ts_ns=ts_ns)
        if "retransmission" in flagged:
            self.retransmitted_at_ns.append(ts_ns)
        if "dupack" in flagged:
            self.dup_acked_at_ns.append(ts_ns)
        if not seg.flags & RST and seg.seglen:
            fwd.http.feed(seq, seg.payload, ts_ns)
        self._acked(rev, ack, ts_ns)
        if seg.flags & ACK:
            rev.http.acked(ack, ts_ns)
        self._advance(fwd, seg, seq, ack, ts_ns, dupack="dupack" in flagged)

    def _handshake(self, seg: Segment, ts_ns: int, *, from_client: bool) -> None:
        syn, ack = seg.flags & SYN, seg.flags & ACK
        if syn and not ack and from_client:
            self.syn_ns = ts_ns
        elif syn and ack and not from_client:
            self.synack_seen = True
        elif (ack and not syn and from_client and self.synack_seen and self.syn_ns is not None
              and self.handshake_rtt_ns is None):
            self.handshake_rtt_ns = ts_ns - self.syn_ns

    def _classify(self, fwd: Direction, rev: Direction, seg: Segment, seq: int, *, ack: int,
                  ts_ns: int) -> set[str]:
        """Wireshark's checks, in its order; returns the names of the flags set."""
        flags, seglen, found = seg.flags, seg.seglen, set[str]()
        control = flags & (SYN | FIN | RST)
        keepalive = (seglen <= 1 and not control and (fwd.nextseq - 1) % _MOD == seq)
        if not (seglen == 1 and seq == fwd.nextseq and rev.window == 0):  # a zero window probe
            if seg.window == 0 and not control:
                fwd.zero_windows += 1
            pure = (seglen == 0 and not control and seg.window and seq == fwd.nextseq
                    and ack == fwd.lastack)
            if pure and seg.window == fwd.window and not keepalive:
                found.add("dupack")
                fwd.dup_acks += 1
        if not (seglen > 0 or flags & (SYN | FIN)) or keepalive:
            return found
        # not advanced: below the highest sequence number seen (new data right after a zero
        # window probe's byte does not count as below it)
        behind = bool(fwd.nextseq) and _lt(seq, fwd.nextseq)
        if seglen > 1 and (fwd.nextseq - 1) % _MOD == seq:
            behind = False
        end = (seq + seglen) % _MOD
        if seglen > 0 and rev.lastack and not _lt(rev.lastack, end):  # spurious: acked already
            fwd.retransmissions += 1
            return found | {"retransmission"}
        if not behind:
            return found
        if (rev.dupacks_in_row >= 2 and rev.lastack == seq  # fast
                and _within(ts_ns - rev.lastack_ns, _FAST_RETRANSMISSION_NS)):
            fwd.retransmissions += 1
            return found | {"retransmission"}
        threshold = self.handshake_rtt_ns or _DEFAULT_OOO_NS
        if (_within(ts_ns - fwd.nextseq_ns, threshold)
                and fwd.nextseq != (end + (1 if flags & (SYN | FIN) else 0)) % _MOD):
            return found | {"out_of_order"}
        fwd.retransmissions += 1
        found.add("retransmission")
        return found

    def _acked(self, sender: Direction, ack: int, ts_ns: int) -> None:
        """An ACK removes what it covers from the sender's unacked list; an exact match on a
        segment's end gives one RTT (the oldest such segment's, as Wireshark's walk leaves it)."""
        rtt: int | None = None
        kept: list[_Unacked] = []
        for seg in sender.unacked:
            if ack == seg.nextseq:
                rtt = ts_ns - seg.ts_ns
            elif _gt(ack, seg.seq) and not _gt(ack, seg.nextseq):
                seg.seq = ack
                kept.append(seg)
                continue
            elif _gt(seg.nextseq, ack):
                kept.append(seg)
                continue
        sender.unacked = kept
        if rtt is not None:
            self.rtt_ns.append(rtt)
            self.rtt_at_ns.append(ts_ns)

    @staticmethod
    def _advance(fwd: Direction, seg: Segment, seq: int, ack: int, ts_ns: int, *,
                 dupack: bool) -> None:
        nextseq = (seq + seg.seglen) % _MOD
        if seg.seglen or seg.flags & (SYN | FIN):
            if seg.flags & (SYN | FIN):
                nextseq = (nextseq + 1) % _MOD
            fwd.unacked.insert(0, _Unacked(seq, nextseq, ts_ns))
        if _gt(nextseq, fwd.nextseq) or not fwd.nextseq:
            fwd.nextseq, fwd.nextseq_ns = nextseq, ts_ns
        if dupack:
            fwd.dupacks_in_row += 1
        elif ack != fwd.lastack:  # a window update between duplicates does not end the row
            fwd.dupacks_in_row = 0
        fwd.window = seg.window
        fwd.lastack, fwd.lastack_ns = ack, ts_ns


class Analyzer:
    """Segments in capture order -> flows, keyed by their two endpoints."""

    def __init__(self) -> None:
        self.flows: list[Flow] = []  # in the order they started
        self._open: dict[tuple[tuple[str, int], tuple[str, int]], Flow] = {}

    def add(self, seg: Segment, ts_ns: int) -> None:
        a, b = (seg.src, seg.sport), (seg.dst, seg.dport)
        key = (a, b) if a <= b else (b, a)
        flow = self._open.get(key)
        if flow is None or (seg.flags & SYN and not seg.flags & ACK and flow.fwd.packets
                            and flow.client == a and flow.fwd.base is not None
                            and seg.seq != flow.fwd.base):
            flow = Flow(client=a, server=b, start_ns=ts_ns)  # new, or the port reused
            self._open[key] = flow
            self.flows.append(flow)
        flow.add(seg, ts_ns)
