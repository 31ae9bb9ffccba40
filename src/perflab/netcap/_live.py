"""``perflab capture --live``: tcpdump writes pcap to a pipe (``-w -``, packet-buffered) and
perflab's reader analyses it as it comes; every interval the caller gets the summary so far,
at the end the summary of every packet (the same document ``capture summary`` makes of the
same packets, which ``-o`` saves as they are read)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from perflab.errors import InvalidFile
from perflab.netcap._capture import CaptureResult, CaptureSpec, Tcpdump
from perflab.netcap._pcap import PcapFile
from perflab.netcap._series import SeriesWriter
from perflab.netcap._summary import Summary

if TYPE_CHECKING:
    from collections.abc import Callable

    from perflab.netcap._contracts import CaptureSummaryDoc
    from perflab.store import Store

_STREAM_NAME = "-"  # tcpdump's -w for its stdout


@dataclass(slots=True)
class _Tee:
    """tcpdump's stdout as the reader reads it, each byte also written to ``copy``."""

    source: IO[bytes]
    copy: IO[bytes] | None

    def read(self, n: int) -> bytes:
        data = self.source.read(n)
        if self.copy is not None and data:
            self.copy.write(data)
        return data

    def close(self) -> None:
        """Nothing: tcpdump's pipe and the copy are closed by ``live``, which opened them."""


@dataclass(slots=True)
class LiveResult:
    summary: CaptureSummaryDoc
    capture: CaptureResult
    points_written: int = 0


@dataclass(slots=True)
class _Reading:
    """The reader thread's state, shared with the ticks under ``lock``."""

    capture: PcapFile
    summary: Summary = field(default_factory=Summary)
    lock: threading.Lock = field(default_factory=threading.Lock)
    error: InvalidFile | None = None

    def run(self) -> None:
        try:
            for packet in self.capture.packets():
                with self.lock:
                    self.summary.add(packet)
        except InvalidFile as exc:  # kept for after tcpdump's own error, which comes first
            self.error = exc


def live(spec: CaptureSpec, *, interval_s: float, save_to: str | None = None,
         on_tick: Callable[[CaptureSummaryDoc, float], None] | None = None,
         store: Store | None = None, run_id: int | None = None) -> LiveResult:
    """Capture ``spec`` (its ``output`` is ignored: tcpdump writes to a pipe) for its duration
    from when tcpdump listens, or until Ctrl-C; ``on_tick(summary so far, seconds elapsed)``
    every ``interval_s``. With ``store`` and ``run_id`` the per-second series go on that run as
    their seconds complete. ``save_to``: the pcap as read, byte for byte."""
    piped = CaptureSpec(spec.interface, _STREAM_NAME, spec.duration_s, spec.bpf_filter,
                        spec.snaplen)
    writer = SeriesWriter(store, run_id) if store is not None and run_id is not None else None
    try:
        copy = Path(save_to).open("wb") if save_to else None  # noqa: SIM115  # closed below
    except OSError as exc:
        raise InvalidFile(f"cannot write: {exc.strerror}", path=save_to or "",
                          hint="give -o a path in a writable directory") from exc
    try:
        running = Tcpdump.start(piped, pipe=True)
    except BaseException:
        if copy is not None:
            copy.close()
        raise
    assert running.proc.stdout is not None
    reading = _Reading(PcapFile(save_to or _STREAM_NAME, _Tee(running.proc.stdout, copy)))
    reader = threading.Thread(target=reading.run, name="pcap-reader", daemon=True)
    reader.start()
    points = 0
    try:
        try:
            if running.wait_listening():
                points += _ticks(spec.duration_s, interval_s, running,
                                 lambda elapsed: _tick(reading, copy, writer, on_tick, elapsed))
        except KeyboardInterrupt:
            pass  # Ctrl-C ends the live capture; the summary of what was read is kept
        result = running.finish()
    finally:
        running.stop()  # after an error too: tcpdump must not outlive perflab
        reader.join()  # tcpdump is gone: its stdout ends, and so does the reader
        if running.proc.stdout is not None:
            running.proc.stdout.close()
        if copy is not None:
            copy.close()
    if reading.error is not None:
        raise reading.error
    doc = reading.summary.document(reading.capture)
    if writer is not None:
        points += writer.write(reading.summary.analyzer.flows)
        doc["run"] = writer.run_id
    return LiveResult(doc, result, points)


def _ticks(duration_s: float, interval_s: float, running: Tcpdump,
           tick: Callable[[float], int]) -> int:
    """``tick(seconds elapsed)`` every ``interval_s`` for ``duration_s`` from now, or until
    tcpdump ends; the points the ticks wrote."""
    points = 0
    began = time.monotonic()
    deadline = began + duration_s
    next_tick = began + interval_s
    while running.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(max(0.0, min(next_tick, deadline) - time.monotonic()))
        if time.monotonic() >= next_tick:
            next_tick += interval_s
            points += tick(time.monotonic() - began)
    return points


def _tick(reading: _Reading, copy: IO[bytes] | None, writer: SeriesWriter | None,
          on_tick: Callable[[CaptureSummaryDoc, float], None] | None, elapsed_s: float) -> int:
    """One interval: the saved copy flushed (a reader of it sees whole packets so far), the
    completed seconds written, the caller shown the summary so far."""
    if copy is not None:
        copy.flush()
    with reading.lock:
        doc = reading.summary.document(reading.capture)
        written = (0 if writer is None
                   else writer.write(reading.summary.analyzer.flows, time.time_ns()))
    if on_tick is not None:
        on_tick(doc, elapsed_s)
    return written
