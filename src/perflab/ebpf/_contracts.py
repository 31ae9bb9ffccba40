"""The shapes of the JSON documents this package answers with, one TypedDict per schema in
docs/schemas/ (ebpf-events, ebpf-hist, ebpf-libcalls, ebpf-offcpu, ebpf-syscalls).

tests/unit/test_contracts.py checks each against its schema; the functions that build the
documents are annotated with them, so mypy checks what they build.
"""

from typing import Literal, NotRequired, TypedDict


class EbpfRunJson(TypedDict):
    """What every tool's document ends with: how long it traced, whether Ctrl-C ended it."""

    duration_s: float
    interrupted: bool
    notes: list[str]


class EbpfEvent(TypedDict):
    pid: int
    ppid: NotRequired[int]
    comm: NotRequired[str]
    ret: NotRequired[int]
    args: NotRequired[str]
    local: NotRequired[str]
    remote: NotRequired[str]
    state: NotRequired[str]


class EbpfEventsDoc(EbpfRunJson):
    """Events in the order they happened."""

    schema: Literal["perflab.ebpf-events/1"]
    what: str
    events: list[EbpfEvent]


class Log2HistBucket(TypedDict):
    low: int
    high: int
    count: int


class Log2HistJson(TypedDict):
    buckets: list[Log2HistBucket]
    count: int
    p50: int
    p99: int


class EbpfHistDoc(EbpfRunJson):
    """One or more log2 latency histograms (key 'all', or one per disk)."""

    schema: Literal["perflab.ebpf-hist/1"]
    what: str
    unit: str
    histograms: dict[str, Log2HistJson]


class EbpfLibcallsFunction(TypedDict):
    function: str
    path: str
    calls: int
    total_ns: int | None
    latency_us: Log2HistJson | None


class EbpfLibcallsDoc(EbpfRunJson):
    """Library function calls through uprobes; latency only where return probes are safe (never
    Go).
    """

    schema: Literal["perflab.ebpf-libcalls/1"]
    pid: int
    functions: list[EbpfLibcallsFunction]


class EbpfOffcpuStack(TypedDict):
    comm: str
    frames: list[str]
    total_ns: int


class EbpfOffcpuDoc(EbpfRunJson):
    """Off-CPU time by stack (frames root first: user, then kernel)."""

    schema: Literal["perflab.ebpf-offcpu/1"]
    pid: int | None
    total_ns: int
    intervals_us: Log2HistJson
    stacks: list[EbpfOffcpuStack]


class EbpfSyscall(TypedDict):
    name: str
    number: int
    calls: int
    errors: int
    total_ns: int
    latency_us: Log2HistJson


class EbpfSyscallsDoc(EbpfRunJson):
    """System calls counted on entry (as strace -c counts), timed entry to exit; latency histograms
    in microseconds.
    """

    schema: Literal["perflab.ebpf-syscalls/1"]
    pid: int | None
    syscalls: list[EbpfSyscall]
