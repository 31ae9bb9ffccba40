"""``perflab record``: record system, network and processes into one run of kind ``record``."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal

import click

from perflab.cli._common import (
    DURATION,
    POSITIVE_DURATION,
    emit_doc,
    json_option,
    open_store,
    store_option,
)
from perflab.cli._record_profile import RunProfilers
from perflab.errors import EXIT_INTERRUPTED, NoSuchProcess, StoreCorrupt, StoreError
from perflab.units import format_duration

if TYPE_CHECKING:
    from perflab.collect import RecordDoc
    from perflab.collect.recorder import Recorder
    from perflab.store import Store


@click.command()
@click.option("-i", "--interval", type=POSITIVE_DURATION, default="1s", show_default=True,
              help="Time between samples (250ms, 1s, 10s ...).")
@click.option("-d", "--duration", type=POSITIVE_DURATION, default=None,
              help="Stop after this long (default: until Ctrl-C).")
@click.option("--pid", "pids", type=int, multiple=True, metavar="PID",
              help="Record this process (repeatable).")
@click.option("--match", "matches", multiple=True, metavar="NAME",
              help="Record processes whose name or command line contains NAME (repeatable); "
                   "ones that start later are picked up.")
@click.option("--all-processes", is_flag=True, help="Record every process.")
@click.option("--profile", "profile_pids", type=int, multiple=True, metavar="PID",
              help="Profile this process all through the recording, in slices on the run's "
                   "timeline (repeatable).")
@click.option("--profile-slice", type=DURATION, default="10s", show_default=True,
              help="Length of one profile slice: the finest range the Run page can show.")
@click.option("--profile-rate", "profile_rate", type=click.IntRange(1, 10_000), default=99,
              show_default=True, metavar="HZ",
              help="Samples per second of each --profile process (99: off the beat of timers).")
@click.option("--profile-backend", type=click.Choice(["auto", "perf", "py-spy"]),
              default="auto", show_default=True,
              help="auto: py-spy for Python processes, perf for the rest.")
@click.option("--watch-goroutines", "goroutine_urls", multiple=True, metavar="URL",
              help="Store this Go service's goroutine counts by state (net/http/pprof) as "
                   "series (repeatable).")
@click.option("--watch-threads", "thread_pids", type=int, multiple=True, metavar="PID",
              help="Store this process's thread counts by state as series (repeatable).")
@click.option("--watch-interval", type=POSITIVE_DURATION, default="5s", show_default=True,
              help="Time between --watch-goroutines/--watch-threads polls.")
@click.option("--name", default=None, help="Name of the run (default: record-<time>).")
@store_option
@json_option
def record(*, interval: float, duration: float | None, pids: tuple[int, ...],
           matches: tuple[str, ...], all_processes: bool, profile_pids: tuple[int, ...],
           profile_slice: float, profile_rate: int, profile_backend: str,
           goroutine_urls: tuple[str, ...], thread_pids: tuple[int, ...], watch_interval: float,
           name: str | None, store_path: str | None, as_json: bool) -> int:
    """Record system, network and process figures into a run until --duration or Ctrl-C.

    The machine's node_exporter families (node_cpu_seconds_total, memory, filesystems, PSI)
    are written too, so `perflab promql` works on the run as on the hub's.

    SIGINT and SIGTERM end the run as `aborted`; what was recorded is kept.
    """
    from perflab.collect.recorder import Recorder  # noqa: PLC0415  # lazy: keeps --help fast
    from perflab.metrics import node_metrics_into  # noqa: PLC0415

    # checked before a run exists: a typo must not leave an empty run behind
    for pid in (*pids, *profile_pids, *thread_pids):
        if not Path(f"/proc/{pid}").is_dir():
            raise NoSuchProcess(pid)
    if profile_pids:
        RunProfilers.check(profile_pids, slice_s=profile_slice, backend=profile_backend)
    if all_processes or matches:
        _raise_fd_limit()
    run_name = name or time.strftime("record-%Y%m%d-%H%M%S")
    store = open_store(store_path)
    try:
        meta: dict[str, Any] = {"interval_s": interval, "pids": list(pids),
                                "matches": list(matches), "all_processes": all_processes}
        if duration is not None:
            meta["duration_s"] = duration
        if profile_pids:
            meta["profile"] = {"pids": list(dict.fromkeys(profile_pids)),
                               "slice_s": profile_slice, "rate_hz": profile_rate,
                               "backend": profile_backend}
        run = store.create_run("record", run_name, meta=meta)
        # a process to profile is recorded too: its CPU beside its flame graph
        rec = Recorder(store, run.id, interval, pids=tuple(dict.fromkeys(pids + profile_pids)),
                       matches=matches, all_processes=all_processes)
        profilers = (RunProfilers.start(str(store.path), run.id, profile_pids,
                                        slice_s=profile_slice, backend=profile_backend,
                                        rate_hz=profile_rate)
                     if profile_pids else None)
        watch = _start_watch(str(store.path), run.id, goroutine_urls, thread_pids,
                             watch_interval)
        stop = threading.Event()
        try:
            try:
                # node_exporter's families beside the recorder's series, as the hub writes
                # them, so `perflab promql` and rules answer the same on a recording
                with node_metrics_into(store.path, run.id, interval) as node:
                    interrupted = _run_until_signal(rec, stop, duration, run.id, run_name,
                                                    live=not as_json and sys.stderr.isatty())
            finally:
                if profilers is not None:  # each keeps what its current slice sampled
                    profilers.stop()
                _stop_watch(watch)
            rec.close()
        except StoreError as err:  # the disk filled, or a query met a damaged page
            rec.close(flush=False)
            _end_failed(store, run.id, err, rec)
            raise
        status: Literal["ok", "aborted"] = "aborted" if interrupted else "ok"
        samples, series = rec.samples_written + node.samples, rec.series_count + len(node.series)
        update: dict[str, Any] = {"samples": samples, "series": series}
        if profilers is not None:
            update["profile"] = {**meta["profile"], **profilers.summary_json()}
        store.finish_run(run.id, status, meta_update=update)
        finished = store.run(run.id)
    finally:
        store.close()
    elapsed = (finished.duration_ns or 0) / 1e9
    if as_json:
        ended_ns = finished.ended_ns if finished.ended_ns is not None else finished.started_ns
        doc: RecordDoc = {
            "schema": "perflab.record/1",
            # a finished recording: its kind, end and status are known
            "run": {**finished.to_json(), "kind": "record", "status": status,
                    "ended_ns": ended_ns, "duration_s": elapsed},
            "samples": samples,
            "series": series, "ticks": rec.ticks, "store": str(store.path),
        }
        if profilers is not None:
            doc["profile"] = {**profilers.summary_json(), "rate_hz": profile_rate,
                              "slice_s": profile_slice}
        emit_doc(doc)
    else:
        click.echo(f"run {run.id} ({run_name}): {status}, {format_duration(elapsed)}, "
                   f"{samples} samples in {series} series")
        if profilers is not None:
            for note in profilers.notes:
                click.echo(f"note: {note}", err=True)
            who = ", ".join(f"PID {pid} with {why.split(' (')[0]}"
                            for pid, why in profilers.backends.items())
            click.echo(f"profile: {profilers.slices} slices, {profilers.samples} stack samples "
                       f"({who}); select a range on the Run page to see its flame graph")
        store_arg = f" --store {store_path}" if store_path else ""
        click.echo(f"look at it: perflab show {run.id}{store_arg}")
    return EXIT_INTERRUPTED if interrupted else 0


def _start_watch(store_path: str, run_id: int, urls: tuple[str, ...], pids: tuple[int, ...],
                 interval: float) -> Any:
    """The goroutine and thread watcher of the run (perflab.debug.Watch), when asked for."""
    if not urls and not pids:
        return None
    from perflab.debug import Watch  # noqa: PLC0415

    watch = Watch(store_path, run_id, goroutine_urls=urls, thread_pids=pids, interval=interval)
    watch.start()
    return watch


def _stop_watch(watch: Any) -> None:
    if watch is not None:
        watch.stop()
        for note in watch.notes:
            click.echo(f"note: {note}", err=True)


def _end_failed(store: Store, run_id: int, err: StoreError, rec: Recorder) -> None:
    """End the run ``failed`` with the reason, keeping every sample already committed. Not in
    a damaged file (nothing more is written to it), and when even this cannot be written (the
    disk is still full), the run is left as it is: readers see it ``interrupted`` once this
    process has exited, ending at its last committed sample."""
    if isinstance(err, StoreCorrupt):
        return
    # best effort: whatever stops this write (still full, locked) leaves the run as it is
    with contextlib.suppress(Exception):
        store.finish_run(run_id, "failed", rollup=False, meta_update={
            "error": err.message, "samples": rec.samples_written, "series": rec.series_count})


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
