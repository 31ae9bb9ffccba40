"""``perflab chaos run``: a Chaos Toolkit experiment against a loopback service behind the fault
proxy, its journal compared field by field with chaostoolkit-lib's for the same experiment, and
the run's strategies, dry modes, variables and exit codes."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from tests._schemas import validate
from tests.unit.chaos import _experiments

from perflab.chaos import (
    ChaosServer,
    ExperimentContext,
    ExperimentOptions,
    experiment_exit_code,
    run_experiment,
)
from perflab.cli import main

MOD = "tests.unit.chaos._experiments"


def _proxy(server: ChaosServer, upstream: str) -> tuple[str, str]:
    api = f"http://127.0.0.1:{server.port}"
    listen = requests.post(f"{api}/proxies", json={"name": "web", "upstream": upstream},
                           timeout=10).json()["listen"]
    return api, f"http://{listen}/health"


def _toxics(api: str) -> list[dict[str, Any]]:
    toxics: list[dict[str, Any]] = requests.get(f"{api}/proxies/web/toxics", timeout=10).json()
    return toxics


def error_experiment(api: str, url: str) -> dict[str, Any]:
    """The service answers 200; the method adds an error toxic through the Toxiproxy API (a
    python provider, so chaostoolkit-lib runs it too); the rollback removes it."""
    return {
        "title": "the service survives a failing downstream",
        "description": "an http_error toxic answers 503 for every request",
        "configuration": {"api": api, "url": url},
        "steady-state-hypothesis": {"title": "the service answers", "probes": [
            {"type": "probe", "name": "health", "tolerance": 200,
             "provider": {"type": "http", "url": "${url}", "timeout": 5}}]},
        "method": [{"type": "action", "name": "errors",
                    "provider": {"type": "python", "module": "perflab.chaos.providers",
                                 "func": "add_toxic",
                                 "arguments": {"proxy": "web", "type": "http_error",
                                               "stream": "upstream", "api": "${api}",
                                               "attributes": {"status": 503}}}}],
        "rollbacks": [{"type": "action", "name": "heal",
                       "provider": {"type": "python", "module": "perflab.chaos.providers",
                                    "func": "remove_toxic",
                                    "arguments": {"proxy": "web", "name": "http_error_upstream",
                                                  "api": "${api}"}}}],
    }


def _ours(exp: dict[str, Any], **options: Any) -> dict[str, Any]:
    ctx = ExperimentContext(dict(exp.get("configuration", {})), {})
    return run_experiment(copy.deepcopy(exp), ctx, ExperimentOptions(**options))


def _comparable(run: dict[str, Any]) -> dict[str, Any]:
    """A run record without what differs between two runs (times, HTTP headers)."""
    out: dict[str, Any] = {k: run[k] for k in ("activity", "status") if k in run}
    if "tolerance_met" in run:
        out["tolerance_met"] = run["tolerance_met"]
    output = run["output"]
    out["output"] = {k: v for k, v in output.items() if k in ("status", "body", "name",
                                                                 "type", "stream",
                                                                 "attributes")} \
        if isinstance(output, dict) else output
    return out


def _state(state: dict[str, Any] | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {"steady_state_met": state["steady_state_met"],
            "probes": [_comparable(p) for p in state["probes"]]}


def test_journal_matches_chaostoolkit_lib_field_by_field(chaos_server: ChaosServer,
                                                         web: str) -> None:
    """Same experiment, same service: status, deviated, steady states, run and rollbacks
    agree with chaostoolkit-lib's journal; the rollback removed the toxic both times."""
    from chaoslib.run import Runner  # noqa: PLC0415
    from chaoslib.types import Strategy  # noqa: PLC0415

    api, url = _proxy(chaos_server, web)
    exp = error_experiment(api, url)
    ours = _ours(exp)
    assert _toxics(api) == []
    with Runner(Strategy.DEFAULT) as runner:
        theirs = runner.run(copy.deepcopy(exp), settings={})
    assert _toxics(api) == []

    assert (ours["status"], ours["deviated"]) == (theirs["status"], theirs["deviated"]) == (
        "completed", True)
    for when in ("before", "after"):
        assert _state(ours["steady_states"][when]) == _state(theirs["steady_states"][when])
    assert [_comparable(r) for r in ours["run"]] == [_comparable(r) for r in theirs["run"]]
    assert [_comparable(r) for r in ours["rollbacks"]] == [
        _comparable(r) for r in theirs["rollbacks"]]
    assert set(theirs) - set(ours) == {"chaoslib-version"}  # ours says perflab-version
    assert ours["steady_states"]["after"]["probes"][0]["output"]["status"] == 503
    assert experiment_exit_code(ours) == 1


