"""The hub's doors: the Host rule (DNS rebinding), the token on websockets, revocable sessions,
throttled logins, --token-file and --allowed-host."""

from __future__ import annotations

import pytest
from _webclient import client_class, hub_client

from perflab.cli import main
from perflab.web import AppConfig, create_app
from perflab.web._auth import COOKIE, WS_UNAUTHORISED, LoginThrottle, Sessions, TokenAuth


def test_a_rebound_name_gets_421_not_the_runs(hub):
    """curl -H 'Host: evil.example' http://127.0.0.1:PORT/api/runs answered 200 before."""
    with hub_client(hub.path) as c:
        assert c.get("/api/runs").status_code == 200
        for url in ("/api/runs", "/", "/runs", "/metrics", "/static/app.css", "/login"):
            r = c.get(url, headers={"Host": "evil.example"})
            assert r.status_code == 421, url
            assert r.json()["status"] == 421
        assert c.get("/api/runs", headers={"Host": "localhost:8600"}).status_code == 200


def test_allowed_hosts_and_the_listen_name_are_served(hub):
    with hub_client(hub.path, listen_host="perflab.lan", allowed_hosts=("hub.example.com",)) as c:
        assert c.get("/api/runs", headers={"Host": "perflab.lan:8600"}).status_code == 200
        assert c.get("/api/runs", headers={"Host": "hub.example.com"}).status_code == 200
        assert c.get("/api/runs", headers={"Host": "evil.example"}).status_code == 421


def test_the_host_rule_holds_with_a_token_too(hub):
    with hub_client(hub.path, token="s3cret") as c:
        r = c.get("/api/runs", headers={"Host": "evil.example", "Authorization": "Bearer s3cret"})
        assert r.status_code == 421


def test_serve_refuses_a_malformed_allowed_host_and_an_empty_token_file(store_path, tmp_path,
                                                                         capsys):
    assert main(["serve", "--store", str(store_path), "--no-record",
                 "--allowed-host", "http://x.example/"]) == 2
    assert "invalid --allowed-host" in capsys.readouterr().err
    empty = tmp_path / "token"
    empty.write_text("")
    assert main(["serve", "--store", str(store_path), "--no-record", "--listen", "0.0.0.0:0",
                 "--token-file", str(empty)]) == 2
    assert "is empty" in capsys.readouterr().err


def test_a_token_file_stands_for_the_token_off_loopback(store_path, tmp_path, capsys,
                                                        monkeypatch):
    """Off loopback, a token is required; --token-file gives it (checked before binding: an
    address that is not ours fails later, at bind, not at the token check)."""
    monkeypatch.delenv("PERFLAB_TOKEN", raising=False)
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    code = main(["serve", "--store", str(store_path), "--no-record", "--listen",
                 "192.0.2.1:8650", "--token-file", str(token)])
    err = capsys.readouterr().err
    assert "without a token" not in err
    assert code == 3  # TEST-NET address: cannot listen there, but the token check passed
    assert main(["serve", "--store", str(store_path), "--no-record", "--listen",
                 "192.0.2.1:8650"]) == 2
    assert "without a token" in capsys.readouterr().err


# -- sessions and logins --------------------------------------------------------------------


def test_logout_revokes_the_session_and_a_restart_revokes_them_all(hub):
    config = AppConfig(store_path=hub.path, record=False, token="s3cret")
    with client_class()(create_app(config)) as c:
        c.post("/login", data={"token": "s3cret"}, follow_redirects=False)
        cookie = c.cookies.get(COOKIE)
        assert c.get("/api/runs").status_code == 200
        other = c.post("/login", data={"token": "s3cret"}, follow_redirects=False)
        second = other.cookies.get(COOKIE)
        assert second != cookie  # random per login, not a function of the token
        c.get("/logout", follow_redirects=False)  # with the second session's cookie
        c.cookies.clear()
        assert c.get("/api/runs", headers={"Cookie": f"{COOKIE}={second}"}).status_code == 401
        assert c.get("/api/runs", headers={"Cookie": f"{COOKIE}={cookie}"}).status_code == 200
    with client_class()(create_app(config)) as c:  # a restart (or a new token)
        assert c.get("/api/runs", headers={"Cookie": f"{COOKIE}={cookie}"}).status_code == 401


def test_a_signed_in_page_offers_its_logout_and_it_works(hub):
    config = AppConfig(store_path=hub.path, record=False, token="s3cret")
    with client_class()(create_app(config)) as c:
        assert 'action="/logout"' not in c.get("/runs", headers={
            "Authorization": "Bearer s3cret"}).text  # no session, nothing to end
        c.post("/login", data={"token": "s3cret"}, follow_redirects=False)
        page = c.get("/runs").text
        assert '<form method="post" action="/logout"' in page
        out = c.post("/logout", follow_redirects=False)
        assert (out.status_code, out.headers["location"]) == (303, "/login")
        assert c.get("/api/runs").status_code == 401


def test_a_name_the_store_refuses_is_a_400_not_a_500(hub):
    with hub_client(hub.path) as c:
        for url in ("/api/runs?name=" + "x" * 60_000, "/runs?name=" + "x" * 60_000):
            assert c.get(url).status_code == 400, url


def test_sessions_expire():
    now = [0.0]
    sessions = Sessions(60, clock=lambda: now[0])
    sid = sessions.new()
    assert sessions.valid(sid)
    now[0] = 59.9
    assert sessions.valid(sid)
    now[0] = 60.0
    assert not sessions.valid(sid)
    assert not sessions.valid("")


def _guarded(throttle: LoginThrottle | None = None):
    from starlette.applications import Starlette  # noqa: PLC0415
    from starlette.responses import PlainTextResponse  # noqa: PLC0415
    from starlette.routing import Route, WebSocketRoute  # noqa: PLC0415

    async def hello(request):
        return PlainTextResponse("hello")

    async def ws_hello(ws):
        await ws.accept()
        await ws.send_text("hello")
        await ws.close()

    inner = Starlette(routes=[Route("/", hello), WebSocketRoute("/ws", ws_hello)])
    return TokenAuth(inner, "s3cret", lambda nxt, err: f"login {nxt} {err}", throttle=throttle)


def test_failed_logins_back_off_exponentially_per_client():
    now = [1000.0]
    throttle = LoginThrottle(free=3, clock=lambda: now[0])
    with client_class()(_guarded(throttle)) as c:
        codes = [c.post("/login", data={"token": "guess"}).status_code for _ in range(3)]
        assert codes == [401, 401, 401]
        r = c.post("/login", data={"token": "s3cret"})  # even the right one waits
        assert r.status_code == 429
        assert r.headers["retry-after"] == "1"
        now[0] += 1
        assert c.post("/login", data={"token": "guess"}).status_code == 401
        r = c.post("/login", data={"token": "guess"})
        assert (r.status_code, r.headers["retry-after"]) == (429, "2")
        now[0] += 2
        assert c.post("/login", data={"token": "s3cret"}, follow_redirects=False
                      ).status_code == 303
        assert throttle.wait_s("testclient") == 0  # a success clears the count


def test_websockets_need_the_token_before_they_are_accepted():
    from starlette.websockets import WebSocketDisconnect  # noqa: PLC0415

    with client_class()(_guarded()) as c:
        with pytest.raises(WebSocketDisconnect) as closed, c.websocket_connect("/ws"):
            pass
        assert closed.value.code == WS_UNAUTHORISED
        with c.websocket_connect("/ws", headers={"Authorization": "Bearer s3cret"}) as ws:
            assert ws.receive_text() == "hello"
