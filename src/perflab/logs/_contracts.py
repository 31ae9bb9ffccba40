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
