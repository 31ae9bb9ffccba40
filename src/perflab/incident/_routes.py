"""What incidents add to the hub: the Incidents and Incident pages (merged timeline,
findings, evidence, notes), an evidence viewer (JSON shown as text, profiles as flame
graphs), ``GET /api/incidents/ID``, ``POST /api/events/deploy`` (CI pipelines record
deploys) and ``POST /api/incidents/alertmanager`` (critical alerts open incidents); behind the
hub's token like every ``/api/`` path. Mounted by ``web/``."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from perflab.errors import NotFound, PerflabError
from perflab.incident._autoopen import critical_firing, open_for_alerts
from perflab.incident._document import incident_document
from perflab.incident._timeline import timeline
from perflab.incident._timeline_chart import clock, display_kind, relative, timeline_chart
from perflab.profile import flame_html, parse_profile
from perflab.serving import Refused, read_body
from perflab.store import Store, incidents, record_deploy
from perflab.units import format_timestamp, printable

if TYPE_CHECKING:
    from starlette.requests import Request

    from perflab.incident._contracts import EventDeployDoc
    from perflab.store import Event

TEMPLATES = Path(__file__).resolve().parent / "templates"
MAX_DEPLOY_BODY = 64 * 1024
MAX_ALERT_BODY = 1024 * 1024
MAX_TEXT = 200  # a service name or version longer than this is refused
_INERT = {"X-Content-Type-Options": "nosniff",
          "Content-Security-Policy": "default-src 'none'; sandbox"}


def _id(raw: str) -> int | None:
    """A path id: ASCII digits within 64 bits, else None (a 404, never a 500)."""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19):
        return None
    value = int(raw)
    return value if value < 2**63 else None


def deploy_document(event: Event) -> EventDeployDoc:
    return {"schema": "perflab.event-deploy/1", "event": {
        "id": event.id, "run_id": event.run_id, "ts_ns": event.ts_ns,
        "service": str(event.attrs.get("service", "")),
        "version": str(event.attrs.get("version", ""))}}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


async def _json_body(request: Request, limit: int, what: str) -> Any:
    """The request's body parsed as JSON, or the refusal to answer (413, 400)."""
    try:
        body = await read_body(request, limit)
    except Refused as exc:
        return JSONResponse(exc.to_json(), status_code=exc.status)
    try:
        return json.loads(body)
    except ValueError:
        return _error(400, f"the body is not JSON: {what}")


async def post_deploy(request: Request) -> Response:
    """``{"service": S, "version": V, "ts_ns"?: int, "attrs"?: {...}}`` -> the event."""
    doc = await _json_body(request, MAX_DEPLOY_BODY, "an object with service and version")
    if isinstance(doc, Response):
        return doc
    if not isinstance(doc, dict):
        return _error(400, "the body is a JSON object: service, version")
    service, version = doc.get("service"), doc.get("version")
    ts_ns, attrs = doc.get("ts_ns"), doc.get("attrs", {})
    if not all(isinstance(v, str) and 0 < len(v) <= MAX_TEXT for v in (service, version)):
        return _error(400, f"service and version are strings of 1 to {MAX_TEXT} characters")
    if ts_ns is not None and not (isinstance(ts_ns, int) and not isinstance(ts_ns, bool)
                                  and 0 <= ts_ns < 2**63):
        return _error(400, "ts_ns is an integer: nanoseconds since the epoch")
    if not isinstance(attrs, dict) or len(attrs) > 50:
        return _error(400, "attrs is an object of at most 50 keys")
    path = request.app.state.perflab.stores.path

    def write() -> EventDeployDoc:
        with Store.open(path) as store:
            return deploy_document(record_deploy(store, str(service), str(version),
                                                 ts_ns=ts_ns, attrs=attrs))

    try:
        return JSONResponse(await run_in_threadpool(write))
    except PerflabError as exc:
        return _error(503, exc.message)


def _store(request: Request) -> Any:
    return request.app.state.perflab.stores


