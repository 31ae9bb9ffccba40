"""Continuous profiling: a process profiled in consecutive slices, each stored on a run's
timeline as a pprof artifact; any time range of the run read back as one profile.

    profiler = ContinuousProfiler(pid, sink=StoreSink(store_path, run_id), slice_s=10)
    profiler.start()          # a background thread: capture, hand over, capture ...
    ...                       # the recording runs
    profiler.stop()           # ends the current slice early, keeping what it sampled

Slices are artifacts of kind ``profile`` (name = the sample type, ``ts_ns``/``end_ns`` = the
slice's window, attrs = backend, pid, samples, total). A range read merges the slices that
overlap it, so its resolution is one slice. With perf, after the first slice (which settles
frame pointers or DWARF) one ``perf record`` runs on and its output is switched at every
boundary (``_continuous_perf``): the slices share their edges. Other backends restart for each
slice (py-spy: ~0.1-0.3 s), a gap the next slice's window shows.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from perflab.errors import PerflabError
from perflab.profile._capture import CaptureRequest, capture
from perflab.profile._model import Profile
from perflab.profile._pprof import encode
from perflab.profile._target import target_of_pid
from perflab.store import Store

PROFILE_ARTIFACT = "profile"
PPROF_CONTENT_TYPE = "application/vnd.google.protobuf+gzip; proto=perftools.profiles.Profile"

SliceSink = Callable[[int, int, Profile, str], None]


@dataclass
class StoreSink:
    """Writes each slice into ``run_id`` through its own store connection (it is called on
    the profiler's thread)."""

    store_path: str
    run_id: int
    pid: int | None = None  # recorded in each slice's attrs: a run may profile several
    _store: Store | None = field(default=None, repr=False)

    def __call__(self, start_ns: int, end_ns: int, prof: Profile, backend: str) -> None:
        if self._store is None:
            self._store = Store.open(self.store_path)
        store = self._store
        index = prof.sample_index(None)
        attrs: dict[str, object] = {"backend": backend, "samples": prof.total(0),
                                    "total": prof.total(index),
                                    "unit": prof.sample_types[index].unit}
        if self.pid is not None:
            attrs["pid"] = self.pid
        store.add_artifact(
            self.run_id, PROFILE_ARTIFACT, encode(prof), name=prof.sample_types[index].type,
            content_type=PPROF_CONTENT_TYPE, ts_ns=start_ns, end_ns=end_ns,
            attrs=attrs)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        self._store = None


class ContinuousProfiler:
    """Profiles ``pid`` in slices of ``slice_s`` until stopped or until the process exits."""

    def __init__(self, pid: int, *, sink: SliceSink, slice_s: float = 10.0, rate_hz: int = 99,
                 mode: str = "cpu", backend: str = "auto", gil: bool = False,
                 nonblocking: bool = False, offcpu_sample: int = 1) -> None:
        self.pid = pid
        self.sink = sink
        self.slice_s = slice_s
        self.rate_hz = rate_hz
        self.mode = mode
        self.backend = backend
        self.gil = gil  # py-spy: only samples holding the GIL (a Python service's own CPU)
        self.nonblocking = nonblocking  # py-spy: never pause the target to read its stacks
        self.offcpu_sample = offcpu_sample  # bpftrace: off-CPU stacks at 1 in N switch-outs
        self.slices = 0
        self.errors: list[str] = []
        self.notes: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.target = target_of_pid(pid)  # fails now, in the caller, for a wrong PID

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"profile-{self.pid}",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        close = getattr(self.sink, "close", None)
        if callable(close):
            close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        # instrumentation running beside a recording never raises: problems become notes
        try:
            exited = self._profile()
        except _StoreFailed as err:
            self.errors.append(str(err))
            return
        except PerflabError as err:
            if not self._stop.is_set():  # stopped before anything was sampled: no error
                self.errors.append(err.message)
            return
        except Exception as err:
            self.errors.append(f"{type(err).__name__}: {err}")
            return
        if exited:
            self.notes.append(f"PID {self.pid} exited; profiling ended")

    def _profile(self) -> bool:
        """Slices until stopped; True when the process exited."""
        while not self._stop.is_set():
            req = CaptureRequest(target=self.target, duration_s=self.slice_s,
                                 rate_hz=self.rate_hz, mode=self.mode, backend=self.backend,
                                 gil=self.gil, nonblocking=self.nonblocking,
                                 offcpu_sample=self.offcpu_sample, stop=self._stop)
            start_ns = time.time_ns()
            result = capture(req)
            # perf's DWARF retry samples only in its second recording: the window starts there
            start_ns = max(start_ns, result.profile.time_ns or 0)
            self._store(start_ns, time.time_ns(), result.profile, result.backend)
            if result.exited_early:
                return True
            if result.backend == "perf" and not self._stop.is_set():
                # the first slice settled the unwinding; one perf runs on from here, its
                # output switched at each boundary: no restart gap between slices
                from perflab.profile._continuous_perf import record_rotating  # noqa: PLC0415

                end = record_rotating(
                    dataclasses.replace(req, call_graph=result.call_graph),
                    slice_s=self.slice_s, stop=self._stop,
                    on_slice=lambda start, stop, prof: self._store(start, stop, prof, "perf"))
                return end.exited
        return False

    def _store(self, start_ns: int, end_ns: int, prof: Profile, backend: str) -> None:
        try:
            self.sink(start_ns, end_ns, prof, backend)
        except Exception as err:
            raise _StoreFailed(f"storing a profile slice failed: {err}") from err
        self.slices += 1


class _StoreFailed(Exception):
    """The sink could not keep a slice: reported as such, even when the profiler was stopping."""
