"""The Elasticsearch ``_bulk`` subset that log shippers send (Filebeat, Fluentd's and Fluent
Bit's ``es`` outputs, Logstash, the ``elasticsearch`` client's bulk helper), on the hub's port.

- ``GET /`` (and ``HEAD /``): the version document shippers probe first (8.x: the clients
  check the ``X-Elastic-Product: Elasticsearch`` header on every answer, so every answer here
  carries it); ``GET /_license``: an active basic license (Filebeat checks it).
- ``POST|PUT /_bulk`` and ``/<index>/_bulk``: NDJSON, gzip or not, action lines ``index`` and
  ``create`` each followed by a document; ``update`` and ``delete`` get an item error (400:
  log lines are not updated). The answer is Elasticsearch's: ``took``, ``errors`` and one
  item per action with its ``status`` (201) or its ``error`` (``type``, ``reason``).

A document is a line by ``_records.split_record`` (its ``message``, ``log`` or ``msg``; the
rest its metadata, so ECS's ``log.level``, ``trace.id`` and ``span.id`` are the level and ids);
its labels are ``index`` and, when the document names one (``service.name``), ``service_name``;
its time is ``@timestamp`` (ISO 8601 or epoch milliseconds), else the time it arrived.

A malformed action line is a 400 for the whole request (nothing taken), as Elasticsearch
answers it; a malformed document or a line over ``MAX_LINE`` bytes is that item's error, the
others are kept. A full ingest queue is 429 for the whole request (clients retry it).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route

from perflab.logs._push import MAX_LABEL_VALUE, MAX_LINE, _labels_json
from perflab.logs._records import clamp_ns, split_record
from perflab.logs._sink import LogEntry
from perflab.serving import BadEncoding, Refused, TooManyRequests, read_encoded_body, retry_after

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.types import Scope

    from perflab.logs._hub import LogsHub

MAX_BODY = 64 * 1024 * 1024
MAX_ACTIONS = 200_000
VERSION = "8.11.0"  # the API level answered (what shippers check before they send)
_PRODUCT = {"X-Elastic-Product": "Elasticsearch"}
_OPS = ("index", "create", "update", "delete")


@dataclass
class Bulk:
    """A decoded ``_bulk`` body: the lines to submit and one answer item per action."""

    entries: list[LogEntry] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    errors: bool = False


def _error(status: int, kind: str, reason: str) -> JSONResponse:
    return JSONResponse({"error": {"root_cause": [{"type": kind, "reason": reason}],
                                   "type": kind, "reason": reason}, "status": status},
                        status_code=status, headers=_PRODUCT)


def _ts(value: object, now: int) -> int:
    if isinstance(value, bool):
        return now
    if isinstance(value, (int, float)):
        return clamp_ns(value * 1_000_000)  # epoch_millis, Elasticsearch's numeric date
    if isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value)
        except ValueError:
            return now
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)  # Elasticsearch reads a zone-less date as UTC
        return clamp_ns(int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000)
    return now


def _service(doc: dict[str, Any]) -> str | None:
    service = doc.get("service")
    name = service.get("name") if isinstance(service, dict) else doc.get("service.name")
    return name if isinstance(name, str) and name else None


def _item_error(op: str, index: str, doc_id: str, kind: str, reason: str) -> dict[str, Any]:
    return {op: {"_index": index, "_id": doc_id, "status": 400,
                 "error": {"type": kind, "reason": reason}}}


def decode_bulk(body: bytes, default_index: str | None, now: int) -> Bulk:
    """The NDJSON body of a ``_bulk`` request; ``BadEncoding`` for a malformed action line."""
    lines = body.decode("utf-8", "replace").split("\n")
    out = Bulk()
    i = 0
    while i < len(lines):
        text = lines[i].strip()
        i += 1
        if not text:
            continue
        try:
            action = json.loads(text)
        except (ValueError, RecursionError):
            raise BadEncoding(f"line {i} of the _bulk body is not a JSON action") from None
        if not isinstance(action, dict) or len(action) != 1 or next(iter(action)) not in _OPS \
                or not isinstance(next(iter(action.values())), dict):
            raise BadEncoding(f"line {i} of the _bulk body is not an action: it is "
                              '{"index": {...}}, {"create": {...}}, {"update"...} or {"delete"...}')
        op, meta = next(iter(action.items()))
        index = meta.get("_index", default_index)
        doc_id = meta.get("_id") or os.urandom(10).hex()
        if not isinstance(index, str) or not index:
            raise BadEncoding(f"line {i}: the action names no _index (nor does the path)")
        if len(out.items) >= MAX_ACTIONS:
            raise BadEncoding(f"over {MAX_ACTIONS:,} actions in one _bulk request")
        source = None
        if op != "delete" and i < len(lines):
            source = lines[i]
            i += 1
        if op in ("update", "delete"):
            out.errors = True
            out.items.append(_item_error(op, index, str(doc_id), "illegal_argument_exception",
                                         f"{op} is not supported: log lines are only added"))
            continue
        out.items.append(_document(out, op, index, str(doc_id), source=source, now=now))
    return out


def _document(out: Bulk, op: str, index: str, doc_id: str, *, source: str | None,
              now: int) -> dict[str, Any]:
    try:
        doc = json.loads(source) if source is not None else None
    except (ValueError, RecursionError):
        doc = None
    if not isinstance(doc, dict):
        out.errors = True
        return _item_error(op, index, doc_id, "mapper_parsing_exception",
                           "the document is not a JSON object")
    line, meta = split_record(doc)
    if len(line) > MAX_LINE // 4 and len(line.encode("utf-8", "surrogatepass")) > MAX_LINE:
        out.errors = True
        return _item_error(op, index, doc_id, "illegal_argument_exception",
                           f"the line is over {MAX_LINE:,} bytes, the most one line may be")
    labels = {"index": index[:MAX_LABEL_VALUE]}
    service = _service(doc)
    if service is not None:
        labels["service_name"] = service[:MAX_LABEL_VALUE]
    out.entries.append(LogEntry(_labels_json(labels), _ts(doc.get("@timestamp"), now), line,
                                meta))
    return {op: {"_index": index, "_id": doc_id, "_version": 1, "result": "created",
                 "_shards": {"total": 1, "successful": 1, "failed": 0},
                 "_seq_no": len(out.entries) - 1, "_primary_term": 1, "status": 201}}


async def root(request: Request) -> Response:
    """``GET /`` as Elasticsearch answers it (only for Elasticsearch clients: a browser's
    ``GET /`` is the dashboard)."""
    if request.method == "HEAD":
        return Response(status_code=200, headers=_PRODUCT)
    return JSONResponse({
        "name": "perflab", "cluster_name": "perflab", "cluster_uuid": "perflab",
        "version": {"number": VERSION, "build_flavor": "default", "build_type": "perflab",
                    "lucene_version": "9.8.0", "minimum_wire_compatibility_version": "7.17.0",
                    "minimum_index_compatibility_version": "7.0.0"},
        "tagline": "You Know, for Search"}, headers=_PRODUCT)


async def license_info(request: Request) -> Response:
    """``GET /_license``: an active basic license, which Filebeat (7.13 and later) checks
    before it sends."""
    del request
    return JSONResponse({"license": {"status": "active", "uid": "perflab", "type": "basic",
                                     "mode": "basic", "issued_to": "perflab",
                                     "issuer": "perflab", "start_date_in_millis": -1}},
                        headers=_PRODUCT)


_CLIENT_AGENTS = ("elastic", "logstash", "fluent", "beats", "filebeat", "opensearch")


def is_elastic_client(headers: Headers) -> bool:
    """A request from an Elasticsearch client or shipper (its media type, its client meta
    header or its User-Agent), never a browser (which asks for text/html)."""
    accept = headers.get("accept", "")
    if "text/html" in accept:
        return False
    agent = headers.get("user-agent", "").lower()
    return "elasticsearch" in accept or "x-elastic-client-meta" in headers \
        or agent.startswith(_CLIENT_AGENTS)


class ElasticRoot(Route):
    """``GET /`` and ``HEAD /`` for Elasticsearch clients only; everyone else's ``/`` is the
    dashboard's (this route does not match their requests)."""

    def __init__(self) -> None:
        super().__init__("/", root, methods=["GET", "HEAD"], name="es_root")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or not is_elastic_client(Headers(scope=scope)):
            return Match.NONE, {}
        return super().matches(scope)


