"""Toxic definitions: the seven TCP toxics of Toxiproxy, their attributes and defaults, read from
the API's JSON with Toxiproxy's rules (defaults, default name ``TYPE_STREAM``, the order in which
it checks a body) and the errors it answers, as ``ApiError``.

A toxic here is only its settings; what it does to bytes is in ``_link.py``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

from perflab.errors import InvalidValue
from perflab.units import parse_duration

if TYPE_CHECKING:
    from perflab.chaos._contracts import ApiErrorDoc, ToxicDoc, ToxicType

Stream = Literal["upstream", "downstream"]

# type -> attribute names (every attribute an integer, 0 by default, as Toxiproxy's Go structs)
TOXIC_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "latency": ("latency", "jitter"),
    "bandwidth": ("rate",),
    "slow_close": ("delay",),
    "timeout": ("timeout",),
    "reset_peer": ("timeout",),
    "slicer": ("average_size", "size_variation", "delay"),
    "limit_data": ("bytes",),
    # perflab's HTTP toxic (upstream only): answer a share of HTTP/1.1 requests itself
    "http_error": ("status", "percent", "first"),
    # perflab's per-route latency (upstream only): hold a share of requests on a route
    "http_latency": ("latency", "jitter", "percent"),
    # perflab's response toxics (downstream only): break a share of the responses on a route
    # (``target`` body: ``bytes`` flipped; header: ``header`` set to ``value`` or removed;
    # status: the status line garbled), or send their bodies slowly
    "http_corrupt": ("percent", "bytes"),
    "http_slow_body": ("rate", "chunk", "delay", "percent"),
}
# defaults other than 0, and attributes that are strings (with their defaults)
INT_DEFAULTS: dict[str, dict[str, int]] = {"http_error": {"status": 503, "percent": 100},
                                           "http_latency": {"percent": 100},
                                           "http_corrupt": {"percent": 100, "bytes": 1},
                                           "http_slow_body": {"percent": 100}}
TEXT_ATTRIBUTES: dict[str, dict[str, str]] = {
    "http_error": {"path_prefix": ""},
    "http_latency": {"path_prefix": ""},
    "http_corrupt": {"path_prefix": "", "target": "body", "header": "", "value": ""},
    "http_slow_body": {"path_prefix": ""},
}
# the stream each HTTP toxic acts on: requests (upstream) or responses (downstream)
HTTP_STREAMS: dict[str, Stream] = {"http_error": "upstream", "http_latency": "upstream",
                                   "http_corrupt": "downstream",
                                   "http_slow_body": "downstream"}
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # a header name (RFC 9110's token)

_INT64_MAX = 2**63 - 1


class ApiError(Exception):
    """An error the API answers as Toxiproxy does: ``{"error": message, "status": code}``,
    plus perflab's ``hint`` where there is one to give."""

    def __init__(self, message: str, status: int, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.hint = hint

    def joined(self, detail: str) -> ApiError:
        """Toxiproxy's ``joinError``: ``"bad request body: <detail>"`` with the same status."""
        return ApiError(f"{self.message}: {detail}", self.status, hint=self.hint)

    def body(self) -> ApiErrorDoc:
        doc: ApiErrorDoc = {"error": self.message, "status": self.status}
        if self.hint is not None:
            doc["hint"] = self.hint
        return doc


# Toxiproxy's error values (api.go), same messages and codes
BAD_REQUEST_BODY = ApiError("bad request body", 400)
MISSING_FIELD = ApiError("missing required field", 400)
PROXY_NOT_FOUND = ApiError("proxy not found", 404)
PROXY_ALREADY_EXISTS = ApiError("proxy already exists", 409)
INVALID_STREAM = ApiError("stream was invalid, can be either upstream or downstream", 400)
INVALID_TOXIC_TYPE = ApiError(
    "invalid toxic type", 400, hint="one of: " + ", ".join(sorted(TOXIC_ATTRIBUTES)))
TOXIC_ALREADY_EXISTS = ApiError("toxic already exists", 409)
TOXIC_NOT_FOUND = ApiError("toxic not found", 404)


@dataclass(eq=False)
class Toxic:
    """One toxic's settings. ``duration_s`` (perflab's addition) removes it after that time."""

    name: str
    type: ToxicType
    stream: Stream
    toxicity: float
    attributes: dict[str, int]
    duration: str | None = None
    generation: int = field(default=0)  # bumped on every update: links re-draw toxicity
    texts: dict[str, str] = field(default_factory=dict)  # the string attributes
    requests: int = 0  # http_error: requests seen on the proxy (for "first")
    banded: bool = True  # a band on the timeline (not when its client records the fault)

    def to_json(self) -> ToxicDoc:
        doc: ToxicDoc = {"attributes": {**self.attributes, **self.texts}, "name": self.name,
                               "type": self.type, "stream": self.stream,
                               "toxicity": self.toxicity}
        if self.duration is not None:
            doc["duration"] = self.duration
        return doc


def _integer(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BAD_REQUEST_BODY.joined(
            f"attribute {name!r} must be an integer, not {type(value).__name__}")
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        raise BAD_REQUEST_BODY.joined(f"attribute {name!r} must be an integer, not {value!r}")
    number = int(value)
    if abs(number) > _INT64_MAX:
        raise BAD_REQUEST_BODY.joined(f"attribute {name!r} is out of range")
    return number


def read_attributes(kind: str, given: object, base: dict[str, int] | None = None,
                    base_texts: dict[str, str] | None = None
                    ) -> tuple[dict[str, int], dict[str, str]]:
    """The attributes of a ``kind`` toxic, integers and strings: ``base`` (the defaults, 0
    mostly, for a new toxic) with the ``given`` ones laid over. An unknown attribute is refused
    (Toxiproxy ignores it silently, which hides a typo such as ``latncy`` behind a toxic that
    does nothing)."""
    names = TOXIC_ATTRIBUTES[kind]
    texts_default = TEXT_ATTRIBUTES.get(kind, {})
    attrs = dict(base) if base is not None else {
        n: INT_DEFAULTS.get(kind, {}).get(n, 0) for n in names}
    texts = dict(base_texts) if base_texts is not None else dict(texts_default)
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise BAD_REQUEST_BODY.joined("attributes must be an object")
    for key, value in given.items():
        if key in texts_default:
            if not isinstance(value, str):
                raise BAD_REQUEST_BODY.joined(f"attribute {key!r} must be a string")
            texts[key] = value
        elif key in names:
            attrs[key] = _integer(key, value)
        else:
            known = ", ".join([*names, *texts_default])
            raise BAD_REQUEST_BODY.joined(
                f"unknown attribute {key!r} for a {kind} toxic (it has: {known})")
    _check_http(kind, attrs, texts)
    return attrs, texts


def _check_http(kind: str, attrs: dict[str, int], texts: dict[str, str]) -> None:
    """The HTTP toxics' attributes that make no sense, refused as a bad body (an update too)."""
    if kind not in HTTP_STREAMS:
        return
    if not 0 <= attrs["percent"] <= 100:
        raise BAD_REQUEST_BODY.joined("attribute 'percent' must be from 0 to 100")
    negative = [n for n, v in attrs.items() if v < 0 and n != "jitter"]
    if negative:
        raise BAD_REQUEST_BODY.joined(f"attribute {negative[0]!r} must not be negative")
    if kind == "http_corrupt":
        _check_corrupt(attrs, texts)
    elif kind == "http_slow_body" and not (attrs["rate"] > 0 or (
            attrs["chunk"] > 0 and attrs["delay"] > 0)):
        raise BAD_REQUEST_BODY.joined(
            "an http_slow_body toxic needs 'rate' (bytes/s), or 'chunk' (bytes) and 'delay' (ms)")


def _check_corrupt(attrs: dict[str, int], texts: dict[str, str]) -> None:
    target = texts["target"]
    if target not in ("body", "header", "status"):
        raise BAD_REQUEST_BODY.joined(
            f"attribute 'target' must be body, header or status, not {target!r}")
    if target == "body" and attrs["bytes"] < 1:
        raise BAD_REQUEST_BODY.joined("attribute 'bytes' must be at least 1 for target body")
    if target == "header" and not _TOKEN.fullmatch(texts["header"]):
        raise BAD_REQUEST_BODY.joined(
            "target header needs attribute 'header': the name of the header to set or remove")
    if any(c in texts["value"] for c in "\r\n\0"):
        raise BAD_REQUEST_BODY.joined("attribute 'value' must be one line")


def read_toxicity(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value)):
        raise BAD_REQUEST_BODY.joined("toxicity must be a number")
    return float(value)


def read_duration(value: object) -> str | None:
    """perflab's ``duration``: ``"30s"``, ``"1m30s"`` or a number of milliseconds."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BAD_REQUEST_BODY.joined('duration must be a string such as "30s"')
    text = value if isinstance(value, str) else f"{value}ms"
    try:
        seconds = parse_duration(text)
    except InvalidValue as exc:
        raise BAD_REQUEST_BODY.joined(exc.message) from exc
    if seconds <= 0:
        raise BAD_REQUEST_BODY.joined("duration must be positive")
    return text


def duration_seconds(text: str) -> float:
    return parse_duration(text)


def new_toxic(body: object) -> Toxic:
    """A toxic from ``POST /proxies/{proxy}/toxics``'s body, checked in Toxiproxy's order:
    the body, the stream, the default name, the type; then (the caller) the name's uniqueness;
    then the attributes."""
    if not isinstance(body, dict):
        raise BAD_REQUEST_BODY.joined("the body must be a JSON object")
    stream = body.get("stream", "downstream")
    if stream == "":
        stream = "downstream"
    if stream not in ("upstream", "downstream"):
        raise INVALID_STREAM
    kind = body.get("type", "")
    name = body.get("name") or ""
    if not isinstance(kind, str) or not isinstance(name, str):
        raise BAD_REQUEST_BODY.joined("name and type must be strings")
    if not name:
        name = f"{kind}_{stream}"
    if kind not in TOXIC_ATTRIBUTES:
        raise INVALID_TOXIC_TYPE
    toxicity = read_toxicity(body.get("toxicity", 1.0))
    duration = read_duration(body.get("duration"))
    return Toxic(name=name, type=cast("ToxicType", kind), stream=stream, toxicity=toxicity,
                 attributes={}, duration=duration)


def finish_toxic(toxic: Toxic, body: dict[str, Any]) -> None:
    """Read the attributes once the name is known to be free (Toxiproxy's order)."""
    toxic.attributes, toxic.texts = read_attributes(toxic.type, body.get("attributes"))
    stream = HTTP_STREAMS.get(toxic.type)
    if stream is not None and toxic.stream != stream:
        what = "requests" if stream == "upstream" else "responses"
        raise BAD_REQUEST_BODY.joined(f"an {toxic.type} toxic acts on {what}: its stream is "
                                      f"{stream}")
