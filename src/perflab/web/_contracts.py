"""The shapes of the JSON documents this package answers with, one TypedDict per schema in
docs/schemas/ (api-batch, api-benchmark, api-benchmarks, api-error, api-events, api-live, api-
profile, api-profile_diff, api-profile_slices, api-run, api-runs, api-samples, api-summary).

tests/unit/test_contracts.py checks each against its schema; the functions that build the
documents are annotated with them, so mypy checks what they build.
"""

from typing import Literal, NotRequired, TypedDict

from perflab.bench import BenchChangeJson, BenchPointJson
from perflab.profile import RangeProfileJson, ShareDeltaJson, SliceJson
from perflab.store import EventJson, RunJson, SampleWindowJson, SeriesJson, SummaryJson


class ApiBatchDoc(TypedDict):
    """Samples of several series of one run, each downsampled like api-samples (GET
    /api/runs/{id}/samples?series=1,2,3).
    """

    schema: Literal["perflab.api.batch/1"]
    run_id: int
    windows: list[SampleWindowJson]


class ApiBenchmarksSummary(TypedDict):
    name: str
    unit: str
    better: Literal["lower", "higher"]
    status: Literal["regression", "improvement", "steady", "short"]
    commits: int
    first_ns: int
    last: BenchPointJson
    previous: BenchPointJson | None
    delta_pct: float | None
    changes: list[BenchChangeJson]
    latest_change: BenchChangeJson | None
    notes: list[str]


class ApiBenchmarkHistory(ApiBenchmarksSummary):
    points: list[BenchPointJson]


class ApiBenchmarkDoc(TypedDict):
    """One benchmark's history per unit: every recorded commit, oldest first, and the change points
    (GET /api/benchmarks/{name}).
    """

    schema: Literal["perflab.api.benchmark/1"]
    name: str
    branch: str | None
    histories: list[ApiBenchmarkHistory]


class ApiBenchmarksDoc(TypedDict):
    """Every benchmark (and unit) in the bench history, with its latest commit and its change
    points (GET /api/benchmarks).
    """

    schema: Literal["perflab.api.benchmarks/1"]
    q: str
    branch: str | None
    branches: list[str]
    benchmarks: list[ApiBenchmarksSummary]


class ApiErrorDoc(TypedDict):
    """Body of every 4xx answer of the API."""

    error: str
    status: int


class ApiEventsDoc(TypedDict):
    """Events of a run (GET /api/runs/{id}/events)."""

    schema: Literal["perflab.api.events/1"]
    run_id: int
    events: list[EventJson]


class ApiLivePanelLine(SeriesJson):
    area: NotRequired[str]
    ts_ns: list[int]
    values: list[float]


class ApiLivePanel(TypedDict):
    key: str
    title: str
    unit: str
    series: list[ApiLivePanelLine]


class ApiLiveTop(TypedDict):
    pid: int
    name: str
    user: str
    cmdline: str
    cpu_pct: float
    rss_bytes: int
    threads: int


class ApiLiveDoc(TypedDict):
    """The Overview's data: the latest window of this machine's recording per panel, and the top
    processes (GET /api/live).
    """

    schema: Literal["perflab.api.live/1"]
    now_ns: int
    window_ns: int
    run: RunJson | None
    panels: list[ApiLivePanel]
    top: list[ApiLiveTop]


class ApiProfileDoc(RangeProfileJson):
    """The merged profile of a time range of a run (GET /api/runs/{id}/profile)."""

    schema: Literal["perflab.api.profile/1"]
    run_id: int


class ApiProfileDiffDoc(TypedDict):
    """Two ranges of a run compared (GET /api/runs/{id}/profile/diff): shares normalised by each
    range's total.
    """

    schema: Literal["perflab.api.profile_diff/1"]
    run_id: int
    a: RangeProfileJson
    b: RangeProfileJson
    changes: list[ShareDeltaJson]


class ApiProfileSlicesDoc(TypedDict):
    """Where a run has profile slices (GET /api/runs/{id}/profile/slices)."""

    schema: Literal["perflab.api.profile_slices/1"]
    run_id: int
    slices: list[SliceJson]


class ApiRunSeries(SeriesJson):
    area: NotRequired[str]


class ApiRunDoc(TypedDict):
    """One run with its series and events (GET /api/runs/{id})."""

    schema: Literal["perflab.api.run/1"]
    run: RunJson
    series: list[ApiRunSeries]
    events: list[EventJson]


class ApiRunsDoc(TypedDict):
    """Runs in the store, newest first (GET /api/runs)."""

    schema: Literal["perflab.api.runs/1"]
    runs: list[RunJson]


class ApiSamplesDoc(SampleWindowJson):
    """Samples of one series in a time window, downsampled to at most `points` points keeping peaks
    (GET /api/runs/{id}/series/{sid}/samples).
    """

    schema: Literal["perflab.api.samples/1"]
    run_id: int
    series: ApiRunSeries


class ApiSummaryDoc(TypedDict):
    """min/mean/max/p95 (nearest rank) and last value of every series of a run (GET
    /api/runs/{id}/summary).
    """

    schema: Literal["perflab.api.summary/1"]
    run_id: int
    summaries: list[SummaryJson]
