"""``perflab proc PID``: one process in depth, as ps, pmap -x, lsof -p and schedstat show it."""

from __future__ import annotations

import os

import click

from perflab.cli._common import DURATION, emit_json, json_option
from perflab.errors import InvalidValue

SCHEMA = "perflab.proc/1"


@click.command(context_settings={"max_content_width": 100})
@click.argument("pid", type=int)
@json_option
@click.option("--interval", type=DURATION, default="0.5s", show_default=True,
              help="How long to measure CPU %, run-queue wait and rates over.")
@click.option("--maps", "top_maps", type=click.IntRange(min=0), default=20, show_default=True,
              metavar="N", help="Memory mappings to list, largest RSS first (0: none).")
@click.option("--threads", "top_threads", type=click.IntRange(min=0), default=20,
              show_default=True, metavar="N", help="Threads to list, busiest first (0: none).")
@click.option("--files", "top_files", type=click.IntRange(min=0), default=50,
              show_default=True, metavar="N",
              help="Open files to list in the table (--json always has them all).")
def proc(*, pid: int, as_json: bool, interval: float, top_maps: int, top_threads: int,
         top_files: int) -> None:
    """One process in depth: identity, limits, threads, scheduling, memory maps, open files, I/O.

    Reads /proc/PID twice, INTERVAL apart, for CPU % and rates. Another user's process shows
    what the kernel lets you read; run as root (or as its user) for the rest.
    """
    if pid <= 0:
        raise InvalidValue(
            f"invalid PID {pid}: PIDs start at 1" + (" (0 is the kernel's idle task)"
                                                      if pid == 0 else ""),
            hint="give the PID of a running process, as `ps` or `perflab top` lists it",
        )
    if interval > 60:
        raise InvalidValue(f"interval {interval:g}s is too long",
                           hint="measure over at most 60s, for example --interval 1s")
    from perflab.collect.procinfo import inspect_process  # noqa: PLC0415  # lazy: fast --help

    report = inspect_process(pid, interval=interval, top_maps=top_maps)
    if as_json:
        emit_json(SCHEMA, report.to_json())
        return
    from perflab.cli._proc_view import render_report  # noqa: PLC0415

    render_report(report, top_threads=top_threads, top_files=top_files,
                  reader=_reader_name())


def _reader_name() -> str:
    import pwd  # noqa: PLC0415

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())
