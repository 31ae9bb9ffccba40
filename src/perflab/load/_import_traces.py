"""Traffic from the traces in the store: the server spans' requests (docs/tracing.md).

Each server span is one request its service answered. Its endpoint is the route the service
matched (``http.route``, the template the framework knows: ``/users/{user_id}``), else the path
it was asked for with ids collapsed; its method, sizes and status come from the HTTP semantic
conventions, new names before old ones (``http.request.method`` / ``http.method``,
``http.request.body.size`` / ``http.request_content_length``, ...). Spans that are not HTTP
(no method in their attributes or name) are counted as unmapped, by operation.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import TYPE_CHECKING, Any

from perflab.errors import NotFound
from perflab.load._import_model import Observed, Traffic, Unmapped
from perflab.store import SpanFilter, spans_matching

if TYPE_CHECKING:
    from perflab.store import Store, StoredSpan

SPAN_KIND_SERVER = 2  # OTLP's SpanKind: server spans are the requests a service answered
MAX_SPANS = 1_000_000  # server spans read (newest first)
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE",
                      "CONNECT"))
_PLACEHOLDER = re.compile(r"\{[^}/]*\}|:[A-Za-z_]\w*|<[^>/]*>")  # {id}, :id, <int:id>


def read_traces(store: Store, *, start_ns: int | None = None, end_ns: int | None = None,
                service: str | None = None, where: str = "traces") -> Traffic:
    """The requests the stored server spans answered, oldest first."""
    rows = spans_matching(store, SpanFilter(service=service, kind=SPAN_KIND_SERVER,
                                            start_ns=start_ns, end_ns=end_ns),
                          limit=MAX_SPANS)
    traffic = Traffic("traces", where, "server spans")
    if not rows:
        raise NotFound("no server spans in the store" + (f" for service {service!r}"
                                                         if service else ""),
                       hint="send the service's traces to perflab serve (OTLP), or widen "
                            "--since")
    skipped: Counter[str] = Counter()
    bases: Counter[str] = Counter()
    for row in reversed(rows):  # spans_matching answers newest first
        attrs = _attrs(row)
        observed = _observed(row, attrs)
        if observed is None:
            skipped[f"{row.service} {row.name}"] += 1
            continue
        traffic.requests.append(observed)
        base = _base(attrs)
        if base:
            bases[base] += 1
    if len(rows) >= MAX_SPANS:
        traffic.unmapped.append(Unmapped("store", "spans", f"more than {MAX_SPANS} server "
                                         "spans: the newest were read"))
    for op, n in skipped.most_common():
        traffic.unmapped.append(Unmapped(op, "server span", f"{n} spans with no HTTP method: "
                                                             "not an HTTP request"))
    if bases:
        traffic.base_url = bases.most_common(1)[0][0]
    return traffic


def _attrs(row: StoredSpan) -> dict[str, Any]:
    try:
        value = json.loads(row.attrs) if row.attrs else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _first(attrs: dict[str, Any], *keys: str) -> Any:  # attribute values
    for key in keys:
        value = attrs.get(key)
        if value not in (None, ""):
            return value
    return None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _observed(row: StoredSpan, attrs: dict[str, Any]) -> Observed | None:
    method = _first(attrs, "http.request.method", "http.method")
    name_method, _, name_rest = row.name.partition(" ")
    if not isinstance(method, str) or method.upper() not in _METHODS:
        method = name_method if name_method.upper() in _METHODS else None
    if method is None:
        return None
    route = _first(attrs, "http.route")
    if not isinstance(route, str) and name_rest.startswith("/"):
        route = name_rest  # "GET /users/{id}": the name the conventions give a server span
    path = _first(attrs, "url.path", "http.target")
    if not isinstance(path, str) or not path.startswith("/"):
        path = _PLACEHOLDER.sub("1", route) if isinstance(route, str) else "/"
    query = _first(attrs, "url.query")
    if isinstance(query, str) and query and "?" not in path:
        path += f"?{query}"
    return Observed(
        method=method.upper(), path=path[:2000], at_s=row.start_ns / 1e9,
        body_bytes=_int(_first(attrs, "http.request.body.size",
                               "http.request_content_length")) or 0,
        response_bytes=_int(_first(attrs, "http.response.body.size",
                                   "http.response_content_length")),
        status=_int(_first(attrs, "http.response.status_code", "http.status_code")),
        route=_PLACEHOLDER.sub(_brace, route) if isinstance(route, str) else None)


def _brace(m: re.Match[str]) -> str:
    """A framework's placeholder (``:id``, ``<int:id>``) as a template's ``{id}``."""
    text = m[0]
    if text.startswith(":"):
        return "{" + text[1:] + "}"
    if text.startswith("<"):
        return "{" + text[1:-1].rsplit(":", 1)[-1] + "}"
    return text


def _base(attrs: dict[str, Any]) -> str | None:
    scheme = _first(attrs, "url.scheme", "http.scheme")
    host = _first(attrs, "server.address", "net.host.name")
    port = _int(_first(attrs, "server.port", "net.host.port"))
    if not isinstance(host, str):
        return None
    return f"{scheme if isinstance(scheme, str) else 'http'}://{host}" + (
        f":{port}" if port else "")
