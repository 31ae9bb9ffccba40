"""A LogQL query answered as Loki's HTTP API answers it (``data`` of query_range and query),
for the API, the command line and the pages alike.

Shapes (Loki's docs, "HTTP API"): a log query gives ``"resultType": "streams"`` with
``{"stream": {labels}, "values": [["<ns>", "<line>"]]}``; a metric query gives ``"matrix"``
(``{"metric": {labels}, "values": [[<unix s>, "<value>"]]}``) over a range and ``"vector"``
(``{"metric", "value": [<unix s>, "<value>"]}``) at an instant.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from perflab.logs._contracts import LokiData, MatrixSeries, StreamResult, VectorSample
from perflab.logs._eval import QueryError, eval_metric, select_logs, steps
from perflab.logs._logql import LogQuery, parse

if TYPE_CHECKING:
    from perflab.store import Store

DEFAULT_LIMIT = 100
MAX_LIMIT = 5000


def default_step_ns(start_ns: int, end_ns: int) -> int:
    """Loki's default step: the range over 250 points, at least a second, in whole seconds."""
    seconds = max(1, -(-(end_ns - start_ns) // (250 * 10**9)))
    return seconds * 10**9


def _value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"   # as Prometheus and Loki print them
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def _seconds(ts_ns: int) -> float | int:
    return ts_ns // 10**9 if ts_ns % 10**9 == 0 else ts_ns / 1e9


def query_range(store: Store, query: str, start_ns: int, end_ns: int, *,
                limit: int = DEFAULT_LIMIT, step_ns: int | None = None,
                backward: bool = True, run_id: int | None = None) -> LokiData:
    """``data`` of ``/loki/api/v1/query_range``."""
    expr = parse(query)
    if isinstance(expr, LogQuery):
        streams = select_logs(store, expr, start_ns, end_ns, limit=limit, backward=backward,
                              run_id=run_id)
        result: list[StreamResult] = [
            {"stream": s.labels, "values": [[str(ts), line] for ts, line in s.entries]}
            for s in streams]
        return {"resultType": "streams", "result": result}
    times = steps(start_ns, end_ns, step_ns or default_step_ns(start_ns, end_ns))
    series = eval_metric(store, expr, times, run_id=run_id)
    matrix: list[MatrixSeries] = [
        {"metric": s.labels, "values": [[_seconds(t), _value(v)] for t, v in s.points]}
        for s in series]
    return {"resultType": "matrix", "result": matrix}


def query_instant(store: Store, query: str, time_ns: int, *,
                  run_id: int | None = None) -> LokiData:
    """``data`` of ``/loki/api/v1/query``: a metric query at ``time_ns`` (a vector). A log
    query is refused, as Loki refuses it since 3.2 (grafana/loki#13421): what an instant
    would mean for lines is a range."""
    expr = parse(query)
    if isinstance(expr, LogQuery):
        raise QueryError("log queries are not supported as an instant query type, please "
                         "change your query to a range query type",
                         hint="use /loki/api/v1/query_range (or a metric query here)")
    series = eval_metric(store, expr, [time_ns], run_id=run_id)
    vector: list[VectorSample] = [
        {"metric": s.labels, "value": [_seconds(s.points[0][0]), _value(s.points[0][1])]}
        for s in series if s.points]
    return {"resultType": "vector", "result": vector}
