"""TypedDicts of netcap's documents (docs/schemas/capture-summary.schema.json)."""

from typing import Literal, NotRequired, TypedDict


class RttDoc(TypedDict):
    """Percentiles (nearest rank) of RTT samples in milliseconds; null when there are none."""

    count: int
    p50: float | None
    p90: float | None
    p99: float | None
    max: float | None


class FlowDoc(TypedDict):
    """One TCP connection; ``client`` sent the SYN (or, without one, the first packet)."""

    client: str
    server: str
    start_ns: int
    duration_s: float
    packets: int
    bytes_sent: int
    bytes_received: int
    handshake_rtt_ms: float | None
    rtt_ms: RttDoc
    retransmissions: int
    dup_acks: int
    zero_windows: int
    resets: int
    http_requests: int


class HttpRouteDoc(TypedDict):
    """HTTP/1.1 request -> response latency of one method and path."""

    method: str
    path: str
    count: int
    latency_ms: RttDoc


class TotalsDoc(TypedDict):
    flows: int
    packets: int
    retransmissions: int
    dup_acks: int
    resets: int
    zero_windows: int
    rtt_ms: RttDoc


class CaptureSummaryDoc(TypedDict):
    """``perflab capture summary --json``."""

    schema: Literal["perflab.capture-summary/1"]
    file: str
    link_types: list[int]
    frames: int
    truncated: bool
    warnings: list[str]
    flows: list[FlowDoc]
    http: list[HttpRouteDoc]
    totals: TotalsDoc
    run: NotRequired[int]


class CaptureDoc(TypedDict):
    """``perflab capture --json``: what was written and tcpdump's counts (null when tcpdump
    did not print them)."""

    schema: Literal["perflab.capture/1"]
    interface: str
    filter: str
    files: list[str]
    duration_s: float
    packets_captured: int | None
    packets_received: int | None
    packets_dropped: int | None


class NetSumDoc(TypedDict):
    """One sum of iperf3's -J: bytes over [start, end] seconds of the test."""

    start: float
    end: float
    seconds: float
    bytes: int
    bits_per_second: float
    sender: bool
    retransmits: NotRequired[int]
    socket: NotRequired[int]
    jitter_ms: NotRequired[float]
    lost_packets: NotRequired[int]
    packets: NotRequired[int]
    lost_percent: NotRequired[float]


class NetIntervalDoc(TypedDict):
    streams: list[NetSumDoc]
    sum: NetSumDoc


class NetTestStartDoc(TypedDict):
    protocol: Literal["TCP", "UDP"]
    num_streams: int
    duration: float
    reverse: int


class NetConnectedDoc(TypedDict):
    """One stream's connection as iperf3's ``start.connected`` has it (the client's side)."""

    socket: int
    local_host: str
    local_port: int
    remote_host: str
    remote_port: int


class NetNetnsDoc(TypedDict):
    """``--netns``: the namespaces the server and the client ran in (deleted afterwards)."""

    server: str
    client: str


class NetUdpFiguresDoc(TypedDict):
    """What a UDP sum adds (iperf3 -u)."""

    jitter_ms: float
    lost_packets: int
    packets: int
    lost_percent: float


class NetStartDoc(TypedDict):
    connected: list[NetConnectedDoc]
    test_start: NetTestStartDoc
    netns: NotRequired[NetNetnsDoc]


class NetEndDoc(TypedDict):
    sum_sent: NetSumDoc
    sum_received: NetSumDoc
    sum: NotRequired[NetSumDoc]  # UDP: the receiver's sum with jitter and loss


class BenchNetDoc(TypedDict):
    """``perflab bench net --json``: iperf3's -J shape (start, intervals, end), so scripts
    written for iperf3 read it unchanged; ``schema`` is perflab's addition."""

    schema: Literal["perflab.bench-net/2"]
    start: NetStartDoc
    intervals: list[NetIntervalDoc]
    end: NetEndDoc
    interrupted: NotRequired[Literal[True]]  # perflab's: Ctrl-C ended the test early
