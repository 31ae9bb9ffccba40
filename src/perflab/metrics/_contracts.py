"""The shapes of the JSON documents this package answers with, one TypedDict per schema in
docs/schemas/ (alerts, metrics-import, promql, rules-check, rules-test, scrape, silence,
silences, slo-status).

tests/unit/test_contracts.py checks each against its schema; the builders (cli/metrics.py, and
``slo_status`` here) return them, so mypy checks what they build.
"""

from typing import Literal, NotRequired, TypedDict


class AlertsDoc(TypedDict):
    """Alerts pending or firing now (the labels of the ALERTS series: alertname, alertstate and the
    alert's own).
    """

    schema: Literal["perflab.alerts/1"]
    alerts: list[dict[str, str]]


class MetricsImportDoc(TypedDict):
    """What an import wrote: the new run, samples, series and the time they span."""

    schema: Literal["perflab.metrics-import/1"]
    run_id: int
    samples: int
    series: int
    first_ns: int
    last_ns: int
    format: Literal["openmetrics", "prometheus"]


class PromqlResult(TypedDict):
    metric: dict[str, str]
    value: NotRequired[tuple[float, str]]
    values: NotRequired[list[tuple[float, str]]]


class PromqlDoc(TypedDict):
    """A PromQL answer in the data layout of Prometheus's HTTP API (/api/v1/query,
    /api/v1/query_range): resultType and result; with --range also start, end and step.
    """

    schema: Literal["perflab.promql/1"]
    resultType: Literal["vector", "matrix", "scalar", "string"]
    start: NotRequired[float]
    end: NotRequired[float]
    step: NotRequired[float]
    result: list[PromqlResult] | tuple[float, str]


class RulesCheckFile(TypedDict):
    path: str
    ok: bool
    rules: int
    problems: list[str]


class RulesCheckDoc(TypedDict):
    """Each rule file checked as promtool check rules checks it."""

    schema: Literal["perflab.rules-check/1"]
    files: list[RulesCheckFile]


class RulesTestFile(TypedDict):
    path: str
    ok: bool
    errors: list[str]


class RulesTestDoc(TypedDict):
    """Each promtool rule unit-test file and the differences found (promtool's words)."""

    schema: Literal["perflab.rules-test/1"]
    files: list[RulesTestFile]


TargetHealth = Literal["up", "down", "unknown"]


class ScrapeTarget(TypedDict):
    job: str
    url: str
    health: TargetHealth
    last_error: str
    last_samples: int
    duplicates: int


class ScrapeDoc(TypedDict):
    """A scrape session: its run, samples written and each target's last state."""

    schema: Literal["perflab.scrape/1"]
    run_id: int
    samples_written: int
    samples_refused: int
    interrupted: bool
    targets: list[ScrapeTarget]


MatchOp = Literal["=", "!=", "=~", "!~"]


class SilenceDoc(TypedDict):
    """The silence added."""

    schema: Literal["perflab.silence/1"]
    id: int
    matchers: list[tuple[str, MatchOp, str]]
    starts_ns: int
    ends_ns: int


class SilencesSilence(TypedDict):
    id: int
    matchers: list[tuple[str, MatchOp, str]]
    starts_ns: int
    ends_ns: int
    created_by: str
    comment: str
    active: bool


class SilencesDoc(TypedDict):
    """Silences (active ones; with --all also expired)."""

    schema: Literal["perflab.silences/1"]
    silences: list[SilencesSilence]


class SloStatusSlo(TypedDict):
    name: str
    service: str
    objective: float
    window: str
    error_ratio: float | None
    budget_remaining: float | None
    burn_rates: dict[str, float | None]
    window_ms: int
    window_text: str


class SloStatusDoc(TypedDict):
    """Each SLO's error ratio over its window, error budget left (1 = untouched, below 0 = spent)
    and burn rate per window (null: no data).
    """

    schema: Literal["perflab.slo-status/1"]
    slos: list[SloStatusSlo]
