"""The shapes of the JSON documents this package answers with, one TypedDict per schema in
docs/schemas/ (logs-query: ``perflab logs query --json``; loki-query: the ``/loki/api/v1/query``
and ``query_range`` answers; loki-list: ``labels``, ``label/<n>/values`` and ``series``).

tests/unit/test_contracts.py checks each against its schema; the builders (_query.py, _api.py,
cli/logs.py) are annotated with them, so mypy checks what they build.
"""

from typing import Literal, NotRequired, TypedDict


class StreamResult(TypedDict):
    stream: dict[str, str]
    values: list[list[str]]            # ["<unix ns>", "<line>"]


class MatrixSeries(TypedDict):
    metric: dict[str, str]
    values: list[list[float | str]]    # [<unix s>, "<value>"]


class VectorSample(TypedDict):
    metric: dict[str, str]
    value: list[float | str]           # [<unix s>, "<value>"]


class LokiData(TypedDict):
    resultType: Literal["streams", "matrix", "vector"]  # Loki's key
    result: list[StreamResult] | list[MatrixSeries] | list[VectorSample]


class LokiQueryDoc(TypedDict):
    status: Literal["success"]
    data: LokiData


class LokiListDoc(TypedDict):
    status: Literal["success"]
    data: list[str] | list[dict[str, str]]


class LogsQueryDoc(TypedDict):
    schema: Literal["perflab.logs-query/1"]
    query: str
    start_ns: int
    end_ns: int
    run_id: NotRequired[int]
    data: LokiData


class LokiDroppedEntry(TypedDict):
    labels: dict[str, str]
    timestamp: str                     # "<unix ns>"


class LineDetails(TypedDict):
    """What ingest read from a line: the third value of a tail's entry with ``fields=1``."""

    level: str | None
    fields: dict[str, str]
    trace_id: str | None
    span_id: str | None


class TailStream(TypedDict):
    stream: dict[str, str]
    values: list[list[str | LineDetails]]  # ["<unix ns>", "<line>", details (fields=1)]


class LokiTailDoc(TypedDict):
    """One message of ``/loki/api/v1/tail`` (a websocket), as Loki sends it."""

    streams: list[TailStream]
    dropped_entries: list[LokiDroppedEntry]


class LogLineJson(TypedDict):
    ts_ns: int
    labels: dict[str, str]             # the stream's labels (and what the query's parsers add)
    line: str
    level: str | None
    fields: dict[str, str]
    trace_id: str | None               # hex
    span_id: str | None                # hex
    run_id: int | None


class LogLinesDoc(TypedDict):
    schema: Literal["perflab.api.log_lines/1"]
    start_ns: int
    end_ns: int
    lines: list[LogLineJson]
    truncated: bool


class LogVolumeDoc(TypedDict):
    schema: Literal["perflab.api.log_volume/1"]
    start_ns: int
    end_ns: int
    step_ns: int
    levels: dict[str, list[int]]       # level (or "unknown") -> lines per step
    filtered: bool                     # the query has stages the counts do not apply


class TraceLogsDoc(TypedDict):
    schema: Literal["perflab.api.trace_logs/1"]
    trace_id: str
    lines: list[LogLineJson]
    truncated: bool
