"""The Toxiproxy HTTP API over a ``ProxyCollection``: the same routes, JSON fields, status codes
and error bodies as Toxiproxy 2.x's api.go, as a starlette app.

The API has its own thread and event loop (``ChaosServer``): HTTP parsing and answers never
wait behind the connections' chunks, and neither do reads nor toxic changes:

- reads (``GET /proxies``, a proxy, its toxics, a toxic) answer from the collection's
  ``snapshot``, a consistent state swapped in whole after every change;
- a toxic's addition, update or removal is made here, under the collection's lock: it only
  edits a list the links read at their next chunk, and hands what acts on the links to the
  proxies' loop without waiting (a turn of that loop, behind a thousand connections' callbacks,
  took 100-300 ms on a loaded machine; Toxiproxy waits for every link, which is how its API
  hangs under load);
- what binds sockets or resolves names (a proxy's creation, update, removal, ``/populate``,
  ``/reset``) and ``/metrics`` run on the proxies' loop, handed over thread-safely
  (``run_coroutine_threadsafe``) as one step.

Every change publishes its snapshot before its answer: a GET after it sees it. A change's
fault band is written by the bands' writer thread; the answer waits for it on the API's loop,
never on the proxies' loop.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from perflab.chaos._contracts import RECORDED_HEADER
from perflab.chaos._toxics import PROXY_NOT_FOUND, TOXIC_NOT_FOUND, ApiError
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
    from collections.abc import Awaitable, Callable, Coroutine

    from starlette.requests import Request

    from perflab.chaos._contracts import PopulateDoc, ProxyDoc, VersionDoc
    from perflab.chaos._proxy import ProxyCollection

TOXIPROXY_VERSION = "2.12.0"  # the Toxiproxy API this server answers as
MAX_BODY = 1024 * 1024
_METRIC_LABELS = ("direction", "proxy", "listener", "upstream")
_T = TypeVar("_T")
_READS = frozenset({"GET", "HEAD"})


def _json(doc: object, status: int = 200) -> Response:
    return Response(json.dumps(doc, separators=(",", ":")), status_code=status,
                    media_type="application/json")


def _error(err: ApiError) -> Response:
    # Toxiproxy writes its error through http.Error: the JSON and a newline
    body = json.dumps(err.body(), separators=(",", ":")) + "\n"
    return Response(body, status_code=err.status, media_type="application/json")


class ChaosApi:
    """The routes, bound to one collection."""

    def __init__(self, proxies: ProxyCollection,
                 proxies_loop: asyncio.AbstractEventLoop | None = None) -> None:
        """``proxies_loop``: the loop the proxies run on, when it is not the API's own."""
        self.proxies = proxies
        self.proxies_loop = proxies_loop
        self.limiter = ConcurrencyLimiter(64, 256, what="API requests")

    async def _on_proxies(self, step: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
        """``step`` run on the proxies' loop; its answer or its error here."""
        if self.proxies_loop is None:
            return await step()
        return await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(step(), self.proxies_loop))

    async def _raw(self, request: Request) -> bytes:
        return await read_body(request, MAX_BODY)

    @staticmethod
    def _parse(raw: bytes) -> Any:  # any JSON value
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
                    response = await fn(request)
                    bands = self.proxies.bands
                    if request.method not in _READS and bands is not None:
                        await asyncio.wrap_future(bands.flushed())  # its bands are written
                    return response
            except ApiError as err:
                return _error(err)
            except Refused as refused:
                return _error(ApiError(refused.message, refused.status))
        return handle

    # -- proxies -------------------------------------------------------------------------------

    def _shown(self, request: Request) -> ProxyDoc:
        """The proxy of the request's path, as the last change left it."""
        doc = self.proxies.snapshot.get(request.path_params["proxy"])
        if doc is None:
            raise PROXY_NOT_FOUND
        return doc

    async def proxy_index(self, _request: Request) -> Response:
        return _json(dict(self.proxies.snapshot))

    async def proxy_create(self, request: Request) -> Response:
        raw = await self._raw(request)

        async def step() -> ProxyDoc:
            return (await self.proxies.add(self._parse(raw))).to_json()
        return _json(await self._on_proxies(step), 201)

    async def populate(self, request: Request) -> Response:
        raw = await self._raw(request)

        async def step() -> tuple[PopulateDoc, int]:
            try:
                done, err = await self.proxies.populate(self._parse(raw))
            except ApiError as invalid:  # nothing was created: Toxiproxy answers "proxies": null
                return {**invalid.body(), "proxies": None}, invalid.status
            doc: PopulateDoc = {"proxies": [p.to_json() for p in done]}
            if err is not None:
                return {**err.body(), **doc}, err.status
            return doc, 201
        return _json(*await self._on_proxies(step))

    async def proxy_show(self, request: Request) -> Response:
        return _json(self._shown(request))

    async def proxy_update(self, request: Request) -> Response:
        raw = await self._raw(request)

        async def step() -> ProxyDoc:
            proxy = self.proxies.get(request.path_params["proxy"])
            return (await self.proxies.update(proxy.name, self._parse(raw))).to_json()
        return _json(await self._on_proxies(step))

    async def proxy_delete(self, request: Request) -> Response:
        async def step() -> None:
            self.proxies.remove(request.path_params["proxy"])
        await self._on_proxies(step)
        return Response(status_code=204)

    async def reset(self, _request: Request) -> Response:
        await self._on_proxies(self.proxies.reset)
        return Response(status_code=204)

    # -- toxics --------------------------------------------------------------------------------

    async def toxic_index(self, request: Request) -> Response:
        return _json(self._shown(request)["toxics"])

    async def toxic_create(self, request: Request) -> Response:
        raw = await self._raw(request)
        # a perflab fault that records its own band says so: the fault is on the timeline once
        recorded = request.headers.get(RECORDED_HEADER, "") == "band"
        name = self.proxies.get(request.path_params["proxy"]).name  # 404 before a bad body
        doc = self.proxies.add_toxic(name, self._parse(raw), banded=not recorded)
        return _json(doc)  # 200, not 201: Toxiproxy's answer

    async def toxic_show(self, request: Request) -> Response:
        wanted = request.path_params["toxic"]
        toxic = next((t for t in self._shown(request)["toxics"] if t["name"] == wanted), None)
        if toxic is None:
            raise TOXIC_NOT_FOUND
        return _json(toxic)

    async def toxic_update(self, request: Request) -> Response:
        raw = await self._raw(request)
        proxy = self.proxies.get(request.path_params["proxy"]).name
        return _json(self.proxies.update_toxic(proxy, request.path_params["toxic"],
                                               self._parse(raw)))

    async def toxic_delete(self, request: Request) -> Response:
        self.proxies.remove_toxic(request.path_params["proxy"], request.path_params["toxic"])
        return Response(status_code=204)

    # -- the rest ------------------------------------------------------------------------------

    async def version(self, _request: Request) -> Response:
        from perflab import __version__  # noqa: PLC0415  # the package's own version

        doc: VersionDoc = {"version": TOXIPROXY_VERSION, "perflab": __version__}
        return Response(json.dumps(doc) + "\n", media_type="application/json;charset=utf-8")

    async def metrics(self, _request: Request) -> Response:
        """Toxiproxy's proxy counters, in Prometheus's text format."""
        return PlainTextResponse("\n".join(await self._on_proxies(self._metric_lines)) + "\n",
                                 media_type="text/plain; version=0.0.4; charset=utf-8")

    async def _metric_lines(self) -> list[str]:
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
        return lines

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
               allowed_hosts: tuple[str, ...] = (), token: str | None = None,
               proxies_loop: asyncio.AbstractEventLoop | None = None) -> Starlette:
    """The API app: Host guard outermost, then the token (when one is set), then the routes.
    ``proxies_loop``: where the proxies run, when the app is served on another loop."""
    middleware = [Middleware(HostGuard, rule=HostRule.for_listen(listen_host, allowed_hosts))]
    if token is not None:
        middleware.append(Middleware(_BearerToken, token=token))
    return Starlette(routes=ChaosApi(proxies, proxies_loop).routes(), middleware=middleware)
