"""The shapes of the JSON documents this package answers with, one TypedDict per schema in
docs/schemas/ (query, runs, show, store-check).

tests/unit/test_contracts.py checks each against its schema; the functions that build the
documents are annotated with them, so mypy checks what they build.
"""

from typing import Any, Literal, NotRequired, TypedDict


class SeriesJson(TypedDict):
    """A series as the API and `query` show it (``Series.to_json``)."""

    id: int
    name: str
    labels: dict[str, str]
    unit: str


class QuerySeries(SeriesJson):
    samples: list[tuple[int, float]]


class QueryDoc(TypedDict):
    """The samples of every series of a run matching a name and labels."""

    schema: Literal["perflab.query/1"]
    run: int
    series: list[QuerySeries]


class RunJson(TypedDict):
    """A run as every document shows it (``Run.to_json``)."""

    id: int
    kind: str
    name: str
    status: str
    started_ns: int
    ended_ns: int | None
    duration_s: float | None
    host: str
    meta: dict[str, Any]


class RunsRun(RunJson):
    """A run as `runs` and `show` list it: with how many series and samples it holds."""

    series: int
    samples: int


class RunsDoc(TypedDict):
    """The runs of a store, newest first."""

    schema: Literal["perflab.runs/1"]
    store: str
    runs: list[RunsRun]


class SampleWindowJson(TypedDict):
    """A series' samples in a window, downsampled keeping peaks (``SampleWindow.to_json``)."""

    series_id: int
    start_ns: int | None
    end_ns: int | None
    raw_count: int
    downsampled: bool
    bucket_ns: int
    ts_ns: list[int]
    values: list[float]


class SeriesStatsJson(TypedDict):
    """A series' sample count, min/mean/max/p95 (nearest rank) and last value."""

    count: int
    min: float | None
    mean: float | None
    max: float | None
    p95: float | None
    last: float | None


class SummaryJson(SeriesStatsJson):
    """A series' statistics by its id (``Summary.to_json``)."""

    series_id: int


class ShowSeries(SeriesStatsJson):
    name: str
    labels: dict[str, str]
    unit: str
    area: str


class EventJson(TypedDict):
    """An event as every document shows it (``Event.to_json``)."""

    id: int
    ts_ns: int
    end_ns: int | None
    kind: str
    text: str
    attrs: dict[str, Any]


class ShowProfile(TypedDict):
    """Present when the run has profile slices (record --profile): how many, of which processes, by
    which profilers, from when to when.
    """

    slices: int
    pids: list[int]
    backends: list[str]
    start_ns: int
    end_ns: int


class ShowDoc(TypedDict):
    """One run: summary statistics of every series, and its events."""

    schema: Literal["perflab.show/1"]
    run: RunsRun
    series: list[ShowSeries]
    events: list[EventJson]
    profile: NotRequired[ShowProfile]


class StoreCheckDoc(TypedDict):
    """SQLite's full integrity check of a store file (PRAGMA integrity_check): every page, every
    index against its table. Exit 0 when ok, 1 when damaged.
    """

    schema: Literal["perflab.store-check/1"]
    store: str
    ok: bool
    bytes: int
    schema_version: int | None
    problems: list[str]
    seconds: float
