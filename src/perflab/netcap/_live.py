"""``perflab capture --live``: tcpdump writes pcap packet by packet (``-U``, immediate mode)
to the ``-o`` file (or a scratch one) and perflab's reader analyses it as it grows; every
interval the caller gets the summary so far, at the end the summary of every packet: the
document ``capture summary`` makes of the same file."""

from __future__ import annotations

import io
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from perflab.errors import InvalidFile
from perflab.netcap._capture import CaptureResult, CaptureSpec, Tcpdump
from perflab.netcap._pcap import PcapFile
from perflab.netcap._series import SeriesWriter
from perflab.netcap._summary import Summary

if TYPE_CHECKING:
    from collections.abc import Callable

    from _typeshed import WriteableBuffer

    from perflab.netcap._contracts import CaptureSummaryDoc
    from perflab.store import Store

_STREAM_NAME = "-"  # the summary's ``file`` without -o (the scratch file is gone by then)
_CHUNK = 1 << 20
_POLL_S = 0.02  # how often the end of tcpdump's file is looked at again


class _Follow(io.RawIOBase):
    """The file tcpdump writes, read as it grows (as ``tail -f``), to its end once tcpdump has
    stopped (``end``).

    Why a file and not tcpdump's stdout (``-w -``): in immediate mode tcpdump's kernel buffer
    holds only ~128 packets of the default snaplen, and a pipe (64 KiB, 1 MiB at most without
    CAP_SYS_RESOURCE) stalls tcpdump whenever perflab is not scheduled for a moment; on a busy
    machine the kernel dropped over a quarter of a loopback HTTP run's packets that way, a
    twentieth with the file (docs/capture.md).
    """

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.file: io.BufferedReader | None = None
        self.ended = threading.Event()

    def end(self) -> None:
        self.ended.set()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        """What tcpdump wrote next, waiting for it; 0 once it has stopped and all is read."""
        while True:
            last = self.ended.is_set()  # before reading: what it wrote before ending is in
            if self.file is None and Path(self.path).exists():
                self.file = Path(self.path).open("rb")  # noqa: SIM115  # closed by close()
            if self.file is not None:
                n = self.file.readinto(buffer)
                if n:
                    return n
            if last:
                return 0
            self.ended.wait(_POLL_S)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        super().close()


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
    """Capture ``spec`` (its ``output`` is ignored) for its duration from when tcpdump listens,
    or until Ctrl-C; ``on_tick(summary so far, seconds elapsed)`` every ``interval_s``. With
    ``store`` and ``run_id`` the per-second series go on that run as their seconds complete.
    ``save_to``: the pcap file to keep (else one in a scratch directory, removed at the end)."""
    with tempfile.TemporaryDirectory(prefix="perflab-live-") as scratch:
        path = save_to or str(Path(scratch) / "live.pcap")
        running = Tcpdump.start(CaptureSpec(spec.interface, path, spec.duration_s,
                                            spec.bpf_filter, spec.snaplen))
        follow = _Follow(path)
        reading = _Reading(PcapFile(save_to or _STREAM_NAME, io.BufferedReader(follow, _CHUNK)))
        reader = threading.Thread(target=reading.run, name="pcap-reader", daemon=True)
        writer = SeriesWriter(store, run_id) if store is not None and run_id is not None else None
        points = 0
        try:
            try:
                if running.wait_listening():
                    reader.start()
                    points += _ticks(spec.duration_s, interval_s, running,
                                     lambda elapsed: _tick(reading, writer, on_tick, elapsed))
            except KeyboardInterrupt:
                pass  # Ctrl-C ends the live capture; the summary of what was read is kept
            result = running.finish()
        finally:
            running.stop()  # after an error too: tcpdump must not outlive perflab
            follow.end()  # tcpdump has stopped: the reader reads to the end of the file
            if reader.ident is not None:
                reader.join()
            follow.close()
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


def _tick(reading: _Reading, writer: SeriesWriter | None,
          on_tick: Callable[[CaptureSummaryDoc, float], None] | None, elapsed_s: float) -> int:
    """One interval: the completed seconds written, the caller shown the summary so far."""
    with reading.lock:
        doc = reading.summary.document(reading.capture)
        written = (0 if writer is None
                   else writer.write(reading.summary.analyzer.flows, time.time_ns()))
    if on_tick is not None:
        on_tick(doc, elapsed_s)
    return written
