"""``perflab demo``: the whole loop on a service with planted problems, in about 40 seconds."""

from __future__ import annotations

import shlex
import signal
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING
from urllib.parse import urlsplit

import click

from perflab.cli._common import DURATION, emit_doc, json_option, store_option
from perflab.errors import EXIT_INTERRUPTED, EXIT_THRESHOLDS
from perflab.store import default_store_path

if TYPE_CHECKING:
    from perflab.demo.orchestrate import DemoResult


@click.command()
@click.option("--duration", "duration_s", type=DURATION, default="40s", show_default=True,
              help="Traffic time over the four phases (normal, cpu, lock, leak).")
@click.option("--no-browser", is_flag=True, help="Do not open a browser on the run's page.")
@click.option("--keep", is_flag=True, help="Keep the hub serving after the demo, until Ctrl-C.")
@click.option("--fail-on-threshold", is_flag=True,
              help="Exit 99 when the traffic misses a load threshold (by default that is a "
                   "finding, and the demo exits 0).")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port of the hub on 127.0.0.1 (default: 8600, or any free port).")
@click.option("-o", "--report", "report_path", type=click.Path(dir_okay=False), default=None,
              help="Where to write the HTML report (default: next to the store).")
@store_option
@json_option
def demo(*, duration_s: float, no_browser: bool, keep: bool, fail_on_threshold: bool,
         port: int | None, report_path: str | None, store_path: str | None,
         as_json: bool) -> int:
    """Run perflab on its demo service: find a CPU-hot endpoint, a lock, a leak and a regression.

    Starts the demo service and the hub, records the service and this machine, drives traffic
    in four phases, switching one planted problem on in each, benchmarks two versions of a
    service function, then prints what the measurements show and where to look at them.
    Everything it starts stops when it ends.
    """
    from perflab.cli import COMMANDS  # noqa: PLC0415  # the registry imports this module
    from perflab.demo.orchestrate import Demo, DemoOptions  # noqa: PLC0415  # lazy: --help stays fast

    opts = DemoOptions(
        store_path=Path(store_path).expanduser() if store_path else default_store_path(),
        duration_s=duration_s, hub_port=port, hub_available="serve" in COMMANDS,
        report_available="report" in COMMANDS,
        report_path=Path(report_path) if report_path else None, open_browser=not no_browser,
    )

    def say(text: str) -> None:
        click.echo(f"demo: {text}", err=True)

    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:
        with Demo(opts, say) as d:
            result = d.run()
            keeping = keep and result.hub_url is not None
            if as_json:
                emit_doc(result.to_json())
            else:
                print_result(result, keeping=keeping)
            if result.status != "ok":
                return EXIT_INTERRUPTED
            if opts.open_browser:
                # the hub stops with the demo unless --keep: then the report is what lasts
                if keeping and result.run_url:
                    d.open_browser(result.run_url)
                elif result.report_path is not None:
                    d.open_browser(result.report_path.resolve().as_uri())
            if keeping:
                say(f"the hub keeps serving {result.hub_url}; press Ctrl-C to stop it")
                d.serve_until_interrupted()
    finally:
        signal.signal(signal.SIGTERM, previous)
    return exit_code(result, fail_on_threshold=fail_on_threshold)


def exit_code(result: DemoResult, *, fail_on_threshold: bool) -> int:
    """0, or 99 (as ``perflab load``) for a missed threshold when the user asked for that."""
    thresholds = result.findings.thresholds if result.findings is not None else None
    if fail_on_threshold and thresholds is not None and thresholds.detected:
        return EXIT_THRESHOLDS
    return 0


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001  # signal API
    raise KeyboardInterrupt


def print_result(result: DemoResult, *, keeping: bool, file: IO[str] | None = None) -> None:
    from rich.console import Console  # noqa: PLC0415  # lazy: keeps --help fast

    out = Console(highlight=False, soft_wrap=True, file=file)
    seconds = sum(w.end_ns - w.start_ns for w in result.phases) / 1e9
    out.print(f"[bold]perflab demo[/]: run {result.run_id} ({result.status}, {seconds:.0f}s of "
              f"traffic) in {result.store_path}")
    out.print()
    out.print("[bold]What the measurements show[/]")
    if result.findings is not None:
        for f in result.findings.all():
            mark = "[green]found[/]" if f.detected else "[yellow]not found[/]"
            out.print(f"  {mark}  {f.summary}")
    out.print()
    if result.report_path:
        out.print(f"Report: [bold]{result.report_path}[/]")
    store = shlex.quote(str(result.store_path))
    if keeping and result.run_url:
        out.print(f"Look at it: [bold]{result.run_url}[/]")
    elif result.hub_url:  # the hub the demo started has stopped with it
        out.print(f"Look at it later: [bold]perflab serve --store {store}[/] and open "
                  f"http://127.0.0.1:8600/runs/{result.run_id}")
    else:
        out.print(f"Look at it: perflab show {result.run_id} --store {store}")
    if result.bench_url:
        if keeping:
            out.print(f"Benchmark history: {result.bench_url}")
        else:  # the same page, on the hub `perflab serve` starts
            parts = urlsplit(result.bench_url)
            out.print(f"Benchmark history: http://127.0.0.1:8600{parts.path}?{parts.query} "
                      "(with perflab serve)")
    for note in result.notes:
        out.print(f"[dim]note: {note}[/]")
