"""perflab's providers (``perflab.chaos.providers``, ``type: perflab``), secrets by scope, the
http provider's answers and failures, and configuration read from the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from perflab.chaos import (
    ChaosServer,
    ExperimentContext,
    providers,
    resolve_configuration,
    resolve_secrets,
)
from perflab.chaos._activities import execute_activity
from perflab.errors import UsageError

MOD = "tests.unit.chaos._experiments"


def _run(provider: dict[str, Any], ctx: ExperimentContext | None = None) -> dict[str, Any]:
    return execute_activity({"type": "action", "name": "a", "provider": provider},
                            ctx or ExperimentContext({}, {}))


@pytest.fixture
def api(chaos_server: ChaosServer, web: str) -> str:
    api = f"http://127.0.0.1:{chaos_server.port}"
    requests.post(f"{api}/proxies", json={"name": "web", "upstream": web}, timeout=10)
    return api


def test_perflab_inject_adds_a_toxic_and_remove_takes_it_off(api: str) -> None:
    run = _run({"type": "perflab", "func": "inject", "arguments": {
        "kind": "latency", "proxy": "web", "api": api, "latency": 100, "duration": "1m"}})
    assert run["status"] == "succeeded"
    assert run["output"]["attributes"] == {"latency": 100, "jitter": 0}
    assert run["output"]["duration"] == "1m"
    gone = _run({"type": "perflab", "func": "remove_toxic", "arguments": {
        "proxy": "web", "name": "latency_downstream", "api": api}})
    assert gone["status"] == "succeeded"
    assert requests.get(f"{api}/proxies/web/toxics", timeout=10).json() == []


def test_the_api_error_is_the_activity_failure(api: str) -> None:
    run = _run({"type": "perflab", "func": "add_toxic", "arguments": {
        "proxy": "nope", "type": "latency", "api": api}})
    assert run["status"] == "failed"
    assert "404" in "".join(run["exception"])
    down = _run({"type": "perflab", "func": "add_toxic", "arguments": {
        "proxy": "web", "type": "latency", "api": "http://127.0.0.1:1"}})
    assert "is `perflab chaos proxy` running?" in "".join(down["exception"])


def test_unknown_fault_and_provider_fail_with_the_known_ones() -> None:
    run = _run({"type": "perflab", "func": "inject", "arguments": {"kind": "cpu_hog"}})
    assert "no fault 'cpu_hog'" in "".join(run["exception"])
    run = _run({"type": "perflab", "func": "nope"})
    assert ("known: add_toxic, incident, inject, load_test, profile, promql, remove_toxic"
            in "".join(run["exception"]))
    run = _run({"type": "perflab", "func": "inject", "arguments": {"kind": "latency"}})
    assert "needs proxy" in "".join(run["exception"])


def test_a_registered_injector_gets_kind_and_params(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(providers, "_INJECTORS", {})  # registered for this test only
    seen: list[tuple[str, dict[str, Any]]] = []

    def injector(kind: str, params: Any) -> str:
        seen.append((kind, dict(params)))
        return "injected"

    providers.register_injector(("test_fault",), injector)
    run = _run({"type": "perflab", "func": "inject",
                "arguments": {"kind": "test_fault", "pid": 7}})
    assert run["output"] == "injected"
    assert seen == [("test_fault", {"pid": 7})]


def test_secrets_go_by_scope_and_configuration_is_passed() -> None:
    ctx = ExperimentContext({"c": 1}, {"db": {"password": "pw"}, "other": {"x": 1}})
    run = _run({"type": "python", "module": MOD, "func": "echo", "secrets": ["db"],
                "arguments": {"value": "${password}"}}, ctx)
    assert run["output"] == "pw"


def test_unloadable_python_provider_fails_the_activity() -> None:
    run = _run({"type": "python", "module": "no.such.module", "func": "f"})
    assert run["status"] == "failed"
    assert "cannot load no.such.module.f" in "".join(run["exception"])


def test_http_provider_answers_status_headers_body(api: str, web: str) -> None:
    del api
    run = _run({"type": "http", "url": f"http://{web}/x", "method": "POST",
                "headers": {"Content-Type": "application/json"},
                "arguments": {"a": 1}})
    assert run["output"]["status"] == 200
    assert run["output"]["body"] == "/x 8"  # the JSON body {"a": 1} reached the service
    get = _run({"type": "http", "url": f"http://{web}/q", "arguments": {"k": "v"}})
    assert get["output"]["body"] == "/q?k=v 0"
    down = _run({"type": "http", "url": "http://127.0.0.1:1/"})
    assert down["status"] == "failed"
    assert "failed to connect" in "".join(down["exception"])


def test_process_provider_timeout_and_missing_program() -> None:
    slow = _run({"type": "process", "path": "sleep", "arguments": "5", "timeout": 0.2})
    assert "took too long" in "".join(slow["exception"])
    missing = _run({"type": "process", "path": "no-such-program-here"})
    assert "no program" in "".join(missing["exception"])


def test_configuration_and_secrets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERFLAB_TEST_URL", "http://x")
    exp = {"configuration": {"url": {"type": "env", "key": "PERFLAB_TEST_URL"},
                             "port": {"type": "env", "key": "PERFLAB_TEST_NONE",
                                      "default": 80}},
           "secrets": {"db": {"pw": {"type": "env", "key": "PERFLAB_TEST_URL"}}}}
    assert resolve_configuration(exp, {"port": 81}) == {"url": "http://x", "port": 81}
    assert resolve_secrets(exp, {"db": {"user": "u"}}) == {"db": {"pw": "http://x",
                                                                  "user": "u"}}
    with pytest.raises(UsageError, match="PERFLAB_TEST_NONE is not set"):
        resolve_configuration({"configuration": {"x": {"type": "env",
                                                       "key": "PERFLAB_TEST_NONE"}}}, {})


def test_promql_probe_over_the_store(tmp_path: Path) -> None:
    """A scalar answers a number, a vector of one series its value, a bad query fails."""
    from perflab.store import Store  # noqa: PLC0415

    path = str(tmp_path / "s.db")
    Store.open(path).close()
    run = _run({"type": "perflab", "func": "promql",
                "arguments": {"query": "1 + 2", "store": path}})
    assert run["output"] == 3.0
    run = _run({"type": "perflab", "func": "promql",
                "arguments": {"query": "vector(4)", "store": path}})
    assert run["output"] == 4.0
    run = _run({"type": "perflab", "func": "promql",
                "arguments": {"query": "up{", "store": path}})
    assert run["status"] == "failed"


def test_perflab_inject_of_a_process_fault_holds_it_and_rolls_it_back(tmp_path: Path) -> None:
    """``inject`` hands kinds that are not toxics to ``perflab chaos inject``'s engine: the
    target is stopped for the fault's duration and continued before the action returns."""
    import subprocess  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from tests._faults import process_state  # noqa: PLC0415
    from tests.conftest import wait_for  # noqa: PLC0415

    target = subprocess.Popen(["sleep", "600"])
    try:
        done: list[dict[str, Any]] = []
        action = threading.Thread(target=lambda: done.append(_run(
            {"type": "perflab", "func": "inject", "arguments": {
                "kind": "stop", "pid": target.pid, "duration": "2s",
                "store": str(tmp_path / "s.db")}})))
        action.start()
        wait_for(lambda: process_state(target.pid) == "T", timeout_s=30, what="the stop")
        action.join(timeout=60)
        assert done[0]["status"] == "succeeded", done[0].get("exception")
        assert done[0]["output"]["kind"] == "stop"
        assert process_state(target.pid) != "T"
    finally:
        target.kill()
        target.wait()
