"""The HTTP receivers: OTLP/HTTP ``POST /v1/traces`` and Zipkin v2 ``POST /api/v2/spans``.

Each follows the rules of every port (``perflab.serving``): the app's Host guard and token
come first; then at most ``RECEIVER_ACTIVE`` requests are decoded at once (more wait, then
429), the body is read up to ``MAX_BODY`` bytes and inflated up to ``MAX_BODY`` (413), decoded
off the event loop, and submitted whole to the ingest queue (429 with ``Retry-After`` when it is
full: nothing of a refused request was taken, nothing of an accepted one is lost).

OTLP/HTTP answers as its spec says: the response is ``ExportTraceServiceResponse`` in the
request's encoding, with ``partial_success`` when spans were rejected (ids of the wrong length,
times beyond 2262) or mended (ended before they started); errors carry a ``google.rpc.Status``
(protobuf or JSON, as the request was): 400 for a body that does not decode, 413, 415 for
another content type, 429.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from perflab.serving import (
    BadEncoding,
    Refused,
    TooManyRequests,
    gunzip_bounded,
    read_body,
)
from perflab.trace._decode import DecodeError
from perflab.trace._otlp import (
    decode_json,
    decode_protobuf,
    response,
    response_json,
    status_protobuf,
)
from perflab.trace._zipkin import decode_zipkin

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import Request

    from perflab.trace._decode import Decoded
    from perflab.trace._hub import TraceHub

MAX_BODY = 64 * 1024 * 1024  # the OTLP spec's recommended limit, before and after gzip
_PROTOBUF = "application/x-protobuf"
_JSON = "application/json"
# gRPC status codes in google.rpc.Status.code (informative: OTLP clients go by HTTP status)
_INVALID_ARGUMENT, _RESOURCE_EXHAUSTED, _UNAVAILABLE = 3, 8, 14


def hub_of(request: Request) -> TraceHub:
    hub: TraceHub | None = getattr(request.app.state, "trace", None)
    if hub is None:  # the app was built without tracing
        raise TooManyRequests("this hub does not receive spans")
    return hub


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def _body(request: Request) -> bytes:
    body = await read_body(request, MAX_BODY)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding == "gzip":
        return gunzip_bounded(body, MAX_BODY)
    if encoding not in ("identity", ""):
        raise BadEncoding(f"Content-Encoding {encoding[:40]!r} is not supported: send gzip or "
                          "nothing")
    return body


def _otlp_error(status: int, message: str, protobuf: bool,
                headers: dict[str, str] | None = None) -> Response:
    code = {429: _RESOURCE_EXHAUSTED, 413: _RESOURCE_EXHAUSTED, 503: _UNAVAILABLE}.get(
        status, _INVALID_ARGUMENT)
    if protobuf:
        return Response(status_protobuf(code, message), status_code=status,
                        media_type=_PROTOBUF, headers=headers)
    return JSONResponse({"code": code, "message": message}, status_code=status,
                        headers=headers)


async def otlp_traces(request: Request) -> Response:
    """``POST /v1/traces``: binary protobuf or JSON, gzip or not."""
    media = _media_type(request)
    protobuf = media != _JSON
    if request.method != "POST":
        return _otlp_error(405, "send spans with POST", protobuf, {"Allow": "POST"})
    try:
        hub = hub_of(request)
        if media not in (_PROTOBUF, _JSON):
            hub.refused()
            return _otlp_error(415, f"Content-Type {media[:60]!r} is not OTLP: send "
                                    f"{_PROTOBUF} or {_JSON}", protobuf=True)
        decode: Callable[[bytes], Decoded] = decode_protobuf if protobuf else decode_json
        async with hub.limiter.slot():
            body = await _body(request)
            decoded = await run_in_threadpool(decode, body)
            if not hub.accept(decoded, "otlp-http"):
                raise TooManyRequests("the hub's ingest queue is full: retry in a moment")
    except DecodeError as exc:
        hub.refused()
        return _otlp_error(400, str(exc), protobuf)
    except Refused as exc:
        _count_refusal(request)
        headers = {"Retry-After": str(exc.retry_after_s)} \
            if isinstance(exc, TooManyRequests) else None
        return _otlp_error(exc.status, exc.message, protobuf, headers)
    answer = response(decoded)
    if protobuf:
        return Response(answer.SerializeToString(), media_type=_PROTOBUF)
    return JSONResponse(response_json(answer))


def _count_refusal(request: Request) -> None:
    hub = getattr(request.app.state, "trace", None)
    if hub is not None:
        hub.refused()


async def zipkin_spans(request: Request) -> Response:
    """``POST /api/v2/spans``: a JSON array of Zipkin v2 spans; 202 when taken, as Zipkin."""
    media = _media_type(request)
    try:
        hub = hub_of(request)
        if media not in (_JSON, ""):
            hub.refused()
            return JSONResponse({"error": f"Content-Type {media[:60]!r} is not supported: "
                                          "send Zipkin v2 JSON (application/json)",
                                 "status": 415}, status_code=415)
        async with hub.limiter.slot():
            body = await _body(request)
            decoded = await run_in_threadpool(decode_zipkin, body)
            if not hub.accept(decoded, "zipkin"):
                raise TooManyRequests("the hub's ingest queue is full: retry in a moment")
    except DecodeError as exc:
        hub.refused()
        return JSONResponse({"error": str(exc), "status": 400}, status_code=400)
    except Refused as exc:
        _count_refusal(request)
        headers = {"Retry-After": str(exc.retry_after_s)} \
            if isinstance(exc, TooManyRequests) else None
        return JSONResponse(exc.to_json(), status_code=exc.status, headers=headers)
    body_out: dict[str, Any] = {}
    if decoded.rejected or decoded.reasons:
        body_out = {"rejected": decoded.rejected, "message": decoded.message()}
    return Response(json.dumps(body_out) if body_out else b"", status_code=202,
                    media_type=_JSON if body_out else None)

