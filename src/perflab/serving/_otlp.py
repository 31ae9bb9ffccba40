"""OTLP/HTTP's request path, for every signal a hub receives (traces, metrics): one function
that each receiver calls with its decoders, so the rules are written once.

The port's own rules come first (the app's Host guard and token); then, as the OTLP spec says
(``protocol/otlp.md``, "OTLP/HTTP"): at most ``sink.limiter``'s requests are decoded at once
(more wait, then 429), the body is read up to ``OTLP_MAX_BODY`` bytes and inflated up to as
much (413), decoded off the event loop and handed whole to ``sink.accept`` (429 with
``Retry-After`` when the store is behind: nothing of a refused request was taken, nothing of an
accepted one is lost). The answer is the signal's ``Export...ServiceResponse`` in the
request's encoding, with its ``partial_success`` when items were rejected; errors carry a
``google.rpc.Status`` (protobuf or JSON, as the request was): 400 for a body that does not
decode, 413, 415 for another content type, 429.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from perflab.serving._body import gunzip_bounded, read_body
from perflab.serving._hosts import bearer_matches
from perflab.serving._refusals import BadEncoding, Refused, TooManyRequests

if TYPE_CHECKING:
    from google.protobuf.message import Message
    from starlette.requests import Request

    from perflab.serving._limits import ConcurrencyLimiter

OTLP_MAX_BODY = 64 * 1024 * 1024  # the OTLP spec's recommended limit, before and after gzip
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# gRPC status codes in google.rpc.Status.code (informative: OTLP clients go by HTTP status)
_INVALID_ARGUMENT, _RESOURCE_EXHAUSTED, _UNAVAILABLE = 3, 8, 14

D = TypeVar("D")
D_contra = TypeVar("D_contra", contravariant=True)


class OtlpSink(Protocol[D_contra]):
    """Where a receiver's decoded requests go (the trace hub, the metrics receiver)."""

    @property
    def limiter(self) -> ConcurrencyLimiter: ...

    def accept(self, decoded: D_contra, protocol: str) -> bool:
        """Take the whole request (True) or none of it (False: the store is behind)."""
        ...

    def refused(self) -> None:
        """Count a request answered 4xx."""
        ...


@dataclass(frozen=True, slots=True)
class OtlpSignal(Generic[D]):
    """One signal's decoders and answers (``D``: its decoded request)."""

    what: str                                   # "spans", "metrics": for messages
    decode_protobuf: Callable[[bytes], D]
    decode_json: Callable[[bytes], D]
    response: Callable[[D], Any]                # the Export...ServiceResponse message
    response_json: Callable[[Any], dict[str, Any]]
    decode_error: type[Exception]               # what the decoders raise: 400


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_encoded_body(request: Request, limit: int = OTLP_MAX_BODY) -> bytes:
    """The body, gzip or not (``Content-Encoding``), at most ``limit`` bytes either way."""
    body = await read_body(request, limit)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding == "gzip":
        return gunzip_bounded(body, limit)
    if encoding not in ("identity", ""):
        raise BadEncoding(f"Content-Encoding {encoding[:40]!r} is not supported: send gzip or "
                          "nothing")
    return body


def otlp_error(status: int, message: str, *, protobuf: bool,
               headers: dict[str, str] | None = None) -> Response:
    code = {429: _RESOURCE_EXHAUSTED, 413: _RESOURCE_EXHAUSTED, 503: _UNAVAILABLE}.get(
        status, _INVALID_ARGUMENT)
    if protobuf:
        return Response(status_protobuf(code, message), status_code=status,
                        media_type=PROTOBUF, headers=headers)
    return JSONResponse({"code": code, "message": message}, status_code=status,
                        headers=headers)


async def decode_and_accept(request: Request, sink: OtlpSink[D],
                            decode: Callable[[bytes], D], protocol: str) -> D:
    """What every push receiver does with a request once it knows its format: a slot of
    ``sink.limiter``, the bounded (gzip) body, ``decode`` off the event loop, the decoded
    request handed whole to ``sink.accept`` (``TooManyRequests`` when it is refused)."""
    async with sink.limiter.slot():
        body = await read_encoded_body(request)
        decoded = await run_in_threadpool(decode, body)
        if not sink.accept(decoded, protocol):
            raise TooManyRequests("the hub's ingest queue is full: retry in a moment")
    return decoded


async def otlp_http_export(request: Request, signal: OtlpSignal[D],
                           find_sink: Callable[[Request], OtlpSink[D]]) -> Response:
    """``POST /v1/<signal>``: binary protobuf or JSON, gzip or not. ``find_sink`` raises a
    ``Refused`` when the app does not receive this signal."""
    media = media_type(request)
    protobuf = media != JSON
    if request.method != "POST":
        return otlp_error(405, f"send {signal.what} with POST", protobuf=protobuf,
                          headers={"Allow": "POST"})
    sink: OtlpSink[D] | None = None
    try:
        sink = find_sink(request)
        if media not in (PROTOBUF, JSON):
            sink.refused()
            return otlp_error(415, f"Content-Type {media[:60]!r} is not OTLP: send "
                                   f"{PROTOBUF} or {JSON}", protobuf=True)
        decode = signal.decode_protobuf if protobuf else signal.decode_json
        decoded = await decode_and_accept(request, sink, decode, "otlp-http")
    except Refused as exc:
        if sink is not None:
            sink.refused()
        return otlp_error(exc.status, exc.message, protobuf=protobuf, headers=retry_after(exc))
    except signal.decode_error as exc:
        assert sink is not None  # decoding comes after finding the sink
        sink.refused()
        return otlp_error(400, str(exc), protobuf=protobuf)
    answer = signal.response(decoded)
    if protobuf:
        return Response(answer.SerializeToString(), media_type=PROTOBUF)
    return JSONResponse(signal.response_json(answer))


