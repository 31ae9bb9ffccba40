"""eBPF tools driven by bpftrace programs that perflab generates; their output parsed into data.

Public names only; the implementation lives in private modules.
"""

from __future__ import annotations

from perflab.ebpf._bpftrace import (
    BpftraceOutput,
    bpftrace_path,
    ensure_tracefs,
    require_root,
    run_bpftrace,
    split_key,
)
from perflab.ebpf._contracts import (
    EbpfEventsDoc,
    EbpfHistDoc,
    EbpfLibcallsDoc,
    EbpfOffcpuDoc,
    EbpfRunJson,
    EbpfSyscallsDoc,
    Log2HistJson,
)
from perflab.ebpf._tools import (
    biolatency,
    execsnoop,
    libcalls,
    offcpu,
    resolve_library,
    runqlat,
    syscalls,
    tcpretrans,
)

__all__ = [
    "BpftraceOutput",
    "EbpfEventsDoc",
    "EbpfHistDoc",
    "EbpfLibcallsDoc",
    "EbpfOffcpuDoc",
    "EbpfRunJson",
    "EbpfSyscallsDoc",
    "Log2HistJson",
    "biolatency",
    "bpftrace_path",
    "ensure_tracefs",
    "execsnoop",
    "libcalls",
    "offcpu",
    "require_root",
    "resolve_library",
    "run_bpftrace",
    "runqlat",
    "split_key",
    "syscalls",
    "tcpretrans",
]