def test_continuous_hypothesis_aborts_the_method_and_runs_rollbacks(
        chaos_server: ChaosServer, web: str) -> None:
    """Checked during the method, the 503s abort it at once: the long pause after the
    fault is cut short, the action after it never runs, the rollback does."""
    api, url = _proxy(chaos_server, web)
    exp = error_experiment(api, url)
    exp["method"][0]["pauses"] = {"after": 120}
    exp["method"].append({"type": "action", "name": "never", "provider": {
        "type": "python", "module": MOD, "func": "record", "arguments": {"label": "never"}}})
    _experiments.CALLS.clear()
    journal = _ours(exp, hypothesis_strategy="continuously", frequency_s=0.05)
    assert journal["status"] == "aborted"
    assert journal["deviated"] is True
    assert journal["steady_states"]["during"][-1]["steady_state_met"] is False
    assert [r["activity"]["name"] for r in journal["run"]] == ["errors"]
    assert [r["activity"]["name"] for r in journal["rollbacks"]] == ["heal"]
    assert _experiments.CALLS == []
    assert _toxics(api) == []
    assert experiment_exit_code(journal) == 1
    validate(json.loads(json.dumps(journal)), "chaos-journal")


def _local(method: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"title": "t", "description": "d", "method": method,
            "rollbacks": [{"type": "action", "name": "undo", "provider": {
                "type": "python", "module": MOD, "func": "record",
                "arguments": {"label": "undo"}}}], **extra}


def _action(func: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "action", "name": func,
            "provider": {"type": "python", "module": MOD, "func": func, "arguments": arguments}}


def test_interrupt_runs_the_rollbacks_then_exits_130() -> None:
    _experiments.CALLS.clear()
    journal = _ours(_local([_action("interrupt"), _action("record", label="after")]))
    assert journal["status"] == "interrupted"
    assert _experiments.CALLS == ["undo"]
    assert experiment_exit_code(journal) == 130


def test_a_failing_provider_is_recorded_and_the_run_goes_on() -> None:
    journal = _ours(_local([_action("boom"), _action("record", label="x")]))
    assert journal["run"][0]["status"] == "failed"
    assert "RuntimeError: the provider broke" in "".join(journal["run"][0]["exception"])
    assert journal["run"][1]["status"] == "succeeded"
    assert journal["status"] == "completed"
    assert experiment_exit_code(journal) == 0


@pytest.mark.parametrize(("strategy", "deviate", "played"), [
    ("default", True, True), ("never", True, False), ("deviated", True, True),
    ("deviated", False, False), ("always", False, True)])
def test_rollback_strategies(strategy: str, deviate: bool, played: bool) -> None:
    """Chaos Toolkit's --rollback-strategy: which runs play the rollbacks."""
    exp = _local([_action("record", label="m")], **{"steady-state-hypothesis": {
        "title": "h", "probes": [{"type": "probe", "name": "p", "tolerance": True,
                                  "provider": {"type": "python", "module": MOD, "func": "echo",
                                               "arguments": {"value": "${ok}"}}}]}})
    ctx = ExperimentContext({"ok": True}, {})

    def fault(run: dict[str, Any]) -> None:  # the method's action breaks the steady state
        if deviate and run["activity"]["type"] == "action":
            ctx.configuration["ok"] = False

    ctx.on_activity = fault
    _experiments.CALLS.clear()
    journal = run_experiment(exp, ctx, ExperimentOptions(rollback_strategy=strategy))
    assert (journal["status"], journal["deviated"]) == ("completed", deviate)
    assert ("undo" in _experiments.CALLS) is played


def test_dry_actions_skip_the_actions_but_not_the_probes() -> None:
    _experiments.CALLS.clear()
    exp = _local([_action("record", label="m")])
    ctx = ExperimentContext({}, {}, dry="actions")
    journal = run_experiment(exp, ctx, ExperimentOptions(dry="actions"))
    assert _experiments.CALLS == []
    assert journal["run"][0]["status"] == "succeeded"
    assert journal["run"][0]["output"] is None


