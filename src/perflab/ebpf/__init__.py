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

__all__ = [
    "BpftraceOutput",
    "bpftrace_path",
    "ensure_tracefs",
    "require_root",
    "run_bpftrace",
    "split_key",
]
