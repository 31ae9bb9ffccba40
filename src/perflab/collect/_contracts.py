"""The shapes of the JSON documents this package answers with, one TypedDict per schema in
docs/schemas/ (net, proc, record).

tests/unit/test_contracts.py checks each against its schema; the builders of net, proc and
record return them, so mypy checks what they build.
"""

from typing import Any, Literal, NotRequired, TypedDict

# ss's names of the kernel's TCP states; UNKNOWN for a state this version does not know (its
# number is then the socket's state_code)
NetState = Literal[
    "ESTAB", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "UNCONN",
    "CLOSE-WAIT", "LAST-ACK", "LISTEN", "CLOSING", "NEW-SYN-RECV", "UNKNOWN",
]


class ProcessRowJson(TypedDict):
    """A process as top and the Overview list it (``ProcessRow.to_json``)."""

    pid: int
    ppid: int
    user: str
    name: str
    cmdline: str
    state: str
    cpu_pct: float
    rss_bytes: int
    vsize_bytes: int
    threads: int
    fds: int | None
    read_bytes_per_s: float | None
    write_bytes_per_s: float | None
    cpu_user_s: float
    cpu_system_s: float


class NetFilter(TypedDict):
    states: list[NetState] | None
    protocols: list[Literal["tcp", "udp"]]
    pids: list[int]


class NetSocketProcess(TypedDict):
    pid: int
    name: str
    fd: int


class NetSocket(TypedDict):
    proto: Literal["tcp", "udp"]
    family: Literal[4, 6]
    state: NetState
    recv_q: int
    send_q: int | None
    local: str
    peer: str
    local_ip: str
    local_port: int
    peer_ip: str
    peer_port: int
    inode: int
    uid: int
    processes: list[NetSocketProcess]
    state_code: NotRequired[str]


class NetCounter(TypedDict):
    name: str
    source: str
    description: str
    total: int
    per_s: float | None


class NetDoc(TypedDict):
    """Sockets like `ss -tanp` and kernel TCP/UDP counters with rates. With --watch, one such
    document per line (NDJSON), one per refresh. History: 2 - a state the kernel reports and
    ss's names do not cover is UNKNOWN, its hex number in the socket's state_code (it was the
    bare hex, outside the enum). 1 - first version.
    """

    schema: Literal["perflab.net/2"]
    ts_ns: int
    netns_pid: int | None
    interval_s: float | None
    filter: NetFilter
    states: dict[str, int]
    sockets: list[NetSocket]
    counters: list[NetCounter]


FdMode = Literal["r", "w", "u", "?"]  # lsof's access mode of a file descriptor


class ProcIds(TypedDict):
    real: int
    effective: int
    saved: int
    fs: int


class ProcLimit(TypedDict):
    name: str
    soft: int | None
    hard: int | None
    unit: str


class ProcProcess(TypedDict):
    pid: int
    kernel_thread: bool
    ppid: int
    name: str
    cmdline: list[str]
    exe: str | None
    cwd: str | None
    state: str
    uid: ProcIds
    gid: ProcIds
    user: str
    effective_user: str
    start_time_ns: int
    cgroup: str | None
    cgroup_v1: dict[str, str]
    limits: list[ProcLimit]


class ProcScheduling(TypedDict):
    interval_s: float
    cpu_pct: float | None
    cpu_user_s: float
    cpu_system_s: float
    threads: int
    on_cpu_s: float | None
    runqueue_wait_s: float | None
    timeslices: int | None
    runqueue_wait_pct: float | None
    timeslices_per_s: float | None
    wait_per_timeslice_s: float | None
    voluntary_ctxt_switches: int | None
    involuntary_ctxt_switches: int | None
    voluntary_ctxt_switches_per_s: float | None
    involuntary_ctxt_switches_per_s: float | None
    minor_faults: int
    major_faults: int
    minor_faults_per_s: float | None
    major_faults_per_s: float | None


class ProcThread(TypedDict):
    tid: int
    name: str
    state: str
    cpu_pct: float | None
    cpu_user_s: float
    cpu_system_s: float
    runqueue_wait_s: float | None
    runqueue_wait_pct: float | None
    voluntary_ctxt_switches: int | None
    involuntary_ctxt_switches: int | None
    last_cpu: int
    wchan: str | None


class ProcMapping(TypedDict):
    address: str
    end: str
    mode: str
    offset: int
    inode: int
    mapping: str
    size_bytes: int
    rss_bytes: int
    pss_bytes: int
    dirty_bytes: int
    swap_bytes: int


class ProcMappingsTotal(TypedDict):
    """over all mappings, not only the top ones"""

    size_bytes: int
    rss_bytes: int
    pss_bytes: int
    dirty_bytes: int
    swap_bytes: int


class ProcMemoryMaps(TypedDict):
    count: int
    top: list[ProcMapping]
    total: ProcMappingsTotal


class ProcMemory(TypedDict):
    rss_bytes: int | None
    rss_anon_bytes: int | None
    rss_file_bytes: int | None
    rss_shmem_bytes: int | None
    rss_peak_bytes: int | None
    vsize_bytes: int | None
    swap_bytes: int | None
    pss_bytes: int | None
    pss_anon_bytes: int | None
    pss_file_bytes: int | None
    uss_bytes: int | None
    swap_pss_bytes: int | None
    maps: ProcMemoryMaps | None


class ProcFileSocket(TypedDict):
    inode: int
    proto: str
    family: str
    local: str
    remote: str | None
    state: str | None
    socket_type: str | None


class ProcFile(TypedDict):
    fd: int
    type: str
    name: str
    mode: FdMode | None
    flags: list[str]
    pos: int | None
    deleted: bool
    socket: ProcFileSocket | None
    fdinfo: dict[str, str]


class ProcIo(TypedDict):
    rchar: int | None
    wchar: int | None
    syscr: int | None
    syscw: int | None
    read_bytes: int | None
    write_bytes: int | None
    cancelled_write_bytes: int | None
    read_bytes_per_s: float | None
    write_bytes_per_s: float | None


class ProcDoc(TypedDict):
    """One process in depth (perflab.proc/1). Sizes in bytes, times in seconds, rates per second. A
    section that could not be read is null and named in `unavailable`.
    """

    schema: Literal["perflab.proc/1"]
    process: ProcProcess
    scheduling: ProcScheduling | None
    threads: list[ProcThread]
    memory: ProcMemory | None
    files: list[ProcFile] | None
    io: ProcIo | None
    unavailable: dict[str, str]
    notes: list[str]
    interrupted: bool


class RecordRun(TypedDict):
    id: int
    kind: Literal["record"]
    name: str
    status: Literal["ok", "aborted"]
    started_ns: int
    ended_ns: int
    duration_s: float
    host: str
    meta: dict[str, Any]


class ProfilersSummary(TypedDict):
    """What a recording's profilers stored: how many slices and samples, by which backends."""

    pids: list[int]
    slices: int
    samples: int
    backends: dict[str, str]
    notes: list[str]


class RecordProfile(ProfilersSummary):
    """With --profile PID: the slices the profilers stored on the run's timeline."""

    rate_hz: int
    slice_s: float


class RecordDoc(TypedDict):
    """The run a recording made, printed when it ends."""

    schema: Literal["perflab.record/1"]
    run: RecordRun
    samples: int
    series: int
    ticks: int
    store: str
    profile: NotRequired[RecordProfile]
