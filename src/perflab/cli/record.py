"""``perflab record``: record system, network and processes into one run of kind ``record``."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from perflab.cli._common import DURATION, emit_json, json_option, open_store, store_option
from perflab.errors import EXIT_INTERRUPTED, InvalidValue, NoSuchProcess
from perflab.units import format_duration

if TYPE_CHECKING:
    from perflab.collect.recorder import Recorder


@click.command()
@click.option("--interval", type=DURATION, default="1s", show_default=True,
              help="Time between samples (250ms, 1s, 10s ...).")
@click.option("--duration", type=DURATION, default=None,
              help="Stop after this long (default: until Ctrl-C).")
@click.option("--pid", "pids", type=int, multiple=True, metavar="PID",
              help="Record this process (repeatable).")
@click.option("--match", "matches", multiple=True, metavar="NAME",
              help="Record processes whose name or command line contains NAME (repeatable); "
                   "ones that start later are picked up.")
@click.option("--all-processes", is_flag=True, help="Record every process.")
@click.option("--name", default=None, help="Name of the run (default: record-<time>).")
@store_option
@json_option
def record(*, interval: float, duration: float | None, pids: tuple[int, ...],
           matches: tuple[str, ...], all_processes: bool, name: str | None,
           store_path: str | None, as_json: bool) -> int:
    """Record system, network and process figures into a run until --duration or Ctrl-C.

    SIGINT and SIGTERM end the run as `aborted`; what was recorded is kept.
    """
    from perflab.collect.recorder import Recorder  # noqa: PLC0415  # lazy: keeps --help fast

    if interval <= 0:
        raise InvalidValue("--interval must be longer than zero", hint="e.g. --interval 1s")
    if duration is not None and duration <= 0:
        raise InvalidValue("--duration must be longer than zero", hint="e.g. --duration 1m")
    for pid in pids:  # checked before a run exists: a typo must not leave an empty run behind
        if not Path(f"/proc/{pid}").is_dir():
            raise NoSuchProcess(pid)
    if all_processes or matches:
        _raise_fd_limit()
    run_name = name or time.strftime("record-%Y%m%d-%H%M%S")
    store = open_store(store_path)
    try:
        meta: dict[str, Any] = {"interval_s": interval, "pids": list(pids),
                                "matches": list(matches), "all_processes": all_processes}
        if duration is not None:
            meta["duration_s"] = duration
        run = store.create_run("record", run_name, meta=meta)
        rec = Recorder(store, run.id, interval, pids=pids, matches=matches,
                       all_processes=all_processes)
        stop = threading.Event()
        interrupted = _run_until_signal(rec, stop, duration, run.id, run_name,
                                        live=not as_json and sys.stderr.isatty())
        rec.close()
        status = "aborted" if interrupted else "ok"
        store.finish_run(run.id, status, meta_update={"samples": rec.samples_written,
                                                      "series": rec.series_count})
        finished = store.run(run.id)
    finally:
        store.close()
    elapsed = (finished.duration_ns or 0) / 1e9
    if as_json:
        emit_json("perflab.record/1", {
            "run": finished.to_json(), "samples": rec.samples_written,
            "series": rec.series_count, "ticks": rec.ticks, "store": str(store.path),
        })
    else:
        click.echo(f"run {run.id} ({run_name}): {status}, {format_duration(elapsed)}, "
                   f"{rec.samples_written} samples in {rec.series_count} series")
        store_arg = f" --store {store_path}" if store_path else ""
        click.echo(f"look at it: perflab show {run.id}{store_arg}")
    return EXIT_INTERRUPTED if interrupted else 0


def _run_until_signal(rec: Recorder, stop: threading.Event, duration: float | None,
                      run_id: int, run_name: str, *, live: bool) -> bool:
    """Run the recorder; SIGINT/SIGTERM set ``stop``. Returns whether a signal ended it."""
    caught: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        caught.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if live:
            _run_live(rec, stop, duration, run_id, run_name)
        else:
            rec.run(stop, duration)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return bool(caught)


def _run_live(rec: Recorder, stop: threading.Event, duration: float | None, run_id: int,
              run_name: str) -> None:
    """The recorder with a one-line status on the terminal (stderr, so stdout stays clean)."""
    from rich.console import Console  # noqa: PLC0415  # only on a terminal

    console = Console(stderr=True)
    started = time.monotonic()
    target = f" / {format_duration(duration)}" if duration else " (Ctrl-C to stop)"

    def line(r: Recorder) -> str:
        pids = f" · {len(r.tracked_pids)} processes" if r.tracked_pids else ""
        return (f"recording run {run_id} ({run_name}) · "
                f"{format_duration(time.monotonic() - started)}{target} · "
                f"{r.samples_written} samples · {r.series_count} series{pids}")

    with console.status(line(rec)) as status:
        rec.run(stop, duration, on_tick=lambda r: status.update(line(r)))



def _raise_fd_limit() -> None:
    """Lift the soft descriptor limit to the hard one (as Go programs do at start): the process
    collector keeps one /proc file open per recorded process, up to half the soft limit."""
    import contextlib  # noqa: PLC0415  # only when recording many processes
    import resource  # noqa: PLC0415

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(65536, hard if hard != resource.RLIM_INFINITY else 65536)
    if soft != resource.RLIM_INFINITY and soft < target:
        # when refused, keep the soft limit: the collector then opens and closes instead
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
