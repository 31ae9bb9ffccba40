"""Receivers that other agents push metrics to: Prometheus remote-write (``/api/v1/write``)
and the InfluxDB line protocol (``/write``, ``/api/v2/write``).

Each decodes at the edge (bounded body, bounded decompression, bounded series and labels), turns
what it got into rows of the sink, and submits them whole: a full ingest queue is a 429 with
``Retry-After``, never a silent drop. Samples older than the run they would land in by more
than an hour are refused (400, "out of bounds"), as Prometheus refuses samples older than its
head block.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from perflab.metrics._influx import InfluxError, parse_lines
from perflab.metrics._labels import LABEL_NAME, METRIC_NAME
from perflab.metrics._remote_write import (
    SeriesColumns,
    check_labels,
    decode_labels,
    decode_metadata,
    decode_series_fast,
)
from perflab.serving import (
    ConcurrencyLimiter,
    Refused,
    TooManyRequests,
    read_body,
    snappy_decompress_bounded,
)
from perflab.store import INT64_MAX, MetricColumns, canonical_labels

if TYPE_CHECKING:
    from perflab.metrics._hub import MetricsHub

MAX_BODY = 16 * 1024 * 1024          # compressed body of one push
MAX_DECOMPRESSED = 128 * 1024 * 1024
MAX_PAST_NS = 3600 * 10**9            # how far before its run's start a sample may be
_limiter = ConcurrencyLimiter(8, 64, what="metric pushes")


class OutOfBounds(Refused):
    status = 400


def _hub(request: Request) -> MetricsHub:
    hub: MetricsHub = request.app.state.metrics
    return hub


# label set (pairs, or a remote-write series' raw label bytes) -> (metric name, canonical
# labels JSON): checked and spelled once per set, the steady state of a push is a dict lookup
# per series (bounded: cleared when it grows past MAX_LABEL_SETS)
_LABEL_SETS: dict[tuple[tuple[str, str], ...] | tuple[bytes, ...], tuple[str, str]] = {}
MAX_LABEL_SETS = 1_000_000


def _label_key(key: tuple[tuple[str, str], ...] | tuple[bytes, ...]) -> tuple[str, str]:
    got = _LABEL_SETS.get(key)
    if got is not None:
        return got
    labels: tuple[tuple[str, str], ...] = (
        decode_labels(key) if key and isinstance(key[0], bytes) else key)  # type: ignore[assignment]
    check_labels(labels)
    name = ""
    rest: dict[str, str] = {}
    for k, v in labels:
        if k == "__name__":
            name = v
            continue
        if k in rest:
            raise Refused(f"a series has the label {k!r} twice")
        if not LABEL_NAME.match(k):
            raise Refused(f"invalid label name {k[:100]!r}")
        if v:
            rest[k] = v
    if not name or not METRIC_NAME.match(name):
        raise Refused(f"a series without a valid metric name ({name[:100]!r})")
    got = (name, canonical_labels(rest))
    if len(_LABEL_SETS) >= MAX_LABEL_SETS:
        _LABEL_SETS.clear()
    _LABEL_SETS[key] = got
    return got


def series_items(hub: MetricsHub,
                 series: Sequence[tuple[tuple[tuple[str, str], ...] | tuple[bytes, ...],
                                        list[tuple[int, float]]]],
                 ) -> list[tuple[int, str, str, int, float]]:
    """Ingest items of (labels, [(ms, value)]) series, in the hub's run; ``Refused`` (400) for a
    bad series, ``OutOfBounds`` for samples far older than the run."""
    assert hub.sink is not None
    run = hub.sink.run_id
    floor_ms = _floor_ms(hub)
    items: list[tuple[int, str, str, int, float]] = []
    for labels, samples in series:
        if not samples:
            continue
        name, lab = _label_key(labels)
        if floor_ms is not None and min(t for t, _ in samples) < floor_ms:
            raise OutOfBounds(f"out of bounds: a sample of {name} is over an hour older than "
                              "the run it would land in")
        items.extend([(run, name, lab, t * 1_000_000, v) for t, v in samples])
    return items


MAX_MS = INT64_MAX // 1_000_000  # later (or as much earlier) is not a time a store holds


def series_columns(hub: MetricsHub, decoded: SeriesColumns) -> MetricColumns:
    """A decoded remote-write request as ``MetricColumns`` of the hub's run: one label-set
    lookup per series, the samples' checks and conversion on whole arrays. ``Refused`` (400)
    for a bad series, ``OutOfBounds`` for samples far older than the run or out of range."""
    assert hub.sink is not None
    counts = decoded.counts
    keys = decoded.labels
    if len(counts) and not counts.all():  # series without samples are not looked at
        keys = [k for k, n in zip(keys, counts.tolist(), strict=True) if n]
        counts = counts[counts > 0]
    series = [_label_key(k) for k in keys]
    ts = decoded.ts_ms
    if len(ts):
        floor_ms = _floor_ms(hub)
        checks = [((ts < -MAX_MS) | (ts > MAX_MS), "has a time a store cannot hold")]
        if floor_ms is not None:
            checks.append((ts < floor_ms, "is over an hour older than the run it would land in"))
        for bad, why in checks:
            if bad.any():
                at = int(np.searchsorted(np.cumsum(counts), int(np.argmax(bad)), "right"))
                raise OutOfBounds(f"out of bounds: a sample of {series[at][0]} {why}")
    return MetricColumns(hub.sink.run_id, series, counts, ts * 1_000_000, decoded.values)


def _floor_ms(hub: MetricsHub) -> int | None:
    started = hub.run_started_ns()
    return None if started is None else (started - MAX_PAST_NS) // 1_000_000


def _submit(hub: MetricsHub,
            items: list[tuple[int, str, str, int, float]] | MetricColumns) -> None:
    """Items into the ingest queue, whole, or ``TooManyRequests`` (429) when it is full."""
    assert hub.sink is not None
    if not (hub.sink.submit_columns(items) if isinstance(items, MetricColumns)
            else hub.sink.submit_items(items)):
        raise TooManyRequests("the store is behind: retry in a moment")


async def remote_write(request: Request) -> Response:
    hub = _hub(request)
    try:
        async with _limiter.slot():
            body = await read_body(request, MAX_BODY)
            encoding = request.headers.get("content-encoding", "snappy").lower()
            if encoding != "snappy":
                return PlainTextResponse(f"unsupported Content-Encoding {encoding!r}: "
                                         "remote-write bodies are snappy", status_code=415)
            columns, meta = await run_in_threadpool(_decode, hub, body)
            _submit(hub, columns)
            assert hub.sink is not None
            hub.sink.submit_meta(meta)
    except TooManyRequests as exc:
        return PlainTextResponse(exc.message + "\n", status_code=429,
                                 headers={"Retry-After": str(exc.retry_after_s)})
    except Refused as exc:
        return PlainTextResponse(exc.message + "\n", status_code=exc.status)
    return Response(status_code=204)


def _decode(hub: MetricsHub, body: bytes,
            ) -> tuple[MetricColumns, list[tuple[str, str, str, str]]]:
    raw = snappy_decompress_bounded(body, MAX_DECOMPRESSED)
    series, meta = decode_series_fast(raw)
    return series_columns(hub, series), decode_metadata(meta)


async def influx_write(request: Request) -> Response:
    """InfluxDB 1.x ``/write`` and 2.x ``/api/v2/write``: line protocol, ``precision``
    (ns, us, ms, s; 1.x also u, n), gzip bodies. Fields become series
    ``<measurement>_<field>``; tags become labels; ``db``/``bucket`` a label too."""
    hub = _hub(request)
    precision = request.query_params.get("precision", "ns")
    try:
        async with _limiter.slot():
            body = await read_body(request, MAX_BODY)
            if request.headers.get("content-encoding", "").lower() == "gzip":
                from perflab.serving import gunzip_bounded  # noqa: PLC0415

                body = gunzip_bounded(body, MAX_DECOMPRESSED)
            extra = {}
            for key in ("db", "bucket"):
                if request.query_params.get(key):
                    extra[key] = request.query_params[key]
            rows = await run_in_threadpool(_influx_rows, hub, body, precision, extra)
            _submit(hub, rows)
    except TooManyRequests as exc:
        return JSONResponse({"code": "too many requests", "message": exc.message},
                            status_code=429, headers={"Retry-After": str(exc.retry_after_s)})
    except InfluxError as exc:
        return JSONResponse({"code": "invalid", "message": exc.message, "error": exc.message},
                            status_code=400)
    except Refused as exc:
        return JSONResponse({"code": "invalid", "message": exc.message, "error": exc.message},
                            status_code=exc.status)
    return Response(status_code=204)


def _influx_rows(hub: MetricsHub, body: bytes, precision: str,
                 extra: dict[str, str]) -> list[tuple[int, str, str, int, float]]:
    now_ns = time.time_ns()
    points = parse_lines(body, precision=precision, now_ns=now_ns)
    series = []
    for name, tags, value, ts_ns in points:
        labels = (("__name__", name), *extra.items(), *tags.items())
        series.append((labels, [(ts_ns // 1_000_000, value)]))
    return series_items(hub, series)


ROUTES = [
    Route("/api/v1/write", remote_write, methods=["POST"]),
    Route("/write", influx_write, methods=["POST"]),
    Route("/api/v2/write", influx_write, methods=["POST"]),
]
