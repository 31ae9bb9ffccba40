"""The shapes of the JSON documents this package answers with, one TypedDict per schema in
docs/schemas/ (profile-capture, profile-continuous, profile-diff, profile-export, profile-flame,
profile-pprof-peek, profile-pprof-top).

tests/unit/test_contracts.py checks each against its schema; the functions that build the
documents are annotated with them, so mypy checks what they build.
"""

from typing import Literal, TypedDict

CaptureMode = Literal["cpu", "wall", "offcpu"]  # what a capture samples


class FunctionShareJson(TypedDict):
    name: str
    self: int
    total: int
    self_pct: float
    total_pct: float


class RangeProfileJson(TypedDict):
    start_ns: int | None
    end_ns: int | None
    slices: int
    sample_type: str
    unit: str
    total: int
    stacks: int
    functions: list[FunctionShareJson]


class ShareDeltaJson(TypedDict):
    a_self_pct: float
    b_self_pct: float
    a_total_pct: float
    b_total_pct: float
    self_delta_pp: float
    total_delta_pp: float
    name: str


class SliceJson(TypedDict):
    id: int
    name: str
    start_ns: int
    end_ns: int
    backend: str
    pid: int | None
    samples: int
    total: int
    unit: str


class ProfileCaptureTop(TypedDict):
    name: str
    flat: int
    cum: int
    flat_pct: float
    cum_pct: float


class ProfileCaptureDoc(TypedDict):
    """One capture: the backend chosen and why, what was written, and the top functions."""

    schema: Literal["perflab.profile-capture/1"]
    backend: Literal["perf", "bpftrace", "py-spy", "pprof"]
    reason: str
    mode: CaptureMode
    duration_s: float | None
    rate_hz: int
    output: str
    sample_type: str
    unit: str
    total: int
    samples: int
    notes: list[str]
    exited_early: bool
    interrupted: bool
    extra_files: dict[str, str]
    top: list[ProfileCaptureTop]


class ProfileContinuousDoc(TypedDict):
    """A continuous-profiling run: profile slices stored as artifacts (kind 'profile') on the run's
    timeline.
    """

    schema: Literal["perflab.profile-continuous/1"]
    run: int
    pid: int
    slices: int
    slice_s: float
    status: Literal["ok", "failed", "interrupted"]
    notes: list[str]


class ProfileDiffFunction(TypedDict):
    name: str
    base_flat_pct: float
    new_flat_pct: float
    flat_delta_pp: float
    base_cum_pct: float
    new_cum_pct: float
    cum_delta_pp: float


class ProfileDiffCheck(TypedDict):
    rule: str
    passed: bool
    violations: list[str]


class ProfileDiffDoc(TypedDict):
    """Functions whose share of the profile changed most from base to new. Shares are percentages
    of each profile's own total; deltas are percentage points.
    """

    schema: Literal["perflab.profile-diff/1"]
    base: str
    new: str
    sample_type: str
    base_total: int
    new_total: int
    output: str | None
    functions: list[ProfileDiffFunction]
    checks: list[ProfileDiffCheck]


class ProfileExportDoc(TypedDict):
    """The merged profile of the slices of a run that overlap a range (resolution: one slice)."""

    schema: Literal["perflab.profile-export/1"]
    run: int
    output: str
    sample_type: str
    unit: str
    total: int
    from_s: float | None
    to_s: float | None


class ProfileFlameDoc(TypedDict):
    """What `perflab flame` wrote."""

    schema: Literal["perflab.profile-flame/1"]
    source: str
    output: str
    format: Literal["html", "svg"]
    sample_type: str
    unit: str
    total: int
    stacks: int
    frames: int


class ProfilePprofPeekEdge(TypedDict):
    name: str
    value: int
    text: str
    pct: float
    inline: bool


class PprofReportJson(TypedDict):
    """What pprof's reports say first: the profile, its sample type and units, its total."""

    source: str
    sample_type: str
    unit: str
    output_unit: str
    total: int
    labels: list[str]


class PprofRowJson(TypedDict):
    """A function's flat and cumulative cost, as pprof's -top and -peek print it."""

    name: str
    flat: int
    cum: int
    flat_text: str
    cum_text: str
    flat_pct: float
    sum_pct: float
    cum_pct: float


class ProfilePprofPeekEntry(PprofRowJson):
    inline: str
    callers: list[ProfilePprofPeekEdge]
    callees: list[ProfilePprofPeekEdge]


class ProfilePprofPeekDoc(PprofReportJson):
    """The functions matching a regexp with their callers and callees (go tool pprof -peek). Edge
    pct is the share of the function's cum.
    """

    schema: Literal["perflab.pprof-peek/1"]
    entries: list[ProfilePprofPeekEntry]


class ProfilePprofTopRow(PprofRowJson):
    inline: Literal["", "(inline)", "(partial-inline)"]


class ProfilePprofTopDoc(PprofReportJson):
    """Functions by flat and cumulative cost, with go tool pprof -top's rules. Values are in the
    profile's sample unit; *_text are pprof's formatted values in output_unit; percentages of
    total.
    """

    schema: Literal["perflab.pprof-top/1"]
    rows: list[ProfilePprofTopRow]
