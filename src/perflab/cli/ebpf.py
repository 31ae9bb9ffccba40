"""``perflab ebpf ...``: bcc-style tools from bpftrace programs perflab writes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from perflab.cli._common import POSITIVE_DURATION, emit_doc, json_option
from perflab.errors import InvalidValue

if TYPE_CHECKING:
    from collections.abc import Mapping

    from perflab.ebpf import (
        EbpfHistDoc,
        EbpfLibcallsDoc,
        EbpfOffcpuDoc,
        EbpfRunJson,
        EbpfSyscallsDoc,
    )


def _duration_option(f: Any) -> Any:
    return click.option("--duration", "-d", type=POSITIVE_DURATION, default=5.0, show_default="5s",
                        help="How long to trace (Ctrl-C ends early and still reports).")(f)


def _ready(what: str, duration: float, quiet: bool) -> Any:
    # on stderr even with --json: it tells a person (and a script) that probes are attached
    del quiet

    def announce() -> None:
        click.echo(f"Tracing {what} for {duration:g}s; Ctrl-C to stop early.", err=True)

    return announce


def _finish(result: Any, doc: Mapping[str, object] | None, text: str) -> int:
    """Print the notes, then the document (with --json) or the text; 130 when interrupted."""
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if doc is not None:
        emit_doc(doc)
    else:
        click.echo(text, nl=False)
    return 130 if result.interrupted else 0


def _ran(result: Any) -> EbpfRunJson:
    """The end of every tool's document: how long it traced, whether Ctrl-C ended it."""
    return {"duration_s": result.duration_s, "interrupted": result.interrupted,
            "notes": result.notes}


@click.group()
def ebpf() -> None:
    """eBPF tools (need root): syscalls, libcalls, offcpu, runqlat, biolatency, tcpretrans,
    execsnoop. Each runs for --duration and prints bcc-style histograms, or --json."""


@ebpf.command("syscalls")
@click.option("--pid", "-p", type=int, default=None, help="Only this process (default: all).")
@_duration_option
@click.option("--top", "top_n", type=click.IntRange(min=1), default=20, show_default=True,
              help="Rows in the table.")
@json_option
def syscalls_cmd(*, pid: int | None, duration: float, top_n: int, as_json: bool) -> int:
    """System calls: counts, errors, time and latency histograms (what strace -c tells)."""
    from perflab.ebpf import syscalls  # noqa: PLC0415

    what = f"syscalls of PID {pid}" if pid is not None else "syscalls"
    res = syscalls(pid, duration, _ready(what, duration, as_json))
    doc: EbpfSyscallsDoc = {"schema": "perflab.ebpf-syscalls/1", "pid": pid,
                            "syscalls": [r.to_json() for r in res.rows], **_ran(res)}
    return _finish(res, doc if as_json else None, res.render(top_n))


@ebpf.command("libcalls")
@click.option("--pid", "-p", type=int, required=True, help="The process to trace.")
@click.argument("functions", nargs=-1, required=True)
@_duration_option
@json_option
def libcalls_cmd(*, pid: int, functions: tuple[str, ...], duration: float,
                 as_json: bool) -> int:
    """Calls and latency of library functions, LIB:FUNC (e.g. libc:malloc), via uprobes.

    Go programs get call counts only: return probes crash them and are never attached.
    """
    from perflab.ebpf import libcalls  # noqa: PLC0415
    from perflab.profile import is_go_binary  # noqa: PLC0415

    res = libcalls(pid, list(functions), duration, is_go=is_go_binary,
                   on_ready=_ready(f"{len(functions)} function(s) in PID {pid}", duration,
                                   as_json))
    doc: EbpfLibcallsDoc = {"schema": "perflab.ebpf-libcalls/1", "pid": pid,
                            "functions": [r.to_json() for r in res.rows], **_ran(res)}
    return _finish(res, doc if as_json else None, res.render())


