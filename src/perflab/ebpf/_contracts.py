"""The shapes of the JSON documents this package answers with, one TypedDict per schema in
docs/schemas/ (ebpf-events, ebpf-hist, ebpf-libcalls, ebpf-offcpu, ebpf-syscalls).

tests/unit/test_contracts.py checks each against its schema; the functions that build the
documents are annotated with them, so mypy checks what they build.
"""

from typing import Literal, NotRequired, TypedDict


class EbpfEventsEvents(TypedDict):
    pid: int
    ppid: NotRequired[int]
    comm: NotRequired[str]
    ret: NotRequired[int]
    args: NotRequired[str]
    local: NotRequired[str]
    remote: NotRequired[str]
    state: NotRequired[str]


class EbpfEventsDoc(TypedDict):
    """Events in the order they happened."""

    schema: Literal["perflab.ebpf-events/1"]
    what: str
    events: list[EbpfEventsEvents]
    duration_s: float
    interrupted: bool
    notes: list[str]


class EbpfHistLog2histBuckets(TypedDict):
    low: int
    high: int
    count: int


class EbpfHistLog2hist(TypedDict):
    buckets: list[EbpfHistLog2histBuckets]
    count: int
    p50: int
    p99: int


class EbpfHistDoc(TypedDict):
    """One or more log2 latency histograms (key 'all', or one per disk)."""

    schema: Literal["perflab.ebpf-hist/1"]
    what: str
    unit: str
    histograms: dict[str, EbpfHistLog2hist]
    duration_s: float
    interrupted: bool
    notes: list[str]


class EbpfLibcallsFunctions(TypedDict):
    function: str
    path: str
    calls: int
    total_ns: int | None
    latency_us: EbpfHistLog2hist | None


class EbpfLibcallsDoc(TypedDict):
    """Library function calls through uprobes; latency only where return probes are safe (never
    Go).
    """

    schema: Literal["perflab.ebpf-libcalls/1"]
    pid: int
    functions: list[EbpfLibcallsFunctions]
    duration_s: float
    interrupted: bool
    notes: list[str]


class EbpfOffcpuStacks(TypedDict):
    comm: str
    frames: list[str]
    total_ns: int


class EbpfOffcpuDoc(TypedDict):
    """Off-CPU time by stack (frames root first: user, then kernel)."""

    schema: Literal["perflab.ebpf-offcpu/1"]
    pid: int | None
    total_ns: int
    intervals_us: EbpfHistLog2hist
    stacks: list[EbpfOffcpuStacks]
    duration_s: float
    interrupted: bool
    notes: list[str]


class EbpfSyscallsSyscalls(TypedDict):
    name: str
    number: int
    calls: int
    errors: int
    total_ns: int
    latency_us: EbpfHistLog2hist


class EbpfSyscallsDoc(TypedDict):
    """System calls counted on entry (as strace -c counts), timed entry to exit; latency histograms
    in microseconds.
    """

    schema: Literal["perflab.ebpf-syscalls/1"]
    pid: int | None
    syscalls: list[EbpfSyscallsSyscalls]
    duration_s: float
    interrupted: bool
    notes: list[str]
