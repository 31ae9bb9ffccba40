"""The Toxiproxy API as Toxiproxy's own api_test.go and its Python client expect it: fields,
defaults, status codes and error bodies; plus perflab's loopback rule and ``duration``."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import requests
import toxiproxy
from tests._schemas import validate
from tests.conftest import wait_for
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from perflab.chaos import TOXIPROXY_VERSION, ChaosServer


def url(server: ChaosServer, path: str) -> str:
    return f"http://127.0.0.1:{server.port}{path}"


def make_proxy(server: ChaosServer, upstream: str, name: str = "p") -> dict[str, Any]:
    r = requests.post(url(server, "/proxies"), json={"name": name, "upstream": upstream},
                      timeout=10)
    assert r.status_code == 201, r.text
    doc: dict[str, Any] = r.json()
    return doc


def test_create_list_show_and_delete_a_proxy_with_the_client(
        client: toxiproxy.Toxiproxy, echo: str) -> None:
    """The client's create answers the proxy with its bound listen address and no toxics."""
    proxy = client.create(upstream=echo, name="redis")
    host, _, port = proxy.listen.rpartition(":")
    assert host == "127.0.0.1"
    assert int(port) > 0
    assert proxy.enabled is True
    assert proxy.upstream == echo
    assert set(client.proxies()) == {"redis"}
    assert client.get_proxy("redis").listen == proxy.listen
    assert proxy.destroy() is True
    assert client.proxies() == {}


def test_proxy_json_fields_and_create_status(chaos_server: ChaosServer, echo: str) -> None:
    r = requests.post(url(chaos_server, "/proxies"),
                      json={"name": "db", "upstream": echo, "listen": "localhost:0"}, timeout=10)
    assert r.status_code == 201
    doc = r.json()
    assert list(doc) == ["name", "listen", "upstream", "enabled", "toxics"]
    assert doc["listen"].startswith("127.0.0.1:")
    assert doc["toxics"] == []
    validate(doc, "toxiproxy-proxy")
    shown = requests.get(url(chaos_server, "/proxies/db"), timeout=10).json()
    assert shown == doc
    validate(requests.get(url(chaos_server, "/proxies"), timeout=10).json(), "toxiproxy-proxies")


def test_existing_name_is_409_as_toxiproxy(chaos_server: ChaosServer, echo: str) -> None:
    body = {"name": "mysql_master", "upstream": echo, "listen": "127.0.0.1:0"}
    assert requests.post(url(chaos_server, "/proxies"), json=body, timeout=10).status_code == 201
    r = requests.post(url(chaos_server, "/proxies"), json=body, timeout=10)
    assert r.status_code == 409
    assert r.json() == {"error": "proxy already exists", "status": 409}
    validate(r.json(), "toxiproxy-error")


def test_existing_name_through_the_client(client: toxiproxy.Toxiproxy, echo: str) -> None:
    client.create(upstream=echo, name="a")
    with pytest.raises(ProxyExists):
        client.create(upstream=echo, name="a")


def test_port_in_use_is_500_with_go_words_and_nothing_created(
        chaos_server: ChaosServer, echo: str) -> None:
    """api_test.go: 'listen tcp 127.0.0.1:3310: bind: address already in use' (HTTP 500)."""
    first = make_proxy(chaos_server, echo, "one")
    r = requests.post(url(chaos_server, "/proxies"),
                      json={"name": "two", "upstream": echo, "listen": first["listen"]},
                      timeout=10)
    assert r.status_code == 500
    assert r.json()["error"] == f"listen tcp {first['listen']}: bind: address already in use"
    assert set(requests.get(url(chaos_server, "/proxies"), timeout=10).json()) == {"one"}


@pytest.mark.parametrize(("body", "message"), [
    ({"upstream": "127.0.0.1:1"}, "missing required field: name"),
    ({"name": "x"}, "missing required field: upstream"),
])
def test_missing_fields_are_400(chaos_server: ChaosServer, body: dict[str, str],
                                message: str) -> None:
    r = requests.post(url(chaos_server, "/proxies"), json=body, timeout=10)
    assert (r.status_code, r.json()) == (400, {"error": message, "status": 400})


def test_bad_json_is_bad_request_body(chaos_server: ChaosServer) -> None:
    r = requests.post(url(chaos_server, "/proxies"), data=b"{nope", timeout=10)
    assert r.status_code == 400
    assert r.json()["error"].startswith("bad request body: ")


@pytest.mark.parametrize("body", [
    {"name": "out", "upstream": "192.0.2.1:80"},
    {"name": "out", "upstream": "127.0.0.1:80", "listen": "0.0.0.0:0"},
    {"name": "out", "upstream": "127.0.0.1:80", "listen": "192.0.2.1:0"},
])
def test_fault_traffic_stays_on_loopback(chaos_server: ChaosServer, body: dict[str, str]) -> None:
    """Listen and upstream addresses off loopback are refused, in Toxiproxy's error shape
    with perflab's hint, and nothing is created."""
    r = requests.post(url(chaos_server, "/proxies"), json=body, timeout=10)
    assert r.status_code == 400
    doc = r.json()
    assert doc["status"] == 400
    assert "loopback" in doc["error"]
    assert "127.0.0.1" in doc["hint"]
    assert requests.get(url(chaos_server, "/proxies"), timeout=10).json() == {}