def otlp_grpc_export(request: Any, context: Any, *, decode: Callable[[Any], D],
                     sink: OtlpSink[D], response: Callable[[D], Any],
                     decode_error: type[Exception], token: bytes | None) -> Any:
    """An OTLP/gRPC ``Export`` call of any signal: the token (``authorization: Bearer TOKEN``
    metadata) as on every port, then ``decode`` (a ``Refused``: ``RESOURCE_EXHAUSTED``;
    ``decode_error``: ``INVALID_ARGUMENT``), then ``sink.accept`` (False:
    ``RESOURCE_EXHAUSTED``, nothing taken). No ``Host`` rule: browsers cannot speak gRPC, so
    DNS rebinding cannot reach it."""
    import grpc  # noqa: PLC0415  # only a hub with the gRPC receiver loads it

    if token is not None:
        auth = dict(context.invocation_metadata()).get("authorization")
        if not bearer_matches(auth, token):
            sink.refused()
            context.abort(grpc.StatusCode.UNAUTHENTICATED,
                          "this receiver needs the hub's token: send the metadata "
                          "'authorization: Bearer TOKEN'")
    try:
        decoded = decode(request)
    except Refused as exc:  # too many items in one request
        sink.refused()
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, exc.message)
    except decode_error as exc:
        sink.refused()
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
    if not sink.accept(decoded, "otlp-grpc"):
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                      "the hub's ingest queue is full: retry in a moment")
    return response(decoded)


M = TypeVar("M", bound="Message")


def json_body(body: bytes, error: type[Exception]) -> Any:
    """The body as JSON, or ``error`` saying it is not (a receiver's 400)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise error(f"the body is not JSON: {str(exc)[:200]}") from None


def parse_protobuf(body: bytes, message: type[M], error: type[Exception]) -> M:
    """An OTLP/HTTP binary body (or a gRPC message's bytes) as ``message``, or ``error``."""
    from google.protobuf.message import DecodeError  # noqa: PLC0415  # protobuf, on first use

    out = message()
    try:
        out.ParseFromString(body)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise error(f"the body is not a protobuf {message.__name__}: {exc}") from None
    return out


def parse_otlp_json(body: bytes, message: type[M], error: type[Exception], *,
                    prepare: Callable[[dict[str, Any]], None] | None = None) -> M:
    """An OTLP/JSON body (protobuf's JSON mapping) as ``message``, or ``error``. ``prepare``
    mends the document first where OTLP/JSON departs from protobuf's mapping (hex ids)."""
    from google.protobuf import json_format  # noqa: PLC0415  # protobuf, on first use

    doc = json_body(body, error)
    name = message.__name__
    if not isinstance(doc, dict):
        raise error(f"the body is not an OTLP/JSON {name} (an object)")
    try:
        if prepare is not None:
            prepare(doc)
        return json_format.ParseDict(doc, message(), ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, AttributeError, KeyError,
            RecursionError, OverflowError) as exc:
        raise error(f"the body is not an OTLP/JSON {name}: {str(exc)[:300]}") from None


def json_objects(obj: object, *keys: str) -> list[dict[str, Any]]:
    """The objects of the first of ``keys`` that holds a list in an OTLP/JSON object (its
    camelCase name, then protobuf's snake_case one); others are left out."""
    if not isinstance(obj, dict):
        return []
    for key in keys:
        value = obj.get(key)
        if isinstance(value, list):
            return [v for v in value if isinstance(v, dict)]
    return []


def hex_ids_to_base64(obj: dict[str, Any], keys: Iterable[str]) -> None:
    """OTLP/JSON's hex ids (trace, span) as protobuf JSON's base64, in place; a malformed one
    as empty, which the decoder then treats as no id."""
    for key in keys:
        value = obj.get(key)
        if not isinstance(value, str):
            continue
        try:
            raw = binascii.unhexlify(value) if value.isascii() else b""
        except (binascii.Error, ValueError):
            raw = b""
        obj[key] = base64.b64encode(raw).decode("ascii")


def partial_success(resp: M, rejected: int, message: str, *, field: str) -> M:
    """An ``Export...ServiceResponse`` with its ``partial_success`` (``field``: the signal's
    count, ``rejected_log_records`` ...) set when items were rejected."""
    if rejected:
        setattr(resp.partial_success, field, rejected)  # type: ignore[attr-defined]
        resp.partial_success.error_message = message[:1000]  # type: ignore[attr-defined]
    return resp


def partial_success_json(resp: Any, *, field: str, json_field: str) -> dict[str, Any]:
    """The OTLP/JSON form of a response ``partial_success`` made (64-bit counts as strings)."""
    out: dict[str, Any] = {}
    if resp.HasField("partial_success"):
        out["partialSuccess"] = {json_field: str(getattr(resp.partial_success, field)),
                                 "errorMessage": resp.partial_success.error_message}
    return out


def retry_after(exc: Refused) -> dict[str, str] | None:
    """The ``Retry-After`` header a refusal is answered with (429), or None."""
    return {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, TooManyRequests) \
        else None


def status_protobuf(code: int, message: str) -> bytes:
    """A ``google.rpc.Status`` (code, message), the body of every OTLP/HTTP error, encoded by
    hand: two fields do not justify another dependency."""
    text = message.encode("utf-8", "replace")
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
