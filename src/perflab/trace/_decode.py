"""What every span decoder shares: its one error, its result, and the limits it enforces.

A decoder (OTLP protobuf, OTLP JSON, Zipkin v2 JSON) turns a request body into ``Decoded``: the
spans it accepted, how many it rejected and why (OTLP's partial success), and raises only
``DecodeError`` (the body does not decode at all: HTTP 400, gRPC ``INVALID_ARGUMENT``) or
``serving.PayloadTooLarge`` (more spans in one request than ``MAX_SPANS``: 413).

Limits, per request and per item: a span keeps at most ``MAX_ATTRS`` attributes,
``MAX_EVENTS`` events and ``MAX_LINKS`` links; strings are cut at ``MAX_VALUE`` characters
(names at ``MAX_NAME``, keys at ``MAX_KEY``), arrays at ``MAX_ARRAY`` values; what is cut or
dropped sets the span's ``WARN_TRUNCATED`` flag, so a view can say so. A span with a malformed
id (not 16/8 bytes, or all zeros) is rejected and counted, the others of its request kept.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from typing import Any

from perflab.trace._model import AttrValue, Span

MAX_SPANS = 100_000  # spans in one request (the OTel SDK sends 512)
MAX_ATTRS = 128  # attributes per span, event, link or resource (the OTel SDK's own default)
MAX_EVENTS = 128
MAX_LINKS = 128
MAX_KEY = 256
MAX_NAME = 1024
MAX_VALUE = 4096  # characters of one string value
MAX_ARRAY = 128  # values of one array attribute
_MAX_DEPTH = 4  # nesting of arrays and maps inside a value


class DecodeError(Exception):
    """The body is not what its content type says (malformed protobuf or JSON, a wrong
    structure): the whole request is refused with HTTP 400 / ``INVALID_ARGUMENT``."""


@dataclass
class Decoded:
    spans: list[Span] = field(default_factory=list)
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # why spans were rejected or mended

    def reject(self, reason: str) -> None:
        self.rejected += 1
        self.note(reason)

    def note(self, reason: str) -> None:
        self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def message(self) -> str:
        """One line for OTLP's ``partial_success.error_message`` (empty when all was well)."""
        return "; ".join(f"{n} {why}" for why, n in sorted(self.reasons.items()))


class Truncation:
    """Set when a value was cut or an item dropped while decoding one span."""

    __slots__ = ("hit",)

    def __init__(self) -> None:
        self.hit = False


def cut(text: str, limit: int, trunc: Truncation) -> str:
    if len(text) > limit:
        trunc.hit = True
        return text[:limit]
    return text


def plain_value(value: Any, trunc: Truncation, depth: int = 0) -> AttrValue:
    """A JSON-able attribute value: str, int, float, bool or a list of them; maps become JSON
    text (as Jaeger shows them), bytes base64."""
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # JSON has no NaN
    if isinstance(value, str):
        return cut(value, MAX_VALUE, trunc)
    if isinstance(value, bytes):
        return cut(base64.b64encode(value).decode("ascii"), MAX_VALUE, trunc)
    if depth >= _MAX_DEPTH:
        trunc.hit = True
        return ""
    if isinstance(value, list):
        if len(value) > MAX_ARRAY:
            trunc.hit = True
            value = value[:MAX_ARRAY]
        return [plain_value(v, trunc, depth + 1) for v in value]
    if isinstance(value, dict):
        inner = {cut(str(k), MAX_KEY, trunc): plain_value(v, trunc, depth + 1)
                 for k, v in list(value.items())[:MAX_ATTRS]}
        return cut(json.dumps(inner, separators=(",", ":"), ensure_ascii=False), MAX_VALUE,
                   trunc)
    return cut(str(value), MAX_VALUE, trunc)
