"""The ASGI app of ``perflab serve``: dashboard pages, JSON API, static files, /metrics.

``create_app(config)`` builds it; the lifespan starts the background recording (unless
``record=False``) and ends its run when the server stops.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from perflab import _ui, incident, logs, trace
from perflab import metrics as prom
from perflab.serving import HostGuard
from perflab.store import IngestQueue, Store
from perflab.web import _api, _bench, _pages, _profile
from perflab.web._auth import TokenAuth
from perflab.web._db import QUERY_TIMEOUT_S, StorePool
from perflab.web._listeners import Listener, ListenerPaths, host_rule
from perflab.web._live import LiveView
from perflab.web._metrics import HubMetrics, MetricsMiddleware
from perflab.web._recording import BackgroundRecording
from perflab.web._rollups import BackgroundRollups
from perflab.web._state import AppState
from perflab.web._summaries import SummaryCache

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
STATIC_DIRS = (STATIC, _ui.STATIC)  # one /static/ for the dashboard's own and the shared files


@dataclass(frozen=True, slots=True)
class AppConfig:
    store_path: Path
    token: str | None = None
    record: bool = True
    interval_s: float = 1.0
    proc_root: str = "/proc"
    rollups: bool = True  # roll up finished runs in the background
    listen_host: str = "127.0.0.1"  # the --listen address: a Host name the hub serves
    allowed_hosts: tuple[str, ...] = ()  # more Host names it serves (--allowed-host)
    query_timeout_s: float = QUERY_TIMEOUT_S  # a request's store queries stop after this
    metrics: prom.HubOptions = prom.HubOptions()  # noqa: RUF009  # frozen: a shared default
    trace: trace.TraceHub | None = None  # span receivers (None: OTLP/HTTP on the hub's port)
    listeners: tuple[Listener, ...] = ()  # the receivers' own ports, served by this app too
    # the log receivers and retention (None: the HTTP ones on the hub's port, 7 days)
    logs: logs.LogsHub | None = None


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(HERE / "templates")),
                                    jinja2.FileSystemLoader(str(_ui.TEMPLATES)),
                                    jinja2.FileSystemLoader(str(prom.TEMPLATES)),
                                    jinja2.FileSystemLoader(str(trace.TEMPLATES)),
                                    jinja2.FileSystemLoader(str(logs.TEMPLATES)),
                                    jinja2.FileSystemLoader(str(incident.TEMPLATES))]),
        autoescape=True, undefined=jinja2.StrictUndefined,
    )
    env.filters.update(_ui.template_filters())
    # cache-busting by content size and mtime: a new perflab never runs an old cached script
    versions = {p.relative_to(d).as_posix(): f"{int(p.stat().st_mtime)}-{p.stat().st_size}"
                for d in STATIC_DIRS for p in d.rglob("*") if p.is_file()}
    env.globals["static"] = lambda name: f"/static/{name}?v={versions.get(name, '0')}"
    return env


def create_app(config: AppConfig) -> Starlette:
    templates = _templates()
    recording = (BackgroundRecording(config.store_path, interval_s=config.interval_s,
                                     proc_root=config.proc_root) if config.record else None)
    metrics = HubMetrics(config.store_path,
                         lambda: 0 if recording is None else recording.samples_written)
    state = AppState(stores=StorePool(config.store_path, config.query_timeout_s),
                     templates=templates,
                     live=LiveView(proc_root=config.proc_root), metrics=metrics,
                     recording=recording, host=socket.gethostname(),
                     summaries=SummaryCache())
    hub = prom.MetricsHub(config.store_path, config.metrics, stores=state.stores)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:  # starlette's API
        # create (or migrate) the store once, before any reader thread opens it
        Store.open(config.store_path).close()
        rollups = BackgroundRollups(config.store_path) if config.rollups else None
        # the one batching path from every receiver into the store (docs/design.md, Ingest)
        ingest = IngestQueue(config.store_path)
        app.state.ingest = ingest
        app.state.trace.start(ingest)
        if recording is not None:
            state.live.run_id = recording.start()
        hub.start(ingest, lambda: state.live.run_id)
        app.state.logs.start(ingest, lambda: state.live.run_id)
        ingest.start()
        if rollups is not None:
            rollups.start()
        try:
            yield
        finally:
            hub.stop()  # no new samples; then what was accepted is written
            app.state.trace.stop()  # no new spans; then what was accepted is written
            app.state.logs.stop()  # no new lines from the forward and syslog ports either
            ingest.stop()
            if rollups is not None:
                rollups.stop()
            if recording is not None:
                recording.stop()
            state.stores.close()

    login = templates.get_template("login.html")
    middleware = [Middleware(MetricsMiddleware, metrics=metrics),
                  Middleware(HostGuard, rule=host_rule(config.listen_host, config.allowed_hosts,
                                                       config.listeners)),
                  Middleware(ListenerPaths, listeners=config.listeners)]
    if config.token:
        middleware.append(Middleware(
            TokenAuth, token=config.token,
            render_login=lambda nxt, err: login.render(next=nxt, error=err)))
    routes = [
        logs.ES_ROOT,  # Elasticsearch's GET / for its clients only; the dashboard's for others
        *_pages.ROUTES,
        *_bench.ROUTES,  # before the API's catch-all 404
        *_profile.ROUTES,
        *prom.ROUTES,  # the Prometheus API, remote-write, the Query and Alerts pages
        *trace.ROUTES,  # span receivers, Jaeger's query API, the Traces and Services pages
        *logs.ROUTES,  # the Loki push receiver, Loki's query API and the Logs page
        *incident.ROUTES,  # the Incident pages, an incident's API, deploys from CI
        Route("/metrics", metrics.endpoint, name="metrics"),
        Mount("/static", name="static",
              app=StaticFiles(packages=[("perflab.web", "static"), ("perflab._ui", "static")])),
        *_api.ROUTES,
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.perflab = state
    app.state.metrics = hub
    app.state.trace = config.trace or trace.TraceHub(token=config.token)
    app.state.logs = config.logs or logs.LogsHub()
    app.state.trace.add_grpc_service(hub.otlp.grpc_service(config.token))  # OTLP metrics
    app.state.trace.add_grpc_service(app.state.logs.grpc_service(config.token))  # OTLP logs
    return app
