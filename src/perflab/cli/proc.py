"""``perflab proc PID``: one process in depth, as ps, pmap -x, lsof -p and schedstat show it."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

import click

from perflab.cli._common import DURATION, emit_doc, json_option
from perflab.errors import EXIT_INTERRUPTED, EXIT_OK, InvalidValue
from perflab.units import format_duration


@click.command(context_settings={"max_content_width": 100})
@click.argument("pid", type=int)
@json_option
# 0 is allowed (unlike other intervals): one read, totals only, as docs/proc.md documents
@click.option("--interval", type=DURATION, default="0.5s", show_default=True,
              help="How long to measure CPU %, run-queue wait and rates over (0: one read, "
                   "totals only).")
@click.option("--maps", "top_maps", type=click.IntRange(min=0), default=20, show_default=True,
              metavar="N",
              help="Memory mappings to list (table and JSON), largest RSS first (0: none).")
@click.option("--threads", "top_threads", type=click.IntRange(min=0), default=20,
              show_default=True, metavar="N",
              help="Threads to list in the table, busiest first (--json has them all).")
@click.option("--files", "top_files", type=click.IntRange(min=0), default=50,
              show_default=True, metavar="N",
              help="Open files to list in the table (--json always has them all).")
def proc(*, pid: int, as_json: bool, interval: float, top_maps: int, top_threads: int,
         top_files: int) -> int:
    """One process in depth: identity, limits, threads, scheduling, memory maps, open files, I/O.

    Reads /proc/PID twice, INTERVAL apart, for CPU % and rates (--interval 0: once, totals
    only). Another user's process shows
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

    report = inspect_process(pid, interval=interval, top_maps=top_maps,
                             sleep=_sleep_with_status(pid, interval))
    if as_json:
        emit_doc(report.to_json())
    else:
        from perflab.cli._proc_view import render_report  # noqa: PLC0415

        render_report(report, top_threads=top_threads, top_files=top_files,
                      reader=_reader_name())
    # Ctrl-C during the interval still shows what was measured, then exits as interrupted
    return EXIT_INTERRUPTED if report.interrupted else EXIT_OK


def _sleep_with_status(pid: int, interval: float) -> Callable[[float], None]:
    """A long interval on a terminal shows a spinner (on stderr, so --json stays clean)."""
    if interval < 2 or not sys.stderr.isatty():
        return time.sleep

    def sleep(seconds: float) -> None:
        from rich.console import Console  # noqa: PLC0415

        with Console(stderr=True).status(
                f"measuring process {pid} for {format_duration(seconds)} (Ctrl-C to stop early)"):
            time.sleep(seconds)

    return sleep


def _reader_name() -> str:
    import pwd  # noqa: PLC0415

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())