def test_toxic_defaults_and_fields(chaos_server: ChaosServer, echo: str) -> None:
    """Toxiproxy's defaults: downstream, toxicity 1, name TYPE_STREAM, attributes 0; 200."""
    make_proxy(chaos_server, echo)
    r = requests.post(url(chaos_server, "/proxies/p/toxics"), json={"type": "latency"},
                      timeout=10)
    assert r.status_code == 200
    assert r.json() == {"attributes": {"latency": 0, "jitter": 0}, "name": "latency_downstream",
                        "type": "latency", "stream": "downstream", "toxicity": 1.0}
    validate(r.json(), "toxiproxy-toxic")
    validate(requests.get(url(chaos_server, "/proxies/p/toxics"), timeout=10).json(),
             "toxiproxy-toxics")
    assert requests.get(url(chaos_server, "/proxies/p/toxics/latency_downstream"),
                        timeout=10).json() == r.json()
    assert requests.get(url(chaos_server, "/proxies/p"), timeout=10).json()["toxics"] == [
        r.json()]


def test_toxic_errors(chaos_server: ChaosServer, echo: str) -> None:
    make_proxy(chaos_server, echo)
    toxics = url(chaos_server, "/proxies/p/toxics")

    def post(body: dict[str, Any]) -> tuple[int, dict[str, object]]:
        r = requests.post(toxics, json=body, timeout=10)
        return r.status_code, r.json()

    status, doc = post({"type": "jam"})
    assert (status, doc["error"]) == (400, "invalid toxic type")
    assert "latency" in str(doc["hint"])
    assert post({"type": "latency", "stream": "sideways"}) == (400, {
        "error": "stream was invalid, can be either upstream or downstream", "status": 400})
    assert post({"type": "latency", "name": "foobar"})[0] == 200
    assert post({"type": "slow_close", "name": "foobar"}) == (409, {
        "error": "toxic already exists", "status": 409})
    status, doc = post({"type": "latency", "attributes": {"latncy": 5}})
    assert status == 400
    assert "unknown attribute 'latncy'" in str(doc["error"])
    status, doc = post({"type": "latency", "name": "l2", "attributes": {"latency": "5"}})
    assert status == 400
    assert str(doc["error"]).startswith("bad request body: ")
    r = requests.get(url(chaos_server, "/proxies/p/toxics/nope"), timeout=10)
    assert (r.status_code, r.json()) == (404, {"error": "toxic not found", "status": 404})
    r = requests.delete(url(chaos_server, "/proxies/p/toxics/nope"), timeout=10)
    assert r.status_code == 404
    r = requests.get(url(chaos_server, "/proxies/none/toxics"), timeout=10)
    assert (r.status_code, r.json()) == (404, {"error": "proxy not found", "status": 404})


def test_invalid_toxic_and_not_found_through_the_client(client: toxiproxy.Toxiproxy,
                                                        echo: str) -> None:
    proxy = client.create(upstream=echo, name="p")
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="jam")
    with pytest.raises(NotFound):
        proxy.destroy_toxic("nothing")


def test_update_toxic_merges_attributes(chaos_server: ChaosServer, echo: str) -> None:
    """api_test.go's TestUpdateToxics: a PATCH keeps the attributes it does not name."""
    make_proxy(chaos_server, echo)
    requests.post(url(chaos_server, "/proxies/p/toxics"),
                  json={"type": "latency", "toxicity": 0.5,
                        "attributes": {"latency": 100, "jitter": 10}}, timeout=10)
    r = requests.patch(url(chaos_server, "/proxies/p/toxics/latency_downstream"),
                       json={"attributes": {"latency": 500}}, timeout=10)
    assert r.status_code == 200
    assert r.json()["attributes"] == {"latency": 500, "jitter": 10}
    assert r.json()["toxicity"] == 0.5
    r = requests.post(url(chaos_server, "/proxies/p/toxics/nope"), json={}, timeout=10)
    assert r.status_code == 404


def test_disable_enable_and_reset(client: toxiproxy.Toxiproxy, chaos_server: ChaosServer,
                                  echo: str) -> None:
    proxy = client.create(upstream=echo, name="p")
    host, _, port = proxy.listen.rpartition(":")
    proxy.add_toxic(type="latency", attributes={"latency": 10})
    proxy.disable()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=5).close()
    assert client.get_proxy("p").enabled is False
    assert client.reset() is True  # re-enables every proxy and removes every toxic
    assert client.get_proxy("p").enabled is True
    assert client.get_proxy("p").toxics() == {}
    socket.create_connection((host, int(port)), timeout=5).close()
    r = requests.post(url(chaos_server, "/reset"), timeout=10)
    assert r.status_code == 204


