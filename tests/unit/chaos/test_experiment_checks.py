"""Experiment validation (exit 2 naming the field) and tolerances judged as chaostoolkit-lib."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from perflab.chaos import ExperimentInvalid, parse_vars, validate_experiment
from perflab.chaos._tolerance import jsonpath, within_tolerance
from perflab.cli import main
from perflab.errors import UsageError

MOD = "tests.unit.chaos._experiments"


def _exp(**changes: Any) -> dict[str, Any]:
    exp: dict[str, Any] = {
        "title": "t", "description": "d",
        "steady-state-hypothesis": {"title": "h", "probes": [
            {"type": "probe", "name": "p", "tolerance": 200,
             "provider": {"type": "http", "url": "http://127.0.0.1:1/"}}]},
        "method": [{"type": "action", "name": "a",
                    "provider": {"type": "python", "module": MOD, "func": "record"}},
                   {"ref": "p"}],
    }
    exp.update(changes)
    return exp


@pytest.mark.parametrize(("change", "field"), [
    ({"title": ""}, "title"),
    ({"description": None}, "description"),
    ({"method": []}, "method"),
    ({"method": [{"type": "action", "name": "a", "provider": {"type": "python",
                                                              "module": MOD}}]},
     "method[0].provider.func"),
    ({"method": [{"type": "rollback", "name": "a"}]}, "method[0].type"),
    ({"method": [{"type": "action", "name": "a", "provider": {"type": "ssh"}}]},
     "method[0].provider.type"),
    ({"method": [{"ref": "nope"}]}, "method[0].ref"),
    ({"steady-state-hypothesis": {"title": "h", "probes": [
        {"type": "probe", "name": "p", "provider": {"type": "http", "url": "u"}}]}},
     "steady-state-hypothesis.probes[0].tolerance"),
    ({"steady-state-hypothesis": {"title": "h", "probes": [
        {"type": "probe", "name": "p", "tolerance": {"type": "range", "range": [1]},
         "provider": {"type": "http", "url": "u"}}]}},
     "steady-state-hypothesis.probes[0].tolerance.range"),
    ({"rollbacks": [{"type": "action", "name": "r", "provider": {"type": "process"}}]},
     "rollbacks[0].provider.path"),
])
def test_validation_points_at_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ExperimentInvalid) as info:
        validate_experiment(_exp(**change), "exp.yaml")
    assert info.value.field == field
    assert str(info.value).startswith(f"exp.yaml: {field}: ")


def test_a_valid_experiment_passes() -> None:
    validate_experiment(_exp(), "exp.yaml")


def test_cli_validate_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad, broken = tmp_path / "g.json", tmp_path / "b.json", tmp_path / "x.yaml"
    good.write_text(json.dumps(_exp()))
    bad.write_text(json.dumps(_exp(method=[])))
    broken.write_text("title: [unclosed\n")
    assert main(["chaos", "validate", str(good)]) == 0
    assert main(["chaos", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "b.json: method: an experiment requires a method" in err
    assert "  hint: " in err
    assert main(["chaos", "validate", str(broken)]) == 2
    assert main(["chaos", "run", str(bad)]) == 2


def _never(_tolerance: dict[str, Any], _value: object) -> bool:
    raise AssertionError


@pytest.mark.parametrize(("tolerance", "value", "met"), [
    (True, True, True), (True, False, False),
    (200, 200, True), (200, {"status": 503}, False), (200, {"status": 200}, True),
    ("ok", "ok", True), ("ok", "no", False),
    ([200, 204], {"status": 204}, True), ([1, 5], 3, True), ([1, 5], 6, False),
    ([1, 2, 3], 2, True), ([1, 5], "x", False),
    ({"type": "range", "range": [0, 0.5], "target": "p99"}, {"p99": 0.2}, True),
    ({"type": "range", "range": [0, 0.5]}, "nan?", False),
    ({"type": "regex", "pattern": "^up", "target": "body"}, {"body": "up 3"}, True),
    ({"type": "regex", "pattern": "^up"}, "down", False),
    ({"type": "jsonpath", "path": "$.items[*].ready", "expect": [True, True]},
     '{"items": [{"ready": true}, {"ready": true}]}', True),
    ({"type": "jsonpath", "path": "$..ready", "count": 1}, {"a": {"ready": 1}}, True),
    ({"type": "jsonpath", "path": "$.a['b c'][0]", "expect": 7}, {"a": {"b c": [7]}}, True),
    ({"type": "jsonpath", "path": "$.missing"}, {"a": 1}, False),
])
def test_tolerances(tolerance: object, value: object, met: bool) -> None:
    assert within_tolerance(tolerance, value, _never) is met


def test_probe_tolerance_gets_the_value() -> None:
    seen: list[object] = []

    def run_probe(_tolerance: dict[str, Any], value: object) -> bool:
        seen.append(value)
        return True

    assert within_tolerance({"type": "probe", "provider": {}}, 42, run_probe)
    assert seen == [42]


def test_jsonpath_refuses_what_it_cannot_read() -> None:
    with pytest.raises(UsageError):
        jsonpath("a.b", {})
    with pytest.raises(UsageError):
        jsonpath("$.a(b)", {})


def test_vars_are_typed_and_checked() -> None:
    assert parse_vars(("a=1", "b:int=2", "c:float=0.5", "d:bool=true")) == {
        "a": "1", "b": 2, "c": 0.5, "d": True}
    for bad in ("novalue", "x:int=two", "x:list=1"):
        with pytest.raises(UsageError):
            parse_vars((bad,))
