"""The rules every port perflab opens follows (docs/design.md, "Rules for every receiver and
API"), as functions and ASGI middleware a receiver uses instead of writing its own.

Low level on purpose: it imports only ``errors`` and the standard library (plus starlette's
types for the middleware), so the hub, ``perflab export`` and any future receiver (OTLP,
Zipkin, remote-write ...) can use it without importing anything above them.

Public names:

- ``HostRule``, ``HostGuard``: serve only the ``Host`` names a port is meant for (no DNS
  rebinding); ``is_loopback_host``, ``require_token_off_loopback``: loopback by default, a
  token off loopback; ``read_token_file``, ``bearer_matches``.
- ``read_body``, ``gunzip_bounded``, ``snappy_decompress_bounded``: bounded request bodies
  and decompressed sizes (413).
- ``ConcurrencyLimiter``: bounded concurrent requests (429).
- ``listening_socket``, ``datagram_socket``: TCP and UDP ports bound before a server starts.
- ``settle_heap``: the cyclic collector of a server process, once its start-up is done.
- ``otlp_http_export`` with an ``OtlpSignal`` and an ``OtlpSink``: OTLP/HTTP's request path
  for every signal (traces, metrics); ``otlp_grpc_export``: OTLP/gRPC's ``Export``;
  ``read_encoded_body`` (gzip or identity, bounded), ``otlp_error`` / ``status_protobuf``
  (the ``google.rpc.Status`` error body), ``media_type``; ``parse_protobuf``,
  ``parse_otlp_json``, ``json_body`` (a body as a message or JSON, or the receiver's 400
  error); ``retry_after`` (a refusal's ``Retry-After`` header); ``decode_and_accept`` (a
  push receiver's limit, body, decoding and hand-over, the Zipkin receiver's too);
  ``json_objects``, ``hex_ids_to_base64`` (OTLP/JSON's departures from protobuf's mapping);
  ``partial_success``, ``partial_success_json`` (an export's answer when items were rejected).
- ``Refused`` and its kinds ``PayloadTooLarge`` (413), ``TooManyRequests`` (429),
  ``BadEncoding`` (400): what a receiver answers with its protocol's own status.
"""

from perflab.serving._body import gunzip_bounded, read_body, snappy_decompress_bounded
from perflab.serving._heap import settle_heap
from perflab.serving._hosts import (
    HostGuard,
    HostRule,
    bearer_matches,
    http_url,
    is_loopback_host,
    read_token_file,
    require_token_off_loopback,
)
from perflab.serving._limits import ConcurrencyLimiter
from perflab.serving._otlp import (
    OTLP_MAX_BODY,
    OtlpSignal,
    OtlpSink,
    decode_and_accept,
    hex_ids_to_base64,
    json_body,
    json_objects,
    media_type,
    otlp_error,
    otlp_grpc_export,
    otlp_http_export,
    parse_otlp_json,
    parse_protobuf,
    partial_success,
    partial_success_json,
    read_encoded_body,
    retry_after,
    status_protobuf,
)
from perflab.serving._refusals import BadEncoding, PayloadTooLarge, Refused, TooManyRequests
from perflab.serving._sockets import datagram_socket, listening_socket

__all__ = [
    "OTLP_MAX_BODY",
    "BadEncoding",
    "ConcurrencyLimiter",
    "HostGuard",
    "HostRule",
    "OtlpSignal",
    "OtlpSink",
    "PayloadTooLarge",
    "Refused",
    "TooManyRequests",
    "bearer_matches",
    "datagram_socket",
    "decode_and_accept",
    "gunzip_bounded",
    "hex_ids_to_base64",
    "http_url",
    "is_loopback_host",
    "json_body",
    "json_objects",
    "listening_socket",
    "media_type",
    "otlp_error",
    "otlp_grpc_export",
    "otlp_http_export",
    "parse_otlp_json",
    "parse_protobuf",
    "partial_success",
    "partial_success_json",
    "read_body",
    "read_encoded_body",
    "read_token_file",
    "require_token_off_loopback",
    "retry_after",
    "settle_heap",
    "snappy_decompress_bounded",
    "status_protobuf",
]
