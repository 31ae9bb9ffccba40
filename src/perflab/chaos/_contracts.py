"""TypedDicts of the fault proxy's API answers (docs/schemas/toxiproxy-*.schema.json) and of an
experiment's journal (docs/schemas/chaos-journal.schema.json)."""

from typing import Any, Literal, NotRequired, TypedDict

# a request header perflab's own faults send with the toxic they add (``chaos net --delay``):
# ``band`` means the client records the fault on the timeline, so the proxy does not again
RECORDED_HEADER = "X-Perflab-Recorded"

ToxicType = Literal["latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer",
                    "limit_data", "http_error", "http_latency", "http_corrupt",
                    "http_slow_body"]


class ToxicDoc(TypedDict):
    """One toxic, as Toxiproxy 2.x answers it; ``duration`` is perflab's addition."""

    attributes: dict[str, int | str]
    name: str
    type: ToxicType
    stream: Literal["upstream", "downstream"]
    toxicity: float
    duration: NotRequired[str]


class ProxyDoc(TypedDict):
    """One proxy; ``listen`` is the bound address."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: list[ToxicDoc]


class ApiErrorDoc(TypedDict):
    """An error answer: Toxiproxy's message and status, and perflab's hint."""

    error: str
    status: int
    hint: NotRequired[str]


class PopulateDoc(TypedDict):
    """POST /populate's answer."""

    error: NotRequired[str]
    status: NotRequired[int]
    hint: NotRequired[str]
    proxies: list[ProxyDoc] | None


class VersionDoc(TypedDict):
    version: str
    perflab: str


ToxicsDoc = list[ToxicDoc]
ProxiesDoc = dict[str, ProxyDoc]


class ActivityRunDoc(TypedDict):
    """One activity's record in a journal (chaostoolkit-lib's ``Run``): the activity as
    written, its output (a probe's value, an http ``{status, headers, body}``, a process'
    ``{status, stdout, stderr}``), its times and status; ``exception`` when it failed,
    ``tolerance_met`` for a hypothesis probe."""

    activity: dict[str, Any]
    output: Any
    start: str
    end: str
    duration: float
    status: Literal["succeeded", "failed"]
    exception: NotRequired[list[str]]
    tolerance_met: NotRequired[bool]


class SteadyStateDoc(TypedDict):
    steady_state_met: bool | None
    probes: list[ActivityRunDoc]


class SteadyStatesDoc(TypedDict):
    before: SteadyStateDoc | None
    after: SteadyStateDoc | None
    during: list[SteadyStateDoc]


# Chaos Toolkit's journal keys (``perflab-version`` where chaostoolkit-lib writes
# ``chaoslib-version``); the dash needs the functional form
JournalDoc = TypedDict("JournalDoc", {
    "perflab-version": str,
    "platform": str,
    "node": str,
    "experiment": dict[str, Any],
    "start": str,
    "end": str,
    "duration": float,
    "status": Literal["completed", "failed", "aborted", "interrupted"],
    "deviated": bool,
    "steady_states": SteadyStatesDoc,
    "run": list[ActivityRunDoc],
    "rollbacks": list[ActivityRunDoc],
})


class SteadyBandDoc(TypedDict):
    """The load's steady state before a fault: its median p99 and error rate over ``seconds``,
    and the band a second stays within (p99 and error rate at most these)."""

    seconds: int
    p99_ms: float
    p99_band_ms: float
    error_rate: float
    error_band: float


class DeviationDoc(TypedDict):
    """What a fault did to the load: the worst second during it against the steady state, and
    the seconds from its end until the load was back within the steady band (None: not seen,
    no steady state, or the fault had not ended)."""

    steady: SteadyBandDoc | None
    seconds_during: int
    worst_p99_ms: float | None
    worst_p99_ratio: float | None
    worst_p99_at_ns: int | None
    worst_error_rate: float | None
    error_rate_during: float | None
    out_of_band_s: int | None
    recovered_after_s: float | None


class FaultDoc(DeviationDoc):
    """One fault band of the run with its parameters and the load around it; an experiment's
    fault also has its hypothesis checks (None elsewhere)."""

    name: str
    type: str
    text: str
    attributes: dict[str, Any]
    start_ns: int
    end_ns: int | None
    checks_during: int | None
    not_met_during: int | None
    steady_state_again_after_s: float | None


class ChaosReportDoc(TypedDict):
    """``perflab chaos report RUN --json``."""

    version: Literal[2]
    run_id: int
    kind: str
    name: str
    status: str
    load_runs: list[int]
    steady_state_before: bool | None
    steady_state_after: bool | None
    faults: list[FaultDoc]
