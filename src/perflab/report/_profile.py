"""The report's profile section, for runs with profile slices (``perflab record --profile``,
``perflab profile PID --slice``, the demo).

The whole run's flame graph (the interactive page ``perflab flame`` writes, inline in an
iframe's ``srcdoc`` so the report still opens offline), the functions with the largest own
share, and — when a finding of kind ``profile`` names two ranges (the demo's normal and CPU
phases) — the differential flame graph of those ranges with the functions whose share changed
most.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perflab.errors import NotFound, PerflabError

if TYPE_CHECKING:
    from perflab.profile import FunctionShare, Profile, ShareDelta, SliceInfo
    from perflab.store import Run, Store

TOP_ROWS = 20
CHANGE_ROWS = 12


@dataclass(frozen=True)
class RangePair:
    a_label: str
    b_label: str
    page: str  # the differential flame graph page
    changes: list[ShareDelta]


@dataclass(frozen=True)
class ProfileReport:
    slices: list[SliceInfo]
    pids: list[int]
    backends: list[str]
    sample_type: str
    seconds: float
    page: str  # the whole run's flame graph page
    functions: list[FunctionShare]
    diff: RangePair | None
    note: str | None = None


def _ranges(run: Run) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The two ranges a ``profile`` finding compares, when the run has one."""
    for f in run.meta.get("findings") or []:
        if isinstance(f, dict) and f.get("kind") == "profile":
            r = f.get("ranges") or {}
            a, b = r.get("a"), r.get("b")
            if isinstance(a, dict) and isinstance(b, dict):
                return a, b
    return None


def profile_report(store: Store, run: Run) -> ProfileReport | None:
    from perflab.profile import (  # noqa: PLC0415  # loads the profile package only when needed
        diff_flame_html,
        flame_html,
        profile_slices,
        range_changes,
        range_profile,
        top_functions,
    )

    slices = profile_slices(store, run.id)
    if not slices:
        return None
    pids = sorted({s.pid for s in slices if s.pid is not None})
    backends = sorted({s.backend for s in slices})
    seconds = sum(s.end_ns - s.start_ns for s in slices) / 1e9
    try:
        whole = range_profile(store, run.id)
    except PerflabError as exc:  # a slice that does not decode: say so, keep the report
        return ProfileReport(slices, pids, backends, "", seconds, "", [], None,
                             note=f"the profile slices could not be read: {exc.message}")
    prof = whole.profile
    st = prof.sample_types[prof.sample_index(None)]
    page = flame_html(prof, title=f"run {run.id} · whole run · {len(slices)} slices")
    diff = None
    pair = _ranges(run)
    if pair is not None:
        a, b = pair
        pa: Profile | None = None
        pb: Profile | None = None
        try:
            pa = range_profile(store, run.id, int(a["start_ns"]), int(a["end_ns"])).profile
            pb = range_profile(store, run.id, int(b["start_ns"]), int(b["end_ns"])).profile
        except (NotFound, PerflabError, KeyError, TypeError, ValueError):
            pass  # a range without slices: no diff, the rest of the section stands
        if pa is not None and pb is not None:
            a_label, b_label = str(a.get("label", "A")), str(b.get("label", "B"))
            diff = RangePair(a_label, b_label,
                             diff_flame_html(pa, pb, title=f"run {run.id} · {a_label} phase → "
                                                           f"{b_label} phase"),
                             range_changes(pa, pb, CHANGE_ROWS))
    return ProfileReport(slices, pids, backends, st.type, seconds, page,
                         top_functions(prof, TOP_ROWS), diff)
