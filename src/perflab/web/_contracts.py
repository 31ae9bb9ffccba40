"""The shapes of the JSON documents this package answers with, one TypedDict per schema in
docs/schemas/ (api-batch, api-benchmark, api-benchmarks, api-error, api-events, api-live, api-
profile, api-profile_diff, api-profile_slices, api-run, api-runs, api-samples, api-summary).

tests/unit/test_contracts.py checks each against its schema; the functions that build the
documents are annotated with them, so mypy checks what they build.
"""

from typing import Any, Literal, NotRequired, TypedDict


class ApiBatchWindows(TypedDict):
    series_id: int
    start_ns: int | None
    end_ns: int | None
    raw_count: int
    downsampled: bool
    bucket_ns: int
    ts_ns: list[int]
    values: list[float]


class ApiBatchDoc(TypedDict):
    """Samples of several series of one run, each downsampled like api-samples (GET
    /api/runs/{id}/samples?series=1,2,3).
    """

    schema: Literal["perflab.api.batch/1"]
    run_id: int
    windows: list[ApiBatchWindows]


class ApiBenchmarkPoint(TypedDict):
    """One recorded commit: the median of its values and the median's 95 % confidence interval
    (null when too few values).
    """

    run_id: int
    commit: str
    branch: str
    time_ns: int
    median: float
    n: int
    lo: float | None
    hi: float | None


class ApiBenchmarkChange(TypedDict):
    """A change point (as perflab bench regressions reports it): `index` is the first commit of the
    new level in `points`.
    """

    bench: str
    unit: str
    verdict: Literal["regression", "improvement"]
    index: int
    from_commit: str
    to_commit: str
    from_run_id: int
    to_run_id: int
    time_ns: int
    rel_change: float
    magnitude: float
    pvalue: float
    mean_before: float
    mean_after: float


class ApiBenchmarkHistories(TypedDict):
    name: str
    unit: str
    better: Literal["lower", "higher"]
    status: Literal["regression", "improvement", "steady", "short"]
    commits: int
    first_ns: int
    last: ApiBenchmarkPoint
    previous: ApiBenchmarkPoint | None
    delta_pct: float | None
    changes: list[ApiBenchmarkChange]
    latest_change: ApiBenchmarkChange | None
    notes: list[str]
    points: list[ApiBenchmarkPoint]


class ApiBenchmarkDoc(TypedDict):
    """One benchmark's history per unit: every recorded commit, oldest first, and the change points
    (GET /api/benchmarks/{name}).
    """

    schema: Literal["perflab.api.benchmark/1"]
    name: str
    branch: str | None
    histories: list[ApiBenchmarkHistories]


class ApiBenchmarksSummary(TypedDict):
    name: str
    unit: str
    better: Literal["lower", "higher"]
    status: Literal["regression", "improvement", "steady", "short"]
    commits: int
    first_ns: int
    last: ApiBenchmarkPoint
    previous: ApiBenchmarkPoint | None
    delta_pct: float | None
    changes: list[ApiBenchmarkChange]
    latest_change: ApiBenchmarkChange | None
    notes: list[str]


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


class ApiEventsEvent(TypedDict):
    id: int
    ts_ns: int
    end_ns: int | None
    kind: str
    text: str
    attrs: dict[str, Any]


class ApiEventsDoc(TypedDict):
    """Events of a run (GET /api/runs/{id}/events)."""

    schema: Literal["perflab.api.events/1"]
    run_id: int
    events: list[ApiEventsEvent]


class ApiLiveRun(TypedDict):
    id: int
    kind: str
    name: str
    status: str
    started_ns: int
    ended_ns: int | None
    duration_s: float | None
    host: str
    meta: dict[str, Any]


class ApiLivePanelsSeries(TypedDict):
    id: int
    name: str
    labels: dict[str, str]
    unit: str
    area: NotRequired[str]
    ts_ns: list[int]
    values: list[float]


class ApiLivePanels(TypedDict):
    key: str
    title: str
    unit: str
    series: list[ApiLivePanelsSeries]


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
    run: ApiLiveRun | None
    panels: list[ApiLivePanels]
    top: list[ApiLiveTop]


class ApiProfileFunction(TypedDict):
    name: str
    self: int
    total: int
    self_pct: float
    total_pct: float


class ApiProfileDoc(TypedDict):
    """The merged profile of a time range of a run (GET /api/runs/{id}/profile)."""

    schema: Literal["perflab.api.profile/1"]
    run_id: int
    start_ns: int | None
    end_ns: int | None
    slices: int
    sample_type: str
    unit: str
    total: int
    stacks: int
    functions: list[ApiProfileFunction]


class ApiProfileDiffRange(TypedDict):
    start_ns: int | None
    end_ns: int | None
    slices: int
    sample_type: str
    unit: str
    total: int
    stacks: int
    functions: list[ApiProfileFunction]


class ApiProfileDiffChange(TypedDict):
    a_self_pct: float
    b_self_pct: float
    a_total_pct: float
    b_total_pct: float
    self_delta_pp: float
    total_delta_pp: float
    name: str


class ApiProfileDiffDoc(TypedDict):
    """Two ranges of a run compared (GET /api/runs/{id}/profile/diff): shares normalised by each
    range's total.
    """

    schema: Literal["perflab.api.profile_diff/1"]
    run_id: int
    a: ApiProfileDiffRange
    b: ApiProfileDiffRange
    changes: list[ApiProfileDiffChange]


class ApiProfileSlicesSlice(TypedDict):
    id: int
    name: str
    start_ns: int
    end_ns: int
    backend: str
    pid: int | None
    samples: int
    total: int
    unit: str


class ApiProfileSlicesDoc(TypedDict):
    """Where a run has profile slices (GET /api/runs/{id}/profile/slices)."""

    schema: Literal["perflab.api.profile_slices/1"]
    run_id: int
    slices: list[ApiProfileSlicesSlice]


class ApiRunSeries(TypedDict):
    id: int
    name: str
    labels: dict[str, str]
    unit: str
    area: NotRequired[str]


class ApiRunDoc(TypedDict):
    """One run with its series and events (GET /api/runs/{id})."""

    schema: Literal["perflab.api.run/1"]
    run: ApiLiveRun
    series: list[ApiRunSeries]
    events: list[ApiEventsEvent]


class ApiRunsDoc(TypedDict):
    """Runs in the store, newest first (GET /api/runs)."""

    schema: Literal["perflab.api.runs/1"]
    runs: list[ApiLiveRun]


class ApiSamplesDoc(TypedDict):
    """Samples of one series in a time window, downsampled to at most `points` points keeping peaks
    (GET /api/runs/{id}/series/{sid}/samples).
    """

    schema: Literal["perflab.api.samples/1"]
    run_id: int
    series: ApiRunSeries
    series_id: int
    start_ns: int | None
    end_ns: int | None
    raw_count: int
    downsampled: bool
    bucket_ns: int
    ts_ns: list[int]
    values: list[float]


class ApiSummarySummaries(TypedDict):
    series_id: int
    count: int
    min: float | None
    mean: float | None
    max: float | None
    p95: float | None
    last: float | None


class ApiSummaryDoc(TypedDict):
    """min/mean/max/p95 (nearest rank) and last value of every series of a run (GET
    /api/runs/{id}/summary).
    """

    schema: Literal["perflab.api.summary/1"]
    run_id: int
    summaries: list[ApiSummarySummaries]