def test_process_provider_and_background_activity() -> None:
    exp = _local([{"type": "action", "name": "bg", "background": True, "provider": {
        "type": "process", "path": "echo", "arguments": ["hello"]}},
        _action("record", label="fg")])
    journal = _ours(exp)
    outputs = {r["activity"]["name"]: r["output"] for r in journal["run"]}
    assert outputs["bg"] == {"status": 0, "stdout": "hello\n", "stderr": ""}
    assert outputs["record"] == "fg"


def _write(tmp_path: Path, exp: dict[str, Any], name: str = "exp.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(exp), encoding="utf-8")
    return path


def test_cli_run_writes_the_journal_and_exits_1_on_deviation(
        chaos_server: ChaosServer, web: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    api, url = _proxy(chaos_server, web)
    path = _write(tmp_path, error_experiment(api, "http://127.0.0.1:1/unused"))
    journal_path = tmp_path / "j.json"
    store_path = tmp_path / "s.db"
    assert main(["chaos", "run", str(path), "--var", f"url={url}", "--store", str(store_path),
                 "--journal-path", str(journal_path)]) == 1
    assert "deviated (run 1," in capsys.readouterr().out
    journal = json.loads(journal_path.read_text())
    validate(journal, "chaos-journal")
    assert journal["deviated"] is True
    assert journal["steady_states"]["before"]["steady_state_met"] is True


def test_cli_var_file_and_typed_var(tmp_path: Path) -> None:
    exp = _local([{"type": "probe", "name": "p", "provider": {
        "type": "python", "module": MOD, "func": "echo", "arguments": {"value": "${n}"}}}],
        **{"steady-state-hypothesis": {"title": "h", "probes": [{
            "type": "probe", "name": "p", "tolerance": {"type": "range", "range": [1, 5]},
            "provider": {"type": "python", "module": MOD, "func": "echo",
                         "arguments": {"value": "${n}"}}}]}})
    path = _write(tmp_path, exp, "exp.yaml")
    var_file = tmp_path / "vars.json"
    var_file.write_text(json.dumps({"configuration": {"n": 3}}))
    journal_path = tmp_path / "j.json"
    store = ["--store", str(tmp_path / "s.db")]
    assert main(["chaos", "run", str(path), "--var-file", str(var_file), *store,
                 "--journal-path", str(journal_path)]) == 0
    assert json.loads(journal_path.read_text())["run"][0]["output"] == 3
    assert main(["chaos", "run", str(path), "--var-file", str(var_file), *store,
                 "--var", "n:int=9", "--journal-path", str(journal_path)]) == 1
    assert json.loads(journal_path.read_text())["steady_states"]["before"][
        "steady_state_met"] is False


def test_load_thresholds_as_the_steady_state_probe(chaos_server: ChaosServer, web: str,
                                                    tmp_path: Path) -> None:
    """perflab's load_test probe: error_rate<1% holds through the proxy, then an error toxic
    (the method) breaks it; the load tests are recorded in the store."""
    api, url = _proxy(chaos_server, web)
    exp = error_experiment(api, url)
    exp["steady-state-hypothesis"]["probes"] = [{
        "type": "probe", "name": "load holds",
        "tolerance": {"type": "jsonpath", "path": "$.thresholds_met", "expect": True},
        "provider": {"type": "perflab", "func": "load_test", "arguments": {
            "url": "${url}", "duration": "1s", "connections": 2,
            "thresholds": ["error_rate<1%"], "store": str(tmp_path / "s.db")}}}]
    journal = _ours(exp)
    before, after = (journal["steady_states"][w]["probes"][0]["output"]
                     for w in ("before", "after"))
    assert before["thresholds_met"] is True
    assert before["requests"] > 0
    assert after["thresholds_met"] is False
    assert after["error_rate"] > 0.5
    assert journal["deviated"] is True
    assert before["run_id"] != after["run_id"]


def test_the_run_on_the_timeline(chaos_server: ChaosServer, web: str, tmp_path: Path) -> None:
    """The journal as a chaos run: a band per activity and hypothesis check, and the toxic's
    fault band from the action that added it to the rollback that removed it."""
    from perflab.chaos import record_journal  # noqa: PLC0415
    from perflab.store import Store  # noqa: PLC0415

    api, url = _proxy(chaos_server, web)
    journal = _ours(error_experiment(api, url))
    store = Store.open(tmp_path / "s.db")
    try:
        run_id = record_journal(store, journal)
        run = store.run(run_id)
        events = {e.kind: e for e in store.events(run_id)}
    finally:
        store.close()
    assert (run.kind, run.name, run.status) == ("chaos", journal["experiment"]["title"],
                                                "deviated")
    assert set(events) == {"chaos.hypothesis", "chaos.action", "chaos.fault"}
    fault = events["chaos.fault"]
    assert fault.text == "http_error toxic http_error_upstream"
    assert fault.end_ns is not None
    add, heal = journal["run"][0], journal["rollbacks"][0]
    assert fault.ts_ns == int(datetime.fromisoformat(add["start"]).timestamp() * 1e9)
    assert fault.end_ns == int(datetime.fromisoformat(heal["start"]).timestamp() * 1e9)


def test_chaos_report_reads_the_bands(chaos_server: ChaosServer, web: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Checked continuously, the error toxic breaks the steady state during the fault (its
    band runs from the action to the rollback that removed it); the report says so, in JSON
    and for people, and an unknown run is exit 2."""
    api, url = _proxy(chaos_server, web)
    exp = error_experiment(api, url)
    path = _write(tmp_path, exp)
    store = ["--store", str(tmp_path / "s.db")]
    journal_path = str(tmp_path / "j.json")
    assert main(["chaos", "run", str(path), *store, "--journal-path", journal_path,
                 "--hypothesis-strategy", "continuously",
                 "--hypothesis-frequency", "0.05"]) == 1
    capsys.readouterr()
    assert main(["chaos", "report", "1", *store, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    validate(doc, "chaos-report")
    assert doc["status"] == "deviated"
    assert doc["steady_state_before"] is True
    (fault,) = doc["faults"]
    assert (fault["type"], fault["name"]) == ("http_error", "http_error_upstream")
    assert fault["not_met_during"] >= 1
    assert main(["chaos", "report", "1", *store]) == 0
    text = capsys.readouterr().out
    assert "steady state before: met" in text
    assert "fault http_error http_error_upstream" in text
    assert main(["chaos", "report", "9", *store]) == 2


def test_report_of_a_journal_with_recovery(tmp_path: Path) -> None:
    """Time to recover: from the fault's end to the first check that met the steady state."""
    from perflab.chaos import record_journal, render_resilience, resilience  # noqa: PLC0415
    from perflab.store import Store  # noqa: PLC0415

    def probe(start: str, end: str) -> dict[str, Any]:
        return {"activity": {"type": "probe", "name": "p"}, "output": 200, "start": start,
                "end": end, "duration": 0.1, "status": "succeeded", "tolerance_met": True}

    toxic = {"name": "lat", "type": "latency", "stream": "downstream", "toxicity": 1.0,
             "attributes": {"latency": 100, "jitter": 0}}
    journal = {
        "experiment": {"title": "t", "description": "d"}, "status": "completed",
        "deviated": False, "start": "2026-01-01T00:00:00+00:00",
        "end": "2026-01-01T00:00:10+00:00",
        "steady_states": {
            "before": {"steady_state_met": True,
                       "probes": [probe("2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01+00:00")]},
            "during": [], "after": {"steady_state_met": True, "probes": [
                probe("2026-01-01T00:00:07.500000+00:00", "2026-01-01T00:00:08+00:00")]}},
        "run": [{"activity": {"type": "action", "name": "slow"}, "output": toxic,
                 "start": "2026-01-01T00:00:01+00:00", "end": "2026-01-01T00:00:02+00:00",
                 "duration": 1.0, "status": "succeeded"}],
        "rollbacks": [{"activity": {"type": "action", "name": "heal", "provider": {
            "type": "perflab", "func": "remove_toxic", "arguments": {"name": "lat"}}},
            "output": None, "start": "2026-01-01T00:00:05+00:00",
            "end": "2026-01-01T00:00:06+00:00", "duration": 1.0, "status": "succeeded"}]}
    store = Store.open(tmp_path / "s.db")
    try:
        doc = resilience(store, record_journal(store, journal))
    finally:
        store.close()
    assert doc["status"] == "ok"
    (fault,) = doc["faults"]
    assert fault["end_ns"] is not None
    assert fault["end_ns"] - fault["start_ns"] == 4_000_000_000
    assert fault["steady_state_again_after_s"] == 2.5
    assert fault["steady"] is None  # no load in this experiment
    assert fault["recovered_after_s"] is None
    assert "steady state again: 2.50 s after it ended" in render_resilience(doc)
