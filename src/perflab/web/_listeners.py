"""Extra ports of the hub (the OTLP/HTTP and Zipkin receivers' own ports): one app serves them
all, each port only the paths it was opened for; the others answer 404 there.

uvicorn serves several bound sockets with one app; ``scope["server"]`` holds the local address
a request came in on, which tells the ports apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from perflab.serving import HostRule


@dataclass(frozen=True, slots=True)
class Listener:
    host: str
    port: int
    paths: tuple[str, ...]  # the only paths served on this port
    flag: str  # the option that opened it (--otlp-http ...), for messages


class ListenerPaths:
    def __init__(self, app: ASGIApp, listeners: tuple[Listener, ...]) -> None:
        self.app = app
        self.paths = {lst.port: lst for lst in listeners}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        listener = self.paths.get(server[1]) if scope["type"] in ("http", "websocket") \
            and server else None
        if listener is None or scope["path"] in listener.paths:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps({"error": f"this port ({listener.flag}) serves only "
                                    f"{', '.join(listener.paths)}", "status": 404}).encode()
        await send({"type": "http.response.start", "status": 404,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def host_rule(listen_host: str, allowed: tuple[str, ...],
              listeners: tuple[Listener, ...]) -> HostRule:
    """The Host names the hub and its extra ports serve, together."""
    rules = [HostRule.for_listen(listen_host, allowed),
             *(HostRule.for_listen(lst.host) for lst in listeners)]
    return HostRule(frozenset().union(*(r.names for r in rules)),
                    any_address=any(r.any_address for r in rules))
