"""Access token for a hub bound beyond loopback: a bearer header, or a session cookie from /login.

The cookie holds a random session id, not the token nor anything derived from it; the hub keeps
each id with its expiry in memory, so ``/logout``, a restart or a new token revokes it. Token
comparisons are constant-time (``hmac.compare_digest``), session ids are looked up by their
SHA-256. Failed logins are throttled per client address with an exponential back-off (429 while
it lasts, even for the right token), so guessing costs hours, not seconds. Websockets are
checked like requests, and closed before they are accepted. Without a token configured, this
middleware is not installed.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import parse_qs, quote

from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from perflab.serving import PayloadTooLarge, bearer_matches, read_body

COOKIE = "perflab_session"
SESSION_LIFETIME_S = 30 * 86400
MAX_SESSIONS = 10_000  # the oldest go first: logins need the token, so this is only a backstop
_MAX_FORM = 16 * 1024
WS_UNAUTHORISED = 4401  # a websocket closed before it was accepted: no token


def _safe_next(target: str) -> str:
    """Only local paths: a login must not become an open redirect."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _digest(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


class Sessions:
    """Session ids given at login, each valid until its expiry or its revocation."""

    def __init__(self, lifetime_s: float = SESSION_LIFETIME_S, *,
                 clock: Callable[[], float] = time.monotonic,
                 max_sessions: int = MAX_SESSIONS) -> None:
        self.lifetime_s = lifetime_s
        self._clock = clock
        self._max = max_sessions
        self._expiry: OrderedDict[bytes, float] = OrderedDict()

    def new(self) -> str:
        session_id = secrets.token_urlsafe(32)
        self._expiry[_digest(session_id)] = self._clock() + self.lifetime_s
        while len(self._expiry) > self._max:
            self._expiry.popitem(last=False)
        return session_id

    def valid(self, session_id: str) -> bool:
        if not session_id:
            return False
        key = _digest(session_id)
        expiry = self._expiry.get(key)
        if expiry is None:
            return False
        if self._clock() >= expiry:
            del self._expiry[key]
            return False
        return True

    def revoke(self, session_id: str) -> None:
        self._expiry.pop(_digest(session_id), None)


class LoginThrottle:
    """Failed logins per client: the first ``free`` cost nothing, then each doubles the wait
    before the next attempt (1 s, 2 s, 4 s ... up to ``max_delay_s``). A success clears it."""

    def __init__(self, *, free: int = 3, max_delay_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic, max_clients: int = 10_000) -> None:
        self.free = free
        self.max_delay_s = max_delay_s
        self._clock = clock
        self._max = max_clients
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def wait_s(self, client: str) -> float:
        """Seconds before ``client`` may try again (0: now)."""
        count, last = self._failures.get(client, (0, 0.0))
        if count < self.free:
            return 0.0
        delay = min(self.max_delay_s, 2.0 ** (count - self.free))
        return max(0.0, last + delay - self._clock())

    def failed(self, client: str) -> None:
        count, _ = self._failures.pop(client, (0, 0.0))
        self._failures[client] = (count + 1, self._clock())
        while len(self._failures) > self._max:
            self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)


class TokenAuth:
    def __init__(self, app: ASGIApp, token: str, render_login: object,
                 sessions: Sessions | None = None, throttle: LoginThrottle | None = None) -> None:
        self.app = app
        self.token = token.encode()
        self.render_login = render_login
        self.sessions = sessions or Sessions()
        self.throttle = throttle or LoginThrottle()

    def authorised(self, conn: HTTPConnection) -> bool:
        if bearer_matches(conn.headers.get("authorization"), self.token):
            return True
        return self.sessions.valid(conn.cookies.get(COOKIE, ""))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            if self.authorised(HTTPConnection(scope)):
                await self.app(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": WS_UNAUTHORISED})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if scope["path"] == "/login":
            response = await self._login(request)
        elif scope["path"] == "/logout":
            response = self._logout(request)
        elif self.authorised(request):
            await self.app(scope, receive, send)
            return
        elif scope["path"].startswith(("/api/", "/metrics")) or "text/html" not in \
                request.headers.get("accept", ""):
            response = JSONResponse(
                {"error": "this server needs its token: send 'Authorization: Bearer TOKEN'",
                 "status": 401},
                status_code=401, headers={"WWW-Authenticate": 'Bearer realm="perflab"'},
            )
        else:
            target = scope["path"] + ("?" + scope["query_string"].decode()
                                      if scope.get("query_string") else "")
            response = RedirectResponse("/login?next=" + quote(target, safe=""), status_code=303)
        await response(scope, receive, send)

    async def _login(self, request: Request) -> Response:
        render = self.render_login
        assert callable(render)
        if request.method == "GET":
            nxt = _safe_next(request.query_params.get("next", "/"))
            return HTMLResponse(render(nxt, None))
        if request.method != "POST":
            return Response(status_code=405, headers={"Allow": "GET, POST"})
        client = request.client.host if request.client else "?"
        wait = self.throttle.wait_s(client)
        if wait > 0:
            seconds = math.ceil(wait)
            return HTMLResponse(render("/", f"Too many wrong tokens: try again in {seconds} s."),
                                status_code=429, headers={"Retry-After": str(seconds)})
        try:
            body = await read_body(request, _MAX_FORM)
        except PayloadTooLarge:
            return Response("form too large", status_code=413)
        form = parse_qs(body.decode("utf-8", "replace"))
        given = (form.get("token") or [""])[0]
        nxt = _safe_next((form.get("next") or ["/"])[0])
        if not hmac.compare_digest(given.encode(), self.token):
            self.throttle.failed(client)
            return HTMLResponse(render(nxt, "That token is not right."), status_code=401)
        self.throttle.succeeded(client)
        response = RedirectResponse(nxt, status_code=303)
        response.set_cookie(COOKIE, self.sessions.new(), httponly=True, samesite="strict",
                            secure=request.url.scheme == "https",
                            max_age=int(self.sessions.lifetime_s))
        return response

    def _logout(self, request: Request) -> Response:
        if request.method not in ("GET", "POST"):
            return Response(status_code=405, headers={"Allow": "GET, POST"})
        self.sessions.revoke(request.cookies.get(COOKIE, ""))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, httponly=True, samesite="strict")
        return response
