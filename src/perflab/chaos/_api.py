"""The Toxiproxy HTTP API over a ``ProxyCollection``: the same routes, JSON fields, status codes
and error bodies as Toxiproxy 2.x's api.go, as a starlette app.

Handlers only edit in-memory state on the event loop the proxies run on, so the API answers
while connections pass (nothing waits for the links to take a change).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from perflab.chaos._contracts import RECORDED_HEADER
from perflab.chaos._toxics import TOXIC_NOT_FOUND, ApiError
from perflab.serving import (
    ConcurrencyLimiter,
    HostGuard,
    HostRule,
    Refused,
    bearer_matches,
    read_body,
)
from perflab.store import format_labels

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request

    from perflab.chaos._contracts import PopulateDoc, VersionDoc
    from perflab.chaos._proxy import ProxyCollection

TOXIPROXY_VERSION = "2.12.0"  # the Toxiproxy API this server answers as
MAX_BODY = 1024 * 1024
_METRIC_LABELS = ("direction", "proxy", "listener", "upstream")


def _json(doc: object, status: int = 200) -> Response:
    return Response(json.dumps(doc, separators=(",", ":")), status_code=status,
                    media_type="application/json")


def _error(err: ApiError) -> Response:
    # Toxiproxy writes its error through http.Error: the JSON and a newline
    body = json.dumps(err.body(), separators=(",", ":")) + "\n"
    return Response(body, status_code=err.status, media_type="application/json")


class ChaosApi:
    """The routes, bound to one collection."""

    def __init__(self, proxies: ProxyCollection) -> None:
        self.proxies = proxies
        self.limiter = ConcurrencyLimiter(64, 256, what="API requests")

    async def _body(self, request: Request) -> Any:  # any JSON value
        raw = await read_body(request, MAX_BODY)
        try:
            return json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(f"bad request body: {exc}", 400) from exc

    def _handler(self, fn: Callable[[Request], Awaitable[Response]]
                 ) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            if request.headers.get("user-agent", "").startswith("Mozilla/"):
                # Toxiproxy's guard against browsers (a page could drive the API)
                return PlainTextResponse("User agent not allowed\n", status_code=403)
            try:
                async with self.limiter.slot():
                    return await fn(request)
            except ApiError as err:
                return _error(err)
            except Refused as refused:
                return _error(ApiError(refused.message, refused.status))
        return handle

    # -- proxies -------------------------------------------------------------------------------

    async def proxy_index(self, _request: Request) -> Response:
        return _json({name: p.to_json() for name, p in self.proxies.proxies.items()})

    async def proxy_create(self, request: Request) -> Response:
        proxy = await self.proxies.add(await self._body(request))
        return _json(proxy.to_json(), 201)

    async def populate(self, request: Request) -> Response:
        try:
            done, err = await self.proxies.populate(await self._body(request))
        except ApiError as invalid:  # nothing was created: Toxiproxy answers "proxies": null
            refused: PopulateDoc = {**invalid.body(), "proxies": None}
            return _json(refused, invalid.status)
        doc: PopulateDoc = {"proxies": [p.to_json() for p in done]}
        if err is not None:
            doc = {**err.body(), **doc}
        return _json(doc, 201 if err is None else err.status)

    async def proxy_show(self, request: Request) -> Response:
        return _json(self.proxies.get(request.path_params["proxy"]).to_json())

    async def proxy_update(self, request: Request) -> Response:
        proxy = self.proxies.get(request.path_params["proxy"])
        proxy = await self.proxies.update(proxy.name, await self._body(request))
        return _json(proxy.to_json())

    async def proxy_delete(self, request: Request) -> Response:
        self.proxies.remove(request.path_params["proxy"])
        return Response(status_code=204)

    async def reset(self, _request: Request) -> Response:
        await self.proxies.reset()
        return Response(status_code=204)

    # -- toxics --------------------------------------------------------------------------------

    async def toxic_index(self, request: Request) -> Response:
        proxy = self.proxies.get(request.path_params["proxy"])
        return _json([t.to_json() for t in proxy.toxics()])

    async def toxic_create(self, request: Request) -> Response:
        proxy = self.proxies.get(request.path_params["proxy"])
        # a perflab fault that records its own band says so: the fault is on the timeline once
        recorded = request.headers.get(RECORDED_HEADER, "") == "band"
        toxic = proxy.add_toxic(await self._body(request), banded=not recorded)
        return _json(toxic.to_json())  # 200, not 201: Toxiproxy's answer

    async def toxic_show(self, request: Request) -> Response:
        proxy = self.proxies.get(request.path_params["proxy"])
        toxic = proxy.find(request.path_params["toxic"])
        if toxic is None:
            raise TOXIC_NOT_FOUND
        return _json(toxic.to_json())

    async def toxic_update(self, request: Request) -> Response:
        proxy = self.proxies.get(request.path_params["proxy"])
        toxic = proxy.update_toxic(request.path_params["toxic"], await self._body(request))
        return _json(toxic.to_json())

    async def toxic_delete(self, request: Request) -> Response:
        proxy = self.proxies.get(request.path_params["proxy"])
        proxy.remove_toxic(request.path_params["toxic"])
        return Response(status_code=204)

    # -- the rest ------------------------------------------------------------------------------

    async def version(self, _request: Request) -> Response:
        from perflab import __version__  # noqa: PLC0415  # the package's own version

        doc: VersionDoc = {"version": TOXIPROXY_VERSION, "perflab": __version__}
        return Response(json.dumps(doc) + "\n", media_type="application/json;charset=utf-8")

    async def metrics(self, _request: Request) -> Response:
        """Toxiproxy's proxy counters, in Prometheus's text format."""
        lines = []
        for metric, attr in (("toxiproxy_proxy_received_bytes_total", "received"),
                             ("toxiproxy_proxy_sent_bytes_total", "sent")):
            lines.append(f"# HELP {metric} Bytes the proxy {attr} per direction.")
            lines.append(f"# TYPE {metric} counter")
            for proxy in self.proxies.proxies.values():
                for direction, value in getattr(proxy.counters, attr).items():
                    labels = dict(zip(_METRIC_LABELS, (direction, proxy.name, proxy.listen,
                                                       proxy.upstream), strict=True))
                    lines.append(f"{metric}{format_labels(labels)} {value}")
        return PlainTextResponse("\n".join(lines) + "\n",
                                 media_type="text/plain; version=0.0.4; charset=utf-8")

    def routes(self) -> list[Route]:
        h = self._handler
        return [
            Route("/reset", h(self.reset), methods=["POST"]),
            Route("/proxies", h(self.proxy_index), methods=["GET"]),
            Route("/proxies", h(self.proxy_create), methods=["POST"]),
            Route("/populate", h(self.populate), methods=["POST"]),
            Route("/proxies/{proxy}", h(self.proxy_show), methods=["GET"]),
            Route("/proxies/{proxy}", h(self.proxy_update), methods=["POST", "PATCH"]),
            Route("/proxies/{proxy}", h(self.proxy_delete), methods=["DELETE"]),
            Route("/proxies/{proxy}/toxics", h(self.toxic_index), methods=["GET"]),
            Route("/proxies/{proxy}/toxics", h(self.toxic_create), methods=["POST"]),
            Route("/proxies/{proxy}/toxics/{toxic}", h(self.toxic_show), methods=["GET"]),
            Route("/proxies/{proxy}/toxics/{toxic}", h(self.toxic_update),
                  methods=["POST", "PATCH"]),
            Route("/proxies/{proxy}/toxics/{toxic}", h(self.toxic_delete), methods=["DELETE"]),
            Route("/version", h(self.version), methods=["GET"]),
            Route("/metrics", h(self.metrics), methods=["GET"]),
        ]


class _BearerToken:
    """With a token (an API listening off loopback), every request carries it."""

    def __init__(self, app: Any, token: str) -> None:  # an ASGI app
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            auth = next((v.decode("latin-1") for k, v in scope.get("headers", ())
                         if k == b"authorization"), None)
            if not bearer_matches(auth, self.token):
                response = _error(ApiError("missing or wrong token", 401,
                                           hint="send 'Authorization: Bearer TOKEN'"))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_api(proxies: ProxyCollection, *, listen_host: str = "127.0.0.1",
               allowed_hosts: tuple[str, ...] = (), token: str | None = None) -> Starlette:
    """The API app: Host guard outermost, then the token (when one is set), then the routes."""
    middleware = [Middleware(HostGuard, rule=HostRule.for_listen(listen_host, allowed_hosts))]
    if token is not None:
        middleware.append(Middleware(_BearerToken, token=token))
    return Starlette(routes=ChaosApi(proxies).routes(), middleware=middleware)
