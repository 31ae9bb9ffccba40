"""Access token for a hub bound beyond loopback: a bearer header, or a cookie from /login.

The cookie holds an HMAC of the token, not the token; both comparisons are constant-time
(``hmac.compare_digest``). Without a token configured, this middleware is not installed.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "perflab_session"
OPEN_PATHS = frozenset({"/login"})
_MAX_FORM = 16 * 1024


def session_value(token: str) -> str:
    return hmac.new(token.encode(), b"perflab-session-v1", hashlib.sha256).hexdigest()


def _safe_next(target: str) -> str:
    """Only local paths: a login must not become an open redirect."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class TokenAuth:
    def __init__(self, app: ASGIApp, token: str, render_login: object) -> None:
        self.app = app
        self.token = token.encode()
        self.session = session_value(token).encode()
        self.render_login = render_login

    def authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), self.token):
            return True
        cookie = request.cookies.get(COOKIE, "")
        return hmac.compare_digest(cookie.encode(), self.session)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if scope["path"] == "/login":
            response = await self._login(request)
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
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > _MAX_FORM:
                return Response("form too large", status_code=413)
        form = parse_qs(body.decode("utf-8", "replace"))
        given = (form.get("token") or [""])[0]
        nxt = _safe_next((form.get("next") or ["/"])[0])
        if not hmac.compare_digest(given.encode(), self.token):
            return HTMLResponse(render(nxt, "That token is not right."), status_code=401)
        response = RedirectResponse(nxt, status_code=303)
        response.set_cookie(COOKIE, self.session.decode(), httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", max_age=30 * 86400)
        return response
