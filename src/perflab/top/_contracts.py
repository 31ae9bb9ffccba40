"""The shapes of the JSON documents this package answers with, one TypedDict per schema in
docs/schemas/ (top).

tests/unit/test_contracts.py checks each against its schema; the functions that build the
documents are annotated with them, so mypy checks what they build.
"""

from typing import Literal, NotRequired, TypedDict

from perflab.collect import ProcessRowJson


class TopOptions(TypedDict):
    sort: Literal["cpu", "mem", "io"]
    filter: str
    tree: bool


class TopCpuLine(TypedDict):
    """% of the interval spent per mode (of one core, or of all cores for `all`); the modes and
    idle sum to 100.
    """

    user: float
    nice: float
    system: float
    iowait: float
    irq: float
    softirq: float
    steal: float
    idle: float


class TopCpu(TypedDict):
    all: TopCpuLine
    cores: dict[str, TopCpuLine]


class TopLoad(TypedDict):
    load1: float
    load5: float
    load15: float


class TopMemory(TypedDict):
    total_bytes: int
    available_bytes: int
    cache_bytes: int
    dirty_bytes: int
    swap_total_bytes: int
    swap_used_bytes: int
    swap_in_bytes_per_s: float
    swap_out_bytes_per_s: float


class TopPsiLine(TypedDict):
    """Share of wall time (%) in which tasks stalled on the resource, averaged over 10, 60 and 300
    s (/proc/pressure/*).
    """

    avg10: float
    avg60: float
    avg300: float


class TopPsiResource(TypedDict):
    some: TopPsiLine
    full: TopPsiLine | None


class TopPsi(TypedDict):
    cpu: NotRequired[TopPsiResource]
    memory: NotRequired[TopPsiResource]
    io: NotRequired[TopPsiResource]


class TopDisk(TypedDict):
    device: str
    r_per_s: float
    w_per_s: float
    rkb_per_s: float
    wkb_per_s: float
    r_await_ms: float
    w_await_ms: float
    aqu_sz: float
    util_pct: float


class TopNetwork(TypedDict):
    device: str
    virtual: bool
    rx_bytes_per_s: float
    tx_bytes_per_s: float
    rx_packets_per_s: float
    tx_packets_per_s: float
    errors_per_s: float
    drops_per_s: float


class TopTcp(TypedDict):
    established: int
    time_wait: int
    retrans_per_s: float
    listen_overflows_per_s: float


class TopProcess(ProcessRowJson):
    depth: int


class TopDoc(TypedDict):
    """One snapshot of `perflab top`: two samples `interval_s` apart. Rates are per second over
    that interval, sizes in bytes, percentages 0-100. Schema history: perflab.top/1 - first
    version.
    """

    schema: Literal["perflab.top/1"]
    ts_ns: int
    interval_s: float
    hostname: str
    uptime_s: float
    options: TopOptions
    cpu: TopCpu
    load: TopLoad
    procs_running: int
    procs_blocked: int
    threads: int
    context_switches_per_s: float
    memory: TopMemory
    psi: TopPsi | None
    disks: list[TopDisk]
    networks: list[TopNetwork]
    tcp: TopTcp
    process_count: int
    processes: list[TopProcess]
