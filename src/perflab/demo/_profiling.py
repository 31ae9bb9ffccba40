"""The demo profiles its service all through the traffic (py-spy, in slices on the run's
timeline) and names the planted hot function from the profiles, not from its source.

The finding compares the profile of the normal phase with the profile of the CPU phase: the
function whose own (self) share of the CPU samples grew most is the hot one. Shares are
normalised by each phase's total, so a busy shared machine giving the service less CPU does
not change them. Each phase reads the slices overlapping it; with short slices (2 s) the slice
straddling a phase boundary blurs the shares a little, far less than the planted fault moves
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from perflab.demo._contracts import DemoProfile, DemoRange
from perflab.errors import NotFound, PerflabError

if TYPE_CHECKING:
    from pathlib import Path

    from perflab.demo._findings import Window
    from perflab.profile import ContinuousProfiler
    from perflab.store import Store

SLICE_S = 2.0
SHORT_SLICE_S = 1.0  # demos under 30 s: phases of a few seconds need finer slices
GROWTH_MIN_PP = 10.0  # the hot function's own share must grow by at least this much


@dataclass(frozen=True)
class ProfileFinding:
    detected: bool
    function: str | None  # the function whose self share grew most, normal -> CPU phase
    share_pct: tuple[float | None, float | None]  # its self share (normal, CPU phase), %
    top_in_cpu_phase: str | None  # the top self-time function of the CPU phase
    top_share_pct: float | None
    ranges: dict[str, Window | None]  # the two ranges compared, for the report's diff
    note: str | None = None  # why there is no profile (py-spy missing, no slices ...)
    kind: Literal["profile"] = "profile"
    endpoint: str | None = None

    @property
    def growth_pp(self) -> float | None:
        a, b = self.share_pct
        return None if a is None or b is None else b - a

    @property
    def summary(self) -> str:
        if self.note is not None:
            return f"Profile: not measured — {self.note}"
        a, b = self.share_pct
        if self.function is None or a is None or b is None:
            return "Profile: the normal and CPU phases have no profile to compare"
        verdict = (f"{self.function} is the hot function" if self.detected
                   else "no function's share grew markedly")
        text = (f"{self.function}'s own share of the service's CPU samples went from "
                f"{a:.1f}% in the normal phase to {b:.1f}% in the CPU phase "
                f"({b - a:+.1f} pp, the largest change)")
        if self.top_in_cpu_phase is not None and self.top_share_pct is not None:
            text += (f"; top self-time function in the CPU phase: {self.top_in_cpu_phase} "
                     f"({self.top_share_pct:.1f}%)")
        return f"Profile (py-spy): {verdict} — {text}"

    def to_json(self) -> DemoProfile:
        return {
            "kind": self.kind, "detected": self.detected, "endpoint": self.endpoint,
            "summary": self.summary, "function": self.function,
            "share_pct": {"normal": _r(self.share_pct[0]), "hot": _r(self.share_pct[1])},
            "growth_pp": _r(self.growth_pp),
            "top_in_cpu_phase": self.top_in_cpu_phase,
            "top_share_pct": _r(self.top_share_pct),
            "ranges": {"a": _range(self.ranges.get("a")), "b": _range(self.ranges.get("b"))},
            "note": self.note,
        }


def _range(w: Window | None) -> DemoRange | None:
    return None if w is None else {"label": w.name, "start_ns": w.start_ns, "end_ns": w.end_ns}


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def not_measured(note: str) -> ProfileFinding:
    return ProfileFinding(detected=False, function=None, share_pct=(None, None),
                          top_in_cpu_phase=None, top_share_pct=None,
                          ranges={"a": None, "b": None}, note=note)


def slice_seconds(duration_s: float) -> float:
    return SHORT_SLICE_S if duration_s < 30 else SLICE_S  # see SHORT_SLICE_S


def start_profiler(store_path: Path, run_id: int, pid: int,
                   slice_s: float = SLICE_S) -> ContinuousProfiler | str:
    """py-spy on the service in slices; a reason instead when it cannot run.

    ``--gil``: only samples of threads holding the GIL, i.e. running Python code. The service's
    threads waiting on sockets would otherwise show as busy (py-spy cannot always tell a thread
    blocked in a read from one running) and crowd out the function that burns the CPU.
    ``--nonblocking``: py-spy reads the stacks without pausing the service. Pausing it ~100
    times a second changes which waiting thread gets the demo's global lock next, and the
    lock phase's queueing (p50 rising with concurrency) no longer shows; measured: p50 at
    concurrency 8 went from 7.9x to 2.0x of concurrency 1 with pauses, 7.9x without.
    """
    from perflab.profile import ContinuousProfiler, StoreSink, find_tool  # noqa: PLC0415

    if find_tool("py-spy") is None:
        return "py-spy is not installed (pip install py-spy); the profile finding is skipped"
    try:
        profiler = ContinuousProfiler(pid, sink=StoreSink(str(store_path), run_id, pid=pid),
                                      slice_s=slice_s, backend="py-spy", gil=True,
                                      nonblocking=True)
    except PerflabError as exc:
        return f"cannot profile the service: {exc.message}"
    profiler.start()
    return profiler


def _inner(store: Store, run_id: int, w: Window) -> tuple[int, int]:
    """The range of the slices wholly inside the phase (none straddling its edges), or the
    phase itself when it is shorter than a slice."""
    from perflab.profile import profile_slices  # noqa: PLC0415

    inner = [s for s in profile_slices(store, run_id)
             if s.start_ns >= w.start_ns and s.end_ns <= w.end_ns]
    if not inner:
        return w.start_ns, w.end_ns
    # slices never touch (the next starts after the previous ended), so this range holds
    # exactly the inner ones
    return min(s.start_ns for s in inner), max(s.end_ns for s in inner)


def profile_finding(store: Store, run_id: int, normal: Window | None,
                    hot: Window | None) -> ProfileFinding:
    """Compare the normal phase's profile with the CPU phase's (both from the store)."""
    from perflab.profile import range_changes, range_profile, top_functions  # noqa: PLC0415

    if normal is None or hot is None:
        return not_measured("the normal or CPU phase did not complete")
    try:
        a = range_profile(store, run_id, *_inner(store, run_id, normal)).profile
        b = range_profile(store, run_id, *_inner(store, run_id, hot)).profile
    except NotFound:
        return not_measured("no profile slices cover the normal and CPU phases")
    except PerflabError as exc:
        return not_measured(f"the profile slices could not be read: {exc.message}")
    changes = range_changes(a, b, limit=50)
    grown = max(changes, key=lambda c: c.self_delta_pp, default=None)
    top = top_functions(b, 1)
    detected = grown is not None and grown.self_delta_pp >= GROWTH_MIN_PP
    return ProfileFinding(
        detected=detected,
        function=None if grown is None else grown.name,
        share_pct=(None, None) if grown is None else (grown.a_self_pct, grown.b_self_pct),
        top_in_cpu_phase=top[0].name if top else None,
        top_share_pct=100 * top[0].self_share if top else None,
        ranges={"a": normal, "b": hot},
    )
