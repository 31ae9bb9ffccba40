"""perflab's http_error toxic: HTTP/1.1 requests through the proxy answered with a status by
route, by share or for the first N, the others (and their bodies) passed on unchanged."""

from __future__ import annotations

import time

import requests

from perflab.chaos import ChaosServer


def proxy_with(server: ChaosServer, upstream: str, attributes: dict[str, int | str],
               stream: str = "upstream", kind: str = "http_error"
               ) -> tuple[str, requests.Response]:
    api = f"http://127.0.0.1:{server.port}"
    listen = requests.post(f"{api}/proxies", json={"name": "web", "upstream": upstream},
                           timeout=10).json()["listen"]
    r = requests.post(f"{api}/proxies/web/toxics", json={
        "type": kind, "stream": stream, "attributes": attributes}, timeout=10)
    return f"http://{listen}", r


def test_first_n_requests_on_a_route_fail(chaos_server: ChaosServer, web: str) -> None:
    base, r = proxy_with(chaos_server, web, {"first": 2, "path_prefix": "/api",
                                             "status": 502})
    assert r.status_code == 200
    assert r.json()["attributes"] == {"status": 502, "percent": 100, "first": 2,
                                      "path_prefix": "/api"}
    with requests.Session() as s:
        assert s.get(f"{base}/other", timeout=10).status_code == 200
        codes = [s.get(f"{base}/api/x", timeout=10).status_code for _ in range(4)]
        assert codes == [502, 502, 200, 200]
        assert s.get(f"{base}/other", timeout=10).text == "/other 0"


def test_bodies_pass_and_the_next_request_is_followed(chaos_server: ChaosServer,
                                                      web: str) -> None:
    base, _ = proxy_with(chaos_server, web, {"path_prefix": "/fail", "status": 500})
    with requests.Session() as s:
        r = s.post(f"{base}/ok", data=b"x" * 100_000, timeout=10)
        assert (r.status_code, r.text) == (200, "/ok 100000")
        r = s.get(f"{base}/fail", timeout=10)
        assert r.status_code == 500
        assert "injected by perflab chaos" in r.text
        assert s.get(f"{base}/ok", timeout=10).status_code == 200


def test_percent_zero_lets_everything_through(chaos_server: ChaosServer, web: str) -> None:
    base, _ = proxy_with(chaos_server, web, {"percent": 0})
    assert all(requests.get(f"{base}/", timeout=10).status_code == 200 for _ in range(5))


def test_http_error_is_an_upstream_toxic(chaos_server: ChaosServer, web: str) -> None:
    _, r = proxy_with(chaos_server, web, {}, stream="downstream")
    assert r.status_code == 400
    assert "upstream" in r.json()["error"]
    r = requests.post(f"http://127.0.0.1:{chaos_server.port}/proxies/web/toxics", json={
        "type": "http_error", "stream": "upstream", "attributes": {"path_prefix": 5}},
        timeout=10)
    assert r.status_code == 400
    assert "must be a string" in r.json()["error"]



def test_http_latency_holds_only_the_route(chaos_server: ChaosServer, web: str) -> None:
    """Requests under path_prefix wait the latency; the others, and bodies, pass. The wait is
    checked as "at least", never as an upper bound (no timed assertion of speed)."""
    base, r = proxy_with(chaos_server, web, {"latency": 300, "path_prefix": "/slow"},
                         kind="http_latency")
    assert r.status_code == 200, r.text
    assert r.json()["attributes"] == {"latency": 300, "jitter": 0, "percent": 100,
                                      "path_prefix": "/slow"}
    with requests.Session() as s:
        start = time.monotonic()
        assert s.get(f"{base}/slow/x", timeout=10).text == "/slow/x 0"
        assert time.monotonic() - start >= 0.3
        assert s.get(f"{base}/fast", timeout=10).text == "/fast 0"
        assert s.post(f"{base}/slow/y", data=b"abc", timeout=10).text == "/slow/y 3"


def test_http_latency_is_upstream_only(chaos_server: ChaosServer, web: str) -> None:
    _, r = proxy_with(chaos_server, web, {"latency": 1}, stream="downstream",
                    kind="http_latency")
    assert r.status_code == 400
    assert "http_latency toxic acts on requests" in r.json()["error"]
