"""``perflab record --profile PID``: one continuous profiler per PID beside the recorder.

Every profiler stores its slices in the recording's run (artifacts of kind ``profile``, each
with its time window and PID), so the Run page can show the flame graph of any range of it.
Everything is checked before the run exists: a wrong PID, a backend that cannot profile the
target or a missing tool is an error, not an empty run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from perflab.errors import InvalidValue

if TYPE_CHECKING:
    from perflab.collect import ProfilersSummary
    from perflab.profile import ContinuousProfiler, Profile

MIN_SLICE_S = 1.0  # py-spy records whole seconds


@dataclass
class _CountingSink:
    """Stores a slice through ``inner`` and counts what it held (for the end summary)."""

    inner: Any
    samples: int = 0

    def __call__(self, start_ns: int, end_ns: int, prof: Profile, backend: str) -> None:
        self.inner(start_ns, end_ns, prof, backend)
        self.samples += prof.total(0)

    def close(self) -> None:
        self.inner.close()


@dataclass
class RunProfilers:
    """The profilers of one recording, with their choice of backend and their counts."""

    profilers: list[ContinuousProfiler] = field(default_factory=list)
    sinks: list[_CountingSink] = field(default_factory=list)
    backends: dict[int, str] = field(default_factory=dict)  # pid -> backend and why

    @classmethod
    def check(cls, pids: tuple[int, ...], *, slice_s: float, backend: str) -> dict[int, str]:
        """Validate the options and targets; returns the backend chosen per PID."""
        from perflab.profile import CaptureRequest, choose_backend, target_of_pid  # noqa: PLC0415

        if slice_s < MIN_SLICE_S:
            raise InvalidValue(f"--profile-slice must be at least {MIN_SLICE_S:g}s",
                               hint="e.g. --profile-slice 10s")
        if backend not in ("auto", "perf", "py-spy"):
            raise InvalidValue(f"unknown --profile-backend {backend!r}",
                               hint="one of: auto, perf, py-spy")
        chosen = {}
        for pid in dict.fromkeys(pids):
            req = CaptureRequest(target=target_of_pid(pid), duration_s=slice_s, backend=backend)
            name, why = choose_backend(req)
            chosen[pid] = f"{name} ({why})"
        return chosen

    @classmethod
    def start(cls, store_path: str, run_id: int, pids: tuple[int, ...], *, slice_s: float,
              backend: str, rate_hz: int = 99) -> RunProfilers:
        from perflab.profile import ContinuousProfiler, StoreSink  # noqa: PLC0415

        out = cls(backends=cls.check(pids, slice_s=slice_s, backend=backend))
        for pid in out.backends:
            sink = _CountingSink(StoreSink(store_path, run_id, pid=pid))
            # nonblocking: py-spy's default pauses the target for every sample, which hides
            # lock contention (the demo's lock looked 4x milder under it); a recording of a
            # live service must not change what it records
            prof = ContinuousProfiler(pid, sink=sink, slice_s=slice_s, rate_hz=rate_hz,
                                      backend=backend, nonblocking=True)
            out.sinks.append(sink)
            out.profilers.append(prof)
            prof.start()
        return out

    def stop(self) -> None:
        """End every profiler; each keeps what its current slice sampled."""
        for prof in self.profilers:
            prof.stop()

    @property
    def slices(self) -> int:
        return sum(p.slices for p in self.profilers)

    @property
    def samples(self) -> int:
        return sum(s.samples for s in self.sinks)

    @property
    def notes(self) -> list[str]:
        return [f"profile PID {p.pid}: {n}" for p in self.profilers for n in p.notes + p.errors]

    def summary_json(self) -> ProfilersSummary:
        return {"pids": [p.pid for p in self.profilers], "slices": self.slices,
                "samples": self.samples, "backends": {str(k): v for k, v in
                                                      self.backends.items()},
                "notes": self.notes}