def test_update_proxy_moves_it(chaos_server: ChaosServer, echo: str) -> None:
    make_proxy(chaos_server, echo)
    r = requests.patch(url(chaos_server, "/proxies/p"), json={"listen": "127.0.0.1:0"},
                       timeout=10)
    assert r.status_code == 200
    assert r.json()["enabled"] is True
    r = requests.patch(url(chaos_server, "/proxies/p"), json={"upstream": "192.0.2.1:1"},
                       timeout=10)
    assert r.status_code == 400
    assert requests.get(url(chaos_server, "/proxies/p"), timeout=10).json()["upstream"] == echo
    assert requests.delete(url(chaos_server, "/proxies/p"), timeout=10).status_code == 204
    assert requests.delete(url(chaos_server, "/proxies/p"), timeout=10).status_code == 404


def test_populate(chaos_server: ChaosServer, echo: str) -> None:
    """201 with the proxies; the same list again changes nothing; a bad one is 400 with
    ``proxies: null`` and nothing created (Toxiproxy checks every entry first)."""
    body: list[dict[str, Any]] = [{"name": "a", "upstream": echo},
                                  {"name": "b", "upstream": echo, "enabled": False}]
    r = requests.post(url(chaos_server, "/populate"), json=body, timeout=10)
    assert r.status_code == 201
    proxies = r.json()["proxies"]
    assert [(p["name"], p["enabled"]) for p in proxies] == [("a", True), ("b", False)]
    validate(r.json(), "toxiproxy-populate")
    again = requests.post(url(chaos_server, "/populate"),
                          json=[{"name": "a", "upstream": echo, "listen": proxies[0]["listen"]}],
                          timeout=10)
    assert again.json()["proxies"][0]["listen"] == proxies[0]["listen"]
    r = requests.post(url(chaos_server, "/populate"),
                      json=[{"name": "c", "upstream": echo}, {"upstream": echo}], timeout=10)
    assert r.status_code == 400
    assert r.json() == {"error": "missing required field: name at proxy 2", "status": 400,
                        "proxies": None}
    validate(r.json(), "toxiproxy-populate")
    assert "c" not in requests.get(url(chaos_server, "/proxies"), timeout=10).json()


def test_version_and_browser_guard(chaos_server: ChaosServer) -> None:
    r = requests.get(url(chaos_server, "/version"), timeout=10)
    assert r.json()["version"] == TOXIPROXY_VERSION
    validate(r.json(), "toxiproxy-version")
    r = requests.get(url(chaos_server, "/proxies"), timeout=10,
                     headers={"User-Agent": "Mozilla/5.0"})
    assert (r.status_code, r.text) == (403, "User agent not allowed\n")


def test_other_host_names_get_421(chaos_server: ChaosServer) -> None:
    """DNS rebinding: a page on evil.example cannot drive the API through the browser."""
    r = requests.get(url(chaos_server, "/proxies"), timeout=10,
                     headers={"Host": "evil.example"})
    assert r.status_code == 421


def test_a_toxic_with_a_duration_removes_itself(chaos_server: ChaosServer, echo: str) -> None:
    make_proxy(chaos_server, echo)
    r = requests.post(url(chaos_server, "/proxies/p/toxics"),
                      json={"type": "latency", "duration": "300ms",
                            "attributes": {"latency": 50}}, timeout=10)
    assert r.json()["duration"] == "300ms"
    validate(r.json(), "toxiproxy-toxic")
    wait_for(lambda: requests.get(url(chaos_server, "/proxies/p/toxics"), timeout=10).json()
             == [], what="the toxic to remove itself")
    r = requests.post(url(chaos_server, "/proxies/p/toxics"),
                      json={"type": "latency", "duration": "soon"}, timeout=10)
    assert r.status_code == 400


def test_metrics_count_bytes_per_direction(chaos_server: ChaosServer, echo: str) -> None:
    from tests.unit.chaos.conftest import connect, recv_exactly  # noqa: PLC0415

    proxy = make_proxy(chaos_server, echo)
    with connect(proxy["listen"]) as sock:
        sock.sendall(b"x" * 1000)
        assert recv_exactly(sock, 1000) == b"x" * 1000
    text = requests.get(url(chaos_server, "/metrics"), timeout=10).text
    labels = f'listener="{proxy["listen"]}",proxy="p",upstream="{echo}"'
    assert f'toxiproxy_proxy_sent_bytes_total{{direction="downstream",{labels}}} 1000' in text
    assert f'toxiproxy_proxy_received_bytes_total{{direction="upstream",{labels}}} 1000' in text


def test_with_a_token_every_request_carries_it() -> None:
    """An API off loopback needs a token (the CLI insists); then requests without it get 401."""
    from perflab.chaos import running_server  # noqa: PLC0415
    from perflab.serving import listening_socket  # noqa: PLC0415

    sock = listening_socket("127.0.0.1", 0)
    with running_server(sock, token="s3cret") as server:
        r = requests.get(url(server, "/proxies"), timeout=10)
        assert r.status_code == 401
        validate(r.json(), "toxiproxy-error")
        r = requests.get(url(server, "/proxies"), timeout=10,
                         headers={"Authorization": "Bearer s3cret"})
        assert (r.status_code, r.json()) == (200, {})
    sock.close()