@ebpf.command("offcpu")
@click.option("--pid", "-p", type=int, default=None, help="Only this process (default: all).")
@_duration_option
@click.option("--top", "top_n", type=click.IntRange(min=1), default=10, show_default=True)
@json_option
def offcpu_cmd(*, pid: int | None, duration: float, top_n: int, as_json: bool) -> int:
    """Time threads spend off-CPU (blocked, sleeping, waiting), by stack."""
    from perflab.ebpf import offcpu  # noqa: PLC0415

    res = offcpu(pid, duration, _ready("off-CPU time", duration, as_json))
    doc: EbpfOffcpuDoc = {
        "schema": "perflab.ebpf-offcpu/1", "pid": pid, "total_ns": res.total_ns,
        "intervals_us": res.hist.to_json(), "stacks": [s.to_json() for s in res.stacks[:top_n]],
        **_ran(res)}
    return _finish(res, doc if as_json else None, res.render(top_n))


def _hist_doc(res: Any, as_json: bool) -> EbpfHistDoc | None:
    if not as_json:
        return None
    return {"schema": "perflab.ebpf-hist/1", "what": res.what, "unit": res.unit,
            "histograms": {k or "all": h.to_json() for k, h in res.hists.items()}, **_ran(res)}


@ebpf.command("runqlat")
@_duration_option
@json_option
def runqlat_cmd(*, duration: float, as_json: bool) -> int:
    """Run-queue latency: how long runnable threads wait for a CPU."""
    from perflab.ebpf import runqlat  # noqa: PLC0415

    res = runqlat(duration, _ready("run-queue latency", duration, as_json))
    return _finish(res, _hist_doc(res, as_json), res.render())


@ebpf.command("biolatency")
@click.option("--per-disk", "-D", is_flag=True, help="One histogram per disk.")
@click.option("--per-process", "-P", is_flag=True,
              help="One histogram per process that submitted the I/O.")
@click.option("--pid", "-p", type=int, default=None,
              help="Only the I/O this process submitted.")
@_duration_option
@json_option
def biolatency_cmd(*, per_disk: bool, per_process: bool, pid: int | None, duration: float,
                   as_json: bool) -> int:
    """Block I/O latency from request issue to completion (per disk, per process, or one
    process's)."""
    from perflab.ebpf import biolatency  # noqa: PLC0415

    if per_disk and (per_process or pid is not None):
        raise InvalidValue("--per-disk goes alone, not with --per-process or --pid",
                           hint="perflab ebpf biolatency -P, or perflab ebpf biolatency -D")
    res = biolatency(duration, per_disk=per_disk, per_process=per_process, pid=pid,
                     on_ready=_ready("block I/O latency", duration, as_json))
    return _finish(res, _hist_doc(res, as_json), res.render())


@ebpf.command("tcpretrans")
@_duration_option
@json_option
def tcpretrans_cmd(*, duration: float, as_json: bool) -> int:
    """TCP retransmissions as they happen, with addresses and socket state."""
    from perflab.ebpf import tcpretrans  # noqa: PLC0415

    res = tcpretrans(duration, _ready("TCP retransmits", duration, as_json))
    # events stay plain dicts: their keys are each tool's columns
    events = {"schema": "perflab.ebpf-events/1", "what": res.what, "events": res.events,
              **_ran(res)}
    return _finish(res, events if as_json else None, res.render())


@ebpf.command("execsnoop")
@_duration_option
@json_option
def execsnoop_cmd(*, duration: float, as_json: bool) -> int:
    """New programs as they start (execve), with parent PID, arguments and failures."""
    from perflab.ebpf import execsnoop  # noqa: PLC0415

    res = execsnoop(duration, _ready("exec()s", duration, as_json))
    # events stay plain dicts: their keys are each tool's columns
    events = {"schema": "perflab.ebpf-events/1", "what": res.what, "events": res.events,
              **_ran(res)}
    return _finish(res, events if as_json else None, res.render())