async def bulk(request: Request) -> Response:
    hub: LogsHub = request.app.state.logs
    started = time.monotonic()
    try:
        async with hub.limiter.slot():
            body = await read_encoded_body(request, MAX_BODY)
            decoded = await run_in_threadpool(decode_bulk, body,
                                              request.path_params.get("index"), time.time_ns())
            if decoded.entries and not hub.submit(decoded.entries, "elasticsearch"):
                raise TooManyRequests("the hub's ingest queue is full: retry in a moment")
    except BadEncoding as exc:
        hub.refused()
        return _error(400, "illegal_argument_exception", exc.message)
    except Refused as exc:
        hub.refused()
        kind = "es_rejected_execution_exception" if exc.status == 429 \
            else "content_too_long_exception"
        response = _error(exc.status, kind, exc.message)
        response.headers.update(retry_after(exc) or {})
        return response
    return JSONResponse({"took": int((time.monotonic() - started) * 1000),
                         "errors": decoded.errors, "items": decoded.items}, headers=_PRODUCT)


ROOT = ElasticRoot()  # mounted before the dashboard's own "/"
ROUTES = [
    Route("/_license", license_info, methods=["GET"], name="es_license"),
    Route("/_bulk", bulk, methods=["POST", "PUT"], name="es_bulk"),
    Route("/{index:str}/_bulk", bulk, methods=["POST", "PUT"], name="es_index_bulk"),
]
