"""The HTTP receivers: OTLP/HTTP ``POST /v1/traces`` and Zipkin v2 ``POST /api/v2/spans``.

Each follows the rules of every port (``perflab.serving``): the app's Host guard and token
come first; then at most ``RECEIVER_ACTIVE`` requests are decoded at once (more wait, then
429), the body is read up to ``OTLP_MAX_BODY`` bytes and inflated up to as much (413), decoded
off the event loop, and submitted whole to the ingest queue (429 with ``Retry-After`` when it
is full: nothing of a refused request was taken, nothing of an accepted one is lost).

OTLP/HTTP's request path is ``serving.otlp_http_export``, shared with the metrics receiver:
the response is ``ExportTraceServiceResponse`` in the request's encoding, with
``partial_success`` when spans were rejected (ids of the wrong length, times beyond 2262) or
mended (ended before they started); errors carry a ``google.rpc.Status`` (protobuf or JSON,
as the request was): 400 for a body that does not decode, 413, 415 for another content type,
429.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from perflab.serving import (
    OtlpSignal,
    Refused,
    TooManyRequests,
    decode_and_accept,
    media_type,
    otlp_http_export,
    retry_after,
)
from perflab.trace._decode import DecodeError
from perflab.trace._otlp import (
    decode_json,
    decode_protobuf,
    response,
    response_json,
)
from perflab.trace._zipkin import decode_zipkin

if TYPE_CHECKING:
    from starlette.requests import Request

    from perflab.trace._hub import TraceHub

_JSON = "application/json"
TRACES = OtlpSignal("spans", decode_protobuf, decode_json, response, response_json,
                    DecodeError)


def hub_of(request: Request) -> TraceHub:
    hub: TraceHub | None = getattr(request.app.state, "trace", None)
    if hub is None:  # the app was built without tracing
        raise TooManyRequests("this hub does not receive spans")
    return hub


async def otlp_traces(request: Request) -> Response:
    """``POST /v1/traces``: binary protobuf or JSON, gzip or not."""
    return await otlp_http_export(request, TRACES, hub_of)


def _count_refusal(request: Request) -> None:
    hub = getattr(request.app.state, "trace", None)
    if hub is not None:
        hub.refused()


async def zipkin_spans(request: Request) -> Response:
    """``POST /api/v2/spans``: a JSON array of Zipkin v2 spans; 202 when taken, as Zipkin."""
    media = media_type(request)
    try:
        hub = hub_of(request)
        if media not in (_JSON, ""):
            hub.refused()
            return JSONResponse({"error": f"Content-Type {media[:60]!r} is not supported: "
                                          "send Zipkin v2 JSON (application/json)",
                                 "status": 415}, status_code=415)
        decoded = await decode_and_accept(request, hub, decode_zipkin, "zipkin")
    except DecodeError as exc:
        hub.refused()
        return JSONResponse({"error": str(exc), "status": 400}, status_code=400)
    except Refused as exc:
        _count_refusal(request)
        return JSONResponse(exc.to_json(), status_code=exc.status, headers=retry_after(exc))
    body_out: dict[str, Any] = {}
    if decoded.rejected or decoded.reasons:
        body_out = {"rejected": decoded.rejected, "message": decoded.message()}
    return Response(json.dumps(body_out) if body_out else b"", status_code=202,
                    media_type=_JSON if body_out else None)