async def get_incident(request: Request) -> Response:
    incident_id = _id(request.path_params["incident_id"])
    if incident_id is None:
        return _error(404, "no such incident")
    source = _store(request)

    def read() -> Any:
        with source.in_use():
            return incident_document(source.get(), incident_id)

    try:
        return JSONResponse(await run_in_threadpool(read))
    except NotFound as exc:
        return _error(404, exc.message)


def _render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    state = request.app.state.perflab
    html = state.templates.get_template(template).render(host=state.host, page="incidents",
                                                        **values)
    return HTMLResponse(html, status_code=status)


async def incidents_page(request: Request) -> Response:
    source = _store(request)

    def read() -> list[Any]:
        with source.in_use():
            return [(i.id, printable(i.title), i.status, format_timestamp(i.opened_ns))
                    for i in incidents(source.get(), limit=200)]

    return _render(request, "incidents.html", rows=await run_in_threadpool(read))


async def incident_page(request: Request) -> Response:
    incident_id = _id(request.path_params["incident_id"])
    source = _store(request)

    def read() -> dict[str, Any]:
        with source.in_use():
            store = source.get()
            doc = incident_document(store, incident_id or -1)
            found = timeline(store, doc["id"], now_ns=time.time_ns())
            printed = [dataclasses.replace(m, text=printable(m.text)) for m in found]
            opened = doc["opened_ns"]
            moments = [(format_timestamp(m.ts_ns), clock(m.ts_ns), relative(m.ts_ns, opened),
                        display_kind(m.kind), m.text, m.link) for m in printed]
            return {"doc": doc, "moments": moments, "opened": format_timestamp(opened),
                    "chart": timeline_chart(printed, opened)}

    try:
        values = await run_in_threadpool(read)
    except NotFound as exc:
        return _render(request, "incidents.html", 404, rows=[], error=exc.message)
    return _render(request, "incident.html", **values)


async def evidence_page(request: Request) -> Response:
    incident_id = _id(request.path_params["incident_id"])
    art_id = _id(request.path_params["artifact_id"])
    source = _store(request)

    def read() -> Response:
        with source.in_use():
            store = source.get()
            arts = {a.id: a for a in store.artifacts(incident_id or -1)}
            art = arts.get(art_id or -1)
            if art is None:
                return PlainTextResponse("no such evidence", status_code=404)
            data = store.artifact_data(art.id)
        if art.kind == "evidence.file":
            try:
                prof = parse_profile(data, path=art.name)
            except PerflabError as exc:
                return PlainTextResponse(f"not a profile: {exc.message}", status_code=422)
            return HTMLResponse(flame_html(prof, title=f"incident {incident_id} · {art.name}"))
        # step outputs are shown as text, never interpreted by the browser
        return PlainTextResponse(data, headers=_INERT)

    return await run_in_threadpool(read)


async def post_alertmanager(request: Request) -> Response:
    """Alertmanager's webhook: a critical firing alert opens an incident (``_autoopen``)."""
    payload = await _json_body(request, MAX_ALERT_BODY, "Alertmanager's webhook payload")
    if isinstance(payload, Response):
        return payload
    alerts = critical_firing(payload)
    path = request.app.state.perflab.stores.path

    def start() -> list[str]:
        with Store.open(path) as store:
            return open_for_alerts(store, alerts)

    opened = await run_in_threadpool(start) if alerts else []
    return JSONResponse({"opened": opened}, status_code=202 if opened else 200)


ROUTES = [
    Route("/api/incidents/alertmanager", post_alertmanager, methods=["POST"],
          name="api_incident_alerts"),
    Route("/api/events/deploy", post_deploy, methods=["POST"], name="api_deploy"),
    Route("/api/incidents/{incident_id}", get_incident, methods=["GET"], name="api_incident"),
    Route("/incidents", incidents_page, methods=["GET"], name="incidents_page"),
    Route("/incidents/{incident_id}", incident_page, methods=["GET"], name="incident_page"),
    Route("/incidents/{incident_id}/evidence/{artifact_id}", evidence_page, methods=["GET"],
          name="incident_evidence"),
]
