"""``perflab top``: the live view, or one snapshot with ``--once`` / ``--json``."""

from __future__ import annotations

import contextlib
import socket
import sys
import time
from pathlib import Path

import click

from perflab.cli._common import DURATION, emit_doc, json_option
from perflab.errors import InvalidValue, TargetError

MIN_INTERVAL_S = 0.05


@click.command()
@click.option("--interval", "-d", type=DURATION, default="1s", show_default=True,
              help="Time between refreshes (and between the two samples of --once).")
@click.option("--once", is_flag=True, help="Print one snapshot and exit (no escape codes when "
              "not a terminal).")
@json_option
@click.option("--sort", type=click.Choice(["cpu", "mem", "io"]), default="cpu",
              show_default=True, help="Sort processes by CPU%, resident memory or disk I/O.")
@click.option("--filter", "filter_", default="", metavar="TEXT",
              help="Show only processes whose name or command contains TEXT, or PID TEXT.")
@click.option("--tree", is_flag=True, help="Show processes as a tree (children under parents).")
@click.option("--proc-root", default="/proc", hidden=True, type=click.Path(file_okay=False),
              help="Read this directory instead of /proc (tests, containers).")
def top(*, interval: float, once: bool, as_json: bool, sort: str, filter_: str, tree: bool,
        proc_root: str) -> None:
    """Live view of CPU, load, memory, PSI, disks, network, TCP and processes.

    Keys: c/m/i sort by cpu/mem/io, / filter (Enter applies, Esc clears), t tree, p pause,
    ? help, q or Ctrl-C quit.
    """
    from rich.console import Console  # noqa: PLC0415

    from perflab.top import (  # noqa: PLC0415  # lazy: keeps `perflab --help` fast
        Sampler,
        UiState,
        ViewOptions,
        build_view,
        render,
        run_live,
        view_to_json,
    )

    if interval < MIN_INTERVAL_S:
        raise InvalidValue(f"interval {interval:g}s is too short",
                           hint=f"use at least {MIN_INTERVAL_S * 1000:.0f}ms, e.g. --interval 1s")
    options = ViewOptions(sort=sort, filter=filter_.strip(), tree=tree)  # type: ignore[arg-type]  # click.Choice keeps it a SortKey
    root = Path(proc_root)
    hostname = _hostname(root)
    sampler = Sampler(root)
    try:
        if once or as_json:
            sampler.prime()
            # Ctrl-C while waiting: print what the time waited so far measured
            with contextlib.suppress(KeyboardInterrupt):
                time.sleep(sampler.remaining(interval))
            s = sampler.sample()
            view = build_view(s.snapshot, s.rates, s.rows, options, hostname=hostname)
            if as_json:
                emit_doc(view_to_json(view))
            else:
                console = Console()  # colours only on a terminal; plain text when piped
                console.print(render(view, console.width, None), crop=True, soft_wrap=False)
            return
        if not sys.stdout.isatty():
            raise InvalidValue("the live view needs a terminal",
                               hint="use --once for one snapshot, or --json")
        stdin_fd = sys.stdin.fileno() if sys.stdin.isatty() else None
        run_live(sampler, UiState(options=options), interval, hostname=hostname,
                 console=Console(), stdin_fd=stdin_fd)
    except FileNotFoundError as exc:
        raise TargetError(f"cannot read {exc.filename}: not found",
                          hint="perflab top reads Linux /proc; is procfs mounted?") from exc
    except PermissionError as exc:
        raise TargetError(f"cannot read {exc.filename}: permission denied",
                          hint="run as a user who may read /proc") from exc
    except (ValueError, IndexError, KeyError) as exc:  # the parsers met an unexpected format
        raise TargetError(f"cannot parse the files under {root}: {exc}",
                          hint="is it a Linux procfs? report the kernel version if it is") from exc


def _hostname(root: Path) -> str:
    try:
        with open(root / "sys/kernel/hostname", encoding="utf-8") as fh:  # noqa: PTH123
            return fh.read().strip()
    except OSError:
        return socket.gethostname() if root.resolve() == Path("/proc") else ""
